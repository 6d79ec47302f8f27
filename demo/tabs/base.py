"""A tab of the app: an id, a title and a builder that lays out its components and wires its events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..models import ModelBank
from ..resources import Example

MODEL_GROUP = "model"


@dataclass(frozen=True)
class FramesHandles:
    """What another tab needs to open a frame in the Frames tab: the outputs of an analysis (the session's
    state first), and the inputs and outputs that redraw its attention panels."""

    analysed: list
    view: list
    overlays: list
    #: the attribution panel's listener, inputs and outputs: a tab that opens a frame draws it too
    explain: Callable | None = None
    explain_in: tuple = ()
    explain_out: tuple = ()

    @property
    def state(self):
        """The Frames tab's session state (the first of ``analysed``)."""
        return self.analysed[0]


@dataclass
class AppContext:
    """What every tab builder gets: the models, the examples, the Tabs container (to switch tabs), the
    Frames tab's handles once that tab is built (``frames``: typed, not looked up by string), how many
    model-bound events run at once (all of them together) and how long a session's state lives after its
    last update."""

    bank: ModelBank
    examples: list[Example]
    tabs: Any = None
    frames_handles: FramesHandles | None = None
    concurrency: int = 2
    session_ttl: float = 3600.0

    @property
    def model_work(self) -> dict[str, Any]:
        """Listener arguments of every event that runs a model: one concurrency group for them all, so
        the budget is global and not per endpoint (docs/design.md, "Serving many users")."""
        return {"concurrency_id": MODEL_GROUP, "concurrency_limit": self.concurrency}

    @property
    def frames(self) -> FramesHandles:
        """The Frames tab's components (set by its builder, which TABS runs first)."""
        if self.frames_handles is None:
            raise RuntimeError("the Frames tab must be built before the tabs that open a frame in it "
                               "(demo/tabs/__init__.py, TABS)")
        return self.frames_handles

    @property
    def labels(self) -> list[str]:
        return list(self.bank.main.labels)


@dataclass(frozen=True)
class Tab:
    id: str
    title: str
    build: Callable[[AppContext], None]
