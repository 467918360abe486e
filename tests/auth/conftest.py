"""Fixtures of the AUTH tests on a real socket: the wire tests' server on each event loop."""

from __future__ import annotations

from ..support.looped import fresh, looped

__all__ = ["fresh", "looped"]
