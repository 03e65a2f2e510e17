"""One structured JSON event per Django request, shipped to ELK."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
