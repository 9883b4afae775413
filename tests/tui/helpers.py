"""Building the app for tests: a deterministic QuantAIApp on a seeded FakeEngine."""

from __future__ import annotations

import logging
from pathlib import Path

from quantai_tui.settings.schema import TuiSettings
from quantai_tui.tui.app import AppOptions, QuantAIApp
from tests.tui.fake_engine import FakeEngine

SIZE = (160, 48)


def make_app(engine: FakeEngine | None = None, *, pump: int = 3000, theme: str = "quantai-dark",
             keys: dict[str, str] | None = None, config_file: Path | None = None, **options: object) -> QuantAIApp:
    engine = engine or FakeEngine(seed=7)
    if pump:
        engine.pump(pump)
    opts = AppOptions(tui=TuiSettings(theme=theme, keys=keys or {}), config_file=config_file, deterministic=True,
                      log_level=logging.INFO, **options)  # type: ignore[arg-type]
    return QuantAIApp(engine, opts)


async def settle(pilot, app: QuantAIApp) -> None:  # type: ignore[no-untyped-def]
    """Wait until the engine started, the bridge's subscribers drained and the screen is idle."""
    await app.workers.wait_for_complete()
    for _ in range(3):
        for sub in app.bridge._subs:
            await sub.drain()
        app.bridge.refresh_all()  # the fake engine shares the UI's loop: call it directly
        await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: QuantAIApp) -> str:
    """The active screen as plain text, one line per terminal row (what a user would read)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)
