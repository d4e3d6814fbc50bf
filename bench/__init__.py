"""Benchmarks of selfemployed-gateway (`make bench`); see docs/performance.md."""
