"""The sidecar's HTTP face: the control API, message API, event stream and web page (aiohttp).

The ``sidecar`` extra (``pip install '.[sidecar]'``) brings aiohttp; the pytest plugin and the
CLI without ``--api-port`` never import this package.
"""

from smtpfake.http.sidecar import ApiServer

__all__ = ["ApiServer"]
