"""Benchmarks; each measures govbus against a raw baseline in the same run."""
