"""monitor: watch Chinese government web pages, keep every version, say exactly what changed."""

__version__ = "0.1.0"
