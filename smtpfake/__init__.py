"""smtpfake: a fault-injecting SMTP test double.

Layers (each imports only the ones before it): ``scenario`` (model, fault vocabulary, loader) ->
``engine`` (sans-I/O: bytes in, actions out) -> ``wire`` (an asyncio.Protocol) ->
``journal``/``server`` -> the faces (``pytest_plugin``, ``cli``, ``http``, ``probe``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
