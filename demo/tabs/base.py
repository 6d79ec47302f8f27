"""A tab of the app: an id, a title and a builder that lays out its components and wires its events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..models import ModelBank
from ..resources import Example

MODEL_GROUP = "model"


@dataclass
class AppContext:
    """What every tab builder gets: the models, the examples, the Tabs container (to switch tabs),
    ``shared``, where a tab leaves the components that later tabs wire to (e.g. "frames.analysed"),
    how many model-bound events run at once (all of them together) and how long a session's state
    lives after its last update."""

    bank: ModelBank
    examples: list[Example]
    tabs: Any = None
    shared: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 2
    session_ttl: float = 3600.0

    @property
    def model_work(self) -> dict[str, Any]:
        """Listener arguments of every event that runs a model: one concurrency group for them all, so
        the budget is global and not per endpoint (docs/design.md, "Serving many users")."""
        return {"concurrency_id": MODEL_GROUP, "concurrency_limit": self.concurrency}

    @property
    def labels(self) -> list[str]:
        return list(self.bank.main.labels)


@dataclass(frozen=True)
class Tab:
    id: str
    title: str
    build: Callable[[AppContext], None]
