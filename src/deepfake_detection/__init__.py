"""Deepfake detection on DFDC-style data: index -> frames -> faces -> crops -> models -> stack -> submission."""

__version__ = "0.1.0"
