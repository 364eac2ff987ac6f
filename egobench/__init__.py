"""egobench: run, measure and compare personalized image editing methods."""

__version__ = "0.1.0"
