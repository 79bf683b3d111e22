"""The domain and the runtime that wires a node together."""
