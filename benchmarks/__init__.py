"""Benchmarks: speed and learning measurements of the framework (see benchmarks/README.md)."""
