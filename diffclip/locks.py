"""A readers-writer lock for a model shared by many threads (docs/design.md, "Serving many users").

Forward passes only read the model, so any number may run at once; a method that has to change the
model for the length of a call (Captum's layer hooks, a swapped module) must run alone, or other
requests would go through its hooks."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class ModelLock:
    """Many shared holders or one exclusive holder. Writers are preferred (a waiting exclusive request
    stops new shared ones from starting), so a stream of predictions cannot starve an explanation.
    Not re-entrant: code holding it must not take it again."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the lock with other shared holders (a forward pass that changes nothing)."""
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock alone (code that changes the model while it runs)."""
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
