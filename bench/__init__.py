"""Benchmarks: `make bench` runs them and prints a table (median of three runs, min–max)."""
