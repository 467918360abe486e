"""The sidecar's HTTP face: the control API, message API, event stream and web page (aiohttp).

``pip install 'smtpfake[sidecar]'`` brings aiohttp; the pytest plugin and the CLI without
``--api-port`` never import this package.
"""

from smtpfake.http.sidecar import ApiServer

__all__ = ["ApiServer"]
