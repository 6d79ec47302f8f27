"""Stopping a long explanation (issue 34, point 3). Gradio's ``cancels`` drops a running event's result but
cannot stop the Python function that computes it: the worker would stay busy until the end. So the Stop
button also writes the session on this board, and the explanation's progress callback, called after every
batch of model passes, checks it and stops the computation there, freeing the worker for the next request."""

from __future__ import annotations

import threading
import time

import gradio as gr

#: seconds a stop request waits for its computation before it is forgotten
TTL = 120.0


class Stopped(gr.Error):
    """The user stopped the computation; shown as a plain message, nothing is kept."""


class StopBoard:
    """Sessions that asked their running computation to stop (thread-safe, entries expire)."""

    def __init__(self, ttl: float = TTL) -> None:
        self._asked: dict[str, float] = {}
        self._lock = threading.Lock()
        self.ttl = ttl

    def ask(self, session: str | None) -> None:
        """The session's Stop button: its running computation stops at its next progress report."""
        if session is not None:
            with self._lock:
                now = time.monotonic()
                self._asked = {s: t for s, t in self._asked.items() if now - t < self.ttl}
                self._asked[session] = now

    def clear(self, session: str | None) -> None:
        """A new computation of the session starts: an earlier request to stop does not apply to it."""
        with self._lock:
            self._asked.pop(session, None)

    def check(self, session: str | None) -> None:
        """Raise :class:`Stopped` if the session asked to stop (and forget the request)."""
        with self._lock:
            asked = self._asked.pop(session, None) if session is not None else None
        if asked is not None and time.monotonic() - asked < self.ttl:
            raise Stopped("Stopped: the explanation was cancelled before it finished; nothing was kept. "
                          "Choose a method or press Explain to start again.", print_exception=False)


BOARD = StopBoard()
