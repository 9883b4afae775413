"""Every path the program uses, in one place. Computing a path never touches the disk;
`ensure_dirs()` creates what a command is about to write.

Default profile:  <config dir>/config.toml, <data dir>/events.sqlite, <data dir>/recordings/ ...
Profile NAME:     <config dir>/profiles/NAME/config.toml, <data dir>/profiles/NAME/...

The base directories come from platformdirs (XDG on Linux: ~/.config/quantai,
~/.local/share/quantai, ~/.cache/quantai, ~/.local/state/quantai/log). QUANTAI_HOME puts all
of them under one directory instead (handy for tests and portable installs).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from quantai_tui.core.errors import ConfigError

APP = "quantai"
DEFAULT_PROFILE = "default"
_PROFILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def check_profile(name: str) -> str:
    if not _PROFILE_RE.match(name):
        raise ConfigError(f"profile name must be letters, digits, '-' or '_' (max 40), got {name!r}")
    return name


@dataclass(frozen=True)
class Paths:
    profile: str = DEFAULT_PROFILE

    def __post_init__(self) -> None:
        check_profile(self.profile)

    # --- base directories (shared by all profiles) ------------------------------------------
    @cached_property
    def _home(self) -> Path | None:
        h = os.environ.get("QUANTAI_HOME")
        return Path(h).expanduser() if h else None

    @cached_property
    def config_root(self) -> Path:
        if self._home:
            return self._home / "config"
        import platformdirs

        return Path(platformdirs.user_config_dir(APP, appauthor=False))

    @cached_property
    def data_root(self) -> Path:
        if self._home:
            return self._home / "data"
        import platformdirs

        return Path(platformdirs.user_data_dir(APP, appauthor=False))

    @cached_property
    def cache_dir(self) -> Path:
        """Shared across profiles: venue market lists and the like."""
        if self._home:
            return self._home / "cache"
        import platformdirs

        return Path(platformdirs.user_cache_dir(APP, appauthor=False))

    @cached_property
    def log_root(self) -> Path:
        if self._home:
            return self._home / "log"
        import platformdirs

        return Path(platformdirs.user_log_dir(APP, appauthor=False))

    def _scoped(self, root: Path) -> Path:
        return root if self.profile == DEFAULT_PROFILE else root / "profiles" / self.profile

    # --- per profile ------------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return self._scoped(self.config_root)

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def data_dir(self) -> Path:
        return self._scoped(self.data_root)

    @property
    def store_file(self) -> Path:
        """The SQLite event store."""
        return self.data_dir / "events.sqlite"

    @property
    def recordings_dir(self) -> Path:
        """Parquet market data recorded by `quantai record` (and found by the catalog)."""
        return self.data_dir / "recordings"

    @property
    def catalog_dir(self) -> Path:
        """Imported and downloaded market data."""
        return self.data_dir / "catalog"

    @property
    def kb_dir(self) -> Path:
        """The knowledge base (chromadb)."""
        return self.data_dir / "kb"

    @property
    def chat_history_file(self) -> Path:
        return self.data_dir / "chat_history.jsonl"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def run_dir(self) -> Path:
        """Pid file and control socket of a running engine (`quantai kill` finds it here)."""
        return self.data_dir / "run"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "engine.pid"

    @property
    def control_socket(self) -> Path:
        return self.run_dir / "control.sock"

    @property
    def log_dir(self) -> Path:
        return self._scoped(self.log_root)

    @property
    def log_file(self) -> Path:
        return self.log_dir / "quantai.log"

    @property
    def markets_cache_dir(self) -> Path:
        return self.cache_dir / "markets"

    def ensure_dirs(self, *dirs: Path) -> None:
        for d in dirs or (self.config_dir, self.data_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)

    def as_dict(self) -> dict[str, str]:
        return {
            "profile": self.profile,
            "config_file": str(self.config_file),
            "data_dir": str(self.data_dir),
            "store_file": str(self.store_file),
            "recordings_dir": str(self.recordings_dir),
            "catalog_dir": str(self.catalog_dir),
            "kb_dir": str(self.kb_dir),
            "cache_dir": str(self.cache_dir),
            "log_file": str(self.log_file),
        }
