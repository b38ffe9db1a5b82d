"""Refusals of the control plane: a real HTTP status, since no ArcGIS client reads them."""

from __future__ import annotations


class ControlError(Exception):
    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
