"""Conformance entries, one module per loss family; each registers its specs on import."""
