"""Quantization: float models to exact integer models."""
