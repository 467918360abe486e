"""smtpfake: a fault-injecting SMTP test double.

Layers (each imports only the ones before it): ``scenario`` (model, fault vocabulary, loader) ->
``engine`` (sans-I/O SMTP sessions) -> ``wire`` (the aiosmtpd adapter) -> ``journal``/``server`` ->
the faces (``pytest_plugin``, ``cli``, ``http``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
