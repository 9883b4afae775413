"""The kill-switch banner: the whole main screen turns to it while trading is halted."""

from __future__ import annotations

from textual.widgets import Static


class KillBanner(Static):
    DEFAULT_CSS = """
    KillBanner {
        display: none; height: 3; width: 100%;
        background: $error; color: $background; text-style: bold;
        content-align: center middle; text-align: center;
    }
    KillBanner.-engaged { display: block; }
    """

    def engage(self, reason: str, source: str, release_key: str) -> None:
        self.update(
            f"■■■  KILL SWITCH ENGAGED  ■■■\n"
            f"all orders canceled · new orders refused · by {source}: {reason} · {release_key} to release"
        )
        self.add_class("-engaged")

    def release(self) -> None:
        self.remove_class("-engaged")
