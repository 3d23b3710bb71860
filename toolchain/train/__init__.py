"""Offline training (runs on the host / base station)."""
