"""Encoders and task heads."""
