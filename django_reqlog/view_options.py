"""Per-view control: ``@django_reqlog.skip`` and ``@django_reqlog.options(...)``.

Both decorators mark what they decorate with a ``ViewOptions`` in its
``reqlog_options`` attribute and return it unchanged: a sync view stays sync,
an async view async, and Django's and DRF's own view attributes are left as
they are. They can mark

- a function view (sync or async), or the function ``as_view()`` returned;
- a class-based view or a DRF view or viewset class (``as_view()`` keeps a
  reference to the class: ``view_class``, or DRF's ``cls``);
- a handler method (``get``, ``post``, a DRF ``@action``), directly or
  through ``method_decorator``; ``method_decorator(..., name="dispatch")``
  marks the whole view, because ``as_view()`` copies ``dispatch``'s
  attributes onto the view function.

``options_for()`` reads the marks of a resolved view for one HTTP method,
the class's first, then the view function's, then the handler's, each
overriding what the one before set. The middleware asks it in
``process_view``, with the view Django resolved for the request (the
``request.resolver_match.func`` the view is then called through), so the
decision is made before the view reads the body and no URL is resolved twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django_reqlog import setting_specs
from django_reqlog.masking import normalise_key
from django_reqlog.setting_specs import Spec

__all__ = ["ATTRIBUTE", "ViewOptions", "options", "options_for", "skip"]

ATTRIBUTE = "reqlog_options"
V = TypeVar("V")


@dataclass(frozen=True)
class ViewOptions:
    """What a view changes about its own requests' events; None keeps the setting."""

    skip: bool = False
    capture_request_body: bool | None = None
    capture_response_body: bool | None = None
    sample_rate: float | None = None
    # Added to REQLOG_SENSITIVE_FIELDS for this view's events (normalised names).
    sensitive_fields: tuple[str, ...] = ()

    def over(self, base: ViewOptions) -> ViewOptions:
        """These options on top of ``base``: what this one sets wins."""
        return ViewOptions(
            skip=self.skip or base.skip,
            capture_request_body=_first(self.capture_request_body, base.capture_request_body),
            capture_response_body=_first(self.capture_response_body, base.capture_response_body),
            sample_rate=_first(self.sample_rate, base.sample_rate),
            sensitive_fields=tuple(dict.fromkeys(base.sensitive_fields + self.sensitive_fields)),
        )


def _first(value: Any, otherwise: Any) -> Any:
    return otherwise if value is None else value


def skip(view: V) -> V:
    """No event for this view: its responses are left exactly as the
    application made them (no request-ID header either), as for a path in
    ``REQLOG_SKIP_PATHS``."""
    return _mark(view, ViewOptions(skip=True), "skip")


def options(
    *,
    capture_request_body: bool | None = None,
    capture_response_body: bool | None = None,
    sample_rate: float | None = None,
    sensitive_fields: list[str] | tuple[str, ...] | None = None,
) -> Callable[[V], V]:
    """Override settings for this view's requests alone.

    Each argument is checked like its ``REQLOG_*`` setting; a wrong type
    raises ``TypeError`` and a value out of range ``ValueError``, when the
    decorator is applied. ``sensitive_fields`` adds key names to
    ``REQLOG_SENSITIVE_FIELDS`` for this view's events.
    """
    chosen = ViewOptions(
        capture_request_body=_checked(
            setting_specs.CAPTURE_REQUEST_BODY, "capture_request_body", capture_request_body, bool
        ),
        capture_response_body=_checked(
            setting_specs.CAPTURE_RESPONSE_BODY,
            "capture_response_body",
            capture_response_body,
            bool,
        ),
        sample_rate=_checked(setting_specs.SAMPLE_RATE, "sample_rate", sample_rate, (int, float)),
        sensitive_fields=_names(sensitive_fields),
    )

    def decorate(view: V) -> V:
        return _mark(view, chosen, "options(...)")

    return decorate


def _checked(spec: Spec[Any], argument: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value`` validated by ``spec``'s own validator, or the error it deserves."""
    if value is None:
        return None
    named = dataclasses.replace(spec, name=f"django_reqlog.options({argument}=...)")
    checked = named.validate(value)
    if not checked.problems:
        return checked.value
    message = checked.problems[0].message.split("; using ", 1)[0] + "."
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise TypeError(message)
    raise ValueError(message)


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    argument = "django_reqlog.options(sensitive_fields=...)"
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{argument} must be a list of strings, not {value!r}.")
    checked = dataclasses.replace(setting_specs.SENSITIVE_FIELDS, name=argument).validate(value)
    names = tuple(normalise_key(name) for name in checked.value)
    if not all(names):
        raise ValueError(f"{argument} needs letters or digits in each name, not {value!r}.")
    return names


def _mark(view: V, chosen: ViewOptions, decorator: str) -> V:
    if not callable(view):
        raise TypeError(f"django_reqlog.{decorator} decorates a view, not {view!r}.")
    # Only the object's own mark is combined: a subclass of a marked class
    # starts from its parent's mark through options_for(), not from a copy.
    own = getattr(view, "__dict__", {}).get(ATTRIBUTE)
    setattr(view, ATTRIBUTE, chosen.over(own) if isinstance(own, ViewOptions) else chosen)
    return view


def options_for(view: Any, method: str) -> ViewOptions | None:
    """The options of a resolved view for requests with ``method``, or None
    when nothing about it is marked."""
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    layers = []
    if isinstance(view_class, type):
        layers.append(getattr(view_class, ATTRIBUTE, None))
    layers.append(getattr(view, ATTRIBUTE, None))
    if isinstance(view_class, type):
        layers.append(getattr(_handler(view, view_class, method.lower()), ATTRIBUTE, None))
    found: ViewOptions | None = None
    for layer in layers:
        if isinstance(layer, ViewOptions):
            found = layer if found is None else layer.over(found)
    return found


def _handler(view: Any, view_class: type, method: str) -> Any:
    """The class attribute that handles ``method``: a DRF viewset maps methods
    to actions (``view.actions``), other views name the method itself; HEAD
    falls back to GET as both do."""
    actions = getattr(view, "actions", None)
    if isinstance(actions, dict):
        name = actions.get(method) or (actions.get("get") if method == "head" else None)
    else:
        name = method if hasattr(view_class, method) or method != "head" else "get"
    return getattr(view_class, name, None) if isinstance(name, str) else None
