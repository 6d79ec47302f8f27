"""A tab of the app: an id, a title and a builder that lays out its components and wires its events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..models import ModelBank
from ..resources import Example


@dataclass
class AppContext:
    """What every tab builder gets: the models, the examples, the Tabs container (to switch tabs) and
    ``shared``, where a tab leaves the components that later tabs wire to (e.g. "frames.analysed")."""

    bank: ModelBank
    examples: list[Example]
    tabs: Any = None
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(self.bank.main.labels)


@dataclass(frozen=True)
class Tab:
    id: str
    title: str
    build: Callable[[AppContext], None]
