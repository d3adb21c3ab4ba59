"""Benchmarks (`make bench` runs every `bench/[a-z]*.py`); helpers start with an underscore."""
