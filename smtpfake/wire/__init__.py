"""The wire layer: aiosmtpd carries bytes; the engine decides."""

from smtpfake.wire.adapter import EngineSMTP, Hub

__all__ = ["EngineSMTP", "Hub"]
