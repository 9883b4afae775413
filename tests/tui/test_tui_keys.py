"""Pilot tests for every binding of the main screen and the app."""

from __future__ import annotations

from helpers import SIZE, make_app, settle

from quantai_tui.core.commands import EngageKillSwitch
from quantai_tui.tui.widgets.kill_banner import KillBanner


async def test_kill_switch_engages_at_once() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert any(isinstance(c, EngageKillSwitch) for c in app.engine.commands)
        banner = app.screen.query_one(KillBanner)
        assert banner.has_class("-engaged")
        assert "KILL SWITCH ENGAGED" in str(banner.render())
