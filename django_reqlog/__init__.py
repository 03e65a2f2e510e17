"""One structured JSON event per Django request, shipped to ELK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_reqlog.labels import bind
    from django_reqlog.view_options import options, skip

__version__ = "0.1.0"
__all__ = ["__version__", "bind", "options", "skip"]

# Imported on first use, so that importing the package (as the pytest
# plugin's entry point does) loads neither Django's settings machinery nor
# the compiled core.
_LAZY = {"bind": "django_reqlog.labels", "options": "django_reqlog.view_options"}
_LAZY["skip"] = _LAZY["options"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'django_reqlog' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
