"""Backends: C generation, cross builds, emulator drivers."""
