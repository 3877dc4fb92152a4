"""Errors shared between stages."""

from __future__ import annotations


class VigilError(Exception):
    """Base of Vigil's own errors."""


class SinkUnavailable(VigilError):
    """The store cannot take writes right now (down, timing out, 5xx); retry later."""


class SinkRejected(VigilError):
    """The store refused the data itself (4xx); retrying the same data will not help."""

    def __init__(self, message: str, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body
