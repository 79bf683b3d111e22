"""Blueprints, one module an area."""
