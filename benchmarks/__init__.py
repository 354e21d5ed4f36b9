"""Benchmarks: speed and learning measurements of the framework (see docs/benchmarks.md)."""
