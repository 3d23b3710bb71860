"""Codecs: the error-bounded AE codec (integer reference) and its baselines."""
