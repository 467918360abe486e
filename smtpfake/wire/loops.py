"""The event loop the server runs on: asyncio's own, or uvloop (libuv) when installed.

``auto`` (the default everywhere) takes uvloop if it can be imported (``pip install
'smtpfake[uvloop]'``), else asyncio's loop; ``asyncio`` and ``uvloop`` force one. The wire uses
only the public loop and transport API, so both behave the same; uvloop is faster.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.util
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHOICES = ("auto", "asyncio", "uvloop")
#: the advice where uvloop is installed but fails to import
REINSTALL = "pip install --force-reinstall uvloop"


def uvloop_problem() -> str:
    """Why uvloop cannot run the server ("" when it can): not installed, or installed but failing
    to import (a build for another Python, a broken install), when ``auto`` takes asyncio's loop
    and ``uvloop`` cannot be had. Imports uvloop to know: its spec alone does not tell."""
    if importlib.util.find_spec("uvloop") is None:
        return "uvloop is not installed: pip install 'smtpfake[uvloop]'"
    try:
        importlib.import_module("uvloop")
    except ImportError as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0]
        return f"uvloop is installed but fails to import ({why}): {REINSTALL}"
    return ""


def new_event_loop(choice: str = "auto") -> asyncio.AbstractEventLoop:
    """A new loop of the chosen kind. Raises ValueError for an unknown choice and RuntimeError
    for ``uvloop`` when it is not installed or fails to import (:func:`uvloop_problem`)."""
    if choice not in CHOICES:
        raise ValueError(f"loop must be one of {', '.join(CHOICES)}; got {choice!r}")
    if choice == "asyncio":
        return asyncio.new_event_loop()
    try:
        uvloop: Any = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise RuntimeError(f"the uvloop loop cannot be had: {uvloop_problem()}") from None
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: what a loop is, for the startup line."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """asyncio.run() on the chosen loop (asyncio.Runner's loop_factory is 3.12+)."""
    loop = new_event_loop(choice)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


class LoopThread:
    """``loop`` run in a daemon thread named ``name``, around one service: start() runs
    ``opening()`` there and returns once it is done; the loop then runs until stop(), which runs
    ``closing()`` and the loop's async generators before the thread ends. The in-process face of
    Server.start() and the sidecar's ApiServer.start(), for callers that are not async (tests,
    embedding code)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        name: str,
        opening: Callable[[], Coroutine[Any, Any, None]],
        closing: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        self.loop = loop
        self._opening, self._closing = opening, closing
        self._opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._opening())
        except BaseException as exc:  # raised again in start()'s caller, not dropped
            self._opened.set_exception(exc)
            loop.close()
            return
        self._opened.set_result(None)
        loop.run_forever()
        loop.run_until_complete(self._closing())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def start(self, timeout: float = 10.0) -> None:
        """Start the thread and wait for ``opening()``: raises what it raised (the thread has
        then ended), or TimeoutError after ``timeout`` seconds."""
        self.thread.start()
        try:
            self._opened.result(timeout=timeout)
        except BaseException:
            self.thread.join(timeout=1.0)
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop, and wait up to ``timeout`` seconds for ``closing()`` and the thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
