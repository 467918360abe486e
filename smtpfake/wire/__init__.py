"""The wire layer: an asyncio protocol carries bytes to the engine and its actions out."""

from smtpfake.wire.protocol import Hub, Wire

__all__ = ["Hub", "Wire"]
