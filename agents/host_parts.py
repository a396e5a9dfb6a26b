"""What the host's mixins (capture, longer work, reads for views) use of the host, declared
once for the type checker; Host (agents.host) defines each of them."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.team import MemoryTeam
from core.ownership import BackgroundOwner
from core.settings import Settings


class HostParts:
    data_dir: Path
    engine: Any
    owner: BackgroundOwner

    if TYPE_CHECKING:

        @property
        def store(self) -> Any: ...
        @property
        def settings(self) -> Settings: ...
        @property
        def team(self) -> MemoryTeam: ...
        @property
        def chat_model(self) -> Any: ...
        def progress(self, what: str, done: int, total: int) -> None: ...
        def alert(self, text: str, detail: str = "") -> None: ...
