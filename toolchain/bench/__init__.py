"""Benchmarks: rate-distortion tables, device measurements, energy."""
