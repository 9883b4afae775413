"""Themes are data: TOML files loaded into textual.theme.Theme.

Searched in order (a later file with the same name wins): the `themes/` folder shipped at the
repo root, then `<config dir>/themes/` for the user's own. A broken file is skipped with a
warning, never a crash: the app falls back to the default theme.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from textual.theme import Theme

log = logging.getLogger("quantai.tui")

DEFAULT_THEME = "quantai-dark"
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "themes"
_FIELDS = {f.name for f in fields(Theme)}

# Used only when no theme files can be found (e.g. an install without the themes/ folder).
_FALLBACK = Theme(
    name=DEFAULT_THEME, primary="#3B82F6", secondary="#8B5CF6", accent="#F59E0B", warning="#F59E0B",
    error="#EF4444", success="#22C55E", foreground="#E5E7EB", background="#0B0F17", surface="#111827",
    panel="#1F2937", dark=True,
)


def theme_from_data(data: dict[str, Any], source: str = "") -> Theme:
    unknown = set(data) - _FIELDS
    if unknown:
        raise ValueError(f"{source}: unknown theme keys {sorted(unknown)}")
    if "name" not in data or "primary" not in data:
        raise ValueError(f"{source}: a theme needs at least name and primary")
    variables = {str(k): str(v) for k, v in (data.get("variables") or {}).items()}
    return Theme(**{**data, "variables": variables})


def load_theme_file(path: Path) -> Theme:
    with open(path, "rb") as f:
        return theme_from_data(tomllib.load(f), str(path))


def load_themes(*dirs: Path | None) -> dict[str, Theme]:
    """All themes in BUILTIN_DIR and `dirs`, by name."""
    out: dict[str, Theme] = {}
    for d in (BUILTIN_DIR, *dirs):
        if d is None or not d.is_dir():
            continue
        for path in sorted(d.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except (OSError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
                log.warning("theme %s skipped: %s", path, exc)
                continue
            out[theme.name] = theme
    if DEFAULT_THEME not in out:
        out[DEFAULT_THEME] = _FALLBACK
    return out
