"""What the worker needs from a sink, and the per-batch answer it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .spool import Item


@dataclass
class SendResult:
    """Outcome of one send, by index into the batch.

    Indices in neither list were delivered (a 409 on create counts as
    delivered: the document is already stored).
    """

    retry: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


class Transport(Protocol):
    """A sink connection, used from the worker thread only.

    ``send`` raises (any exception) when the whole batch should be retried,
    e.g. the connection was refused or timed out.
    """

    target: str

    def send(self, items: list[Item], timeout: float) -> SendResult: ...

    def close(self) -> None: ...
