"""The QuantAI Textual app: themes, keys, screens and the bridge to the engine.

Every action here is a request to the engine through the bridge; the app holds no trading
state of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App
from textual.message import Message
from textual.screen import ModalScreen

from quantai_tui.core.errors import QuantAIError, with_cause
from quantai_tui.core.events import RESTATES_EVENT
from quantai_tui.settings.schema import TuiSettings
from quantai_tui.tui import themes as theme_data
from quantai_tui.tui.backtest_service import BacktestService
from quantai_tui.tui.bridge import Bridge, EngineFacade
from quantai_tui.tui.commands import PROVIDERS
from quantai_tui.tui.formatting import short_id
from quantai_tui.tui.keys import SPECS_BY_ID, display_key, effective_keys, textual_bindings, unknown_ids
from quantai_tui.tui.screens.confirm import ConfirmScreen
from quantai_tui.tui.screens.help import HelpScreen
from quantai_tui.tui.screens.main import MainScreen
from quantai_tui.tui.widgets.chart import PriceChart
from quantai_tui.tui.widgets.log_pane import LogPane
from quantai_tui.tui.widgets.panes import TradingPanes
from quantai_tui.tui.widgets.tables import OrdersTable

log = logging.getLogger("quantai.tui")
KILL_DEDUP_S = 1.0  # the intercepted key and its binding are one press, not two
KILL_HOLD_S = 0.5  # the longest the screen waits for the engine's answer to the kill key

if TYPE_CHECKING:
    from quantai_tui.tui.ai_service import AIService

EngineFactory = Callable[[str, list[str]], EngineFacade]  # (exchange, symbols) -> engine
Assistant = Callable[[str, Callable[[str, str], None]], Awaitable[None]]  # (prompt, say) -> done


class PauseDrawing(Message):
    """From the input thread: the kill key was sent to the engine; stop drawing for a moment."""


@dataclass
class LiveInfo:
    """What the live confirmation screen names before the engine may start."""

    venue: str
    account: str
    symbols: list[str]
    key_source: str


@dataclass
class AppOptions:
    tui: TuiSettings = field(default_factory=TuiSettings)
    config_file: Path | None = None  # where the theme choice is saved; None: not saved
    user_themes_dir: Path | None = None
    live: LiveInfo | None = None  # set in live mode: confirm before starting
    deterministic: bool = False  # tests: no clock text, no blink, no flash
    log_level: int = logging.INFO
    engine_factory: EngineFactory | None = None
    replay_factory: Callable[[Any], EngineFacade] | None = None  # ReplayRequest -> engine
    replay_choices: Callable[[], list[str]] | None = None  # what the replay screen offers
    backtest: BacktestService | None = None
    backtest_capital: Decimal = Decimal("10000")
    assistant: Assistant | None = None
    ai: AIService | None = None  # the model and knowledge base (tui/ai_service.py)
    start_engine: bool = True


def tolerate_bad_input_bytes() -> None:
    """Bytes that are not UTF-8 on the terminal's input (a Latin-1 terminal's "é", a paste of
    binary) must not end the app: Textual's Linux input thread decodes strictly, and one such
    byte raised UnicodeDecodeError there and quit. Its decoder is made to replace them (they
    arrive as U+FFFD, which is only a character typed)."""
    import codecs
    import functools

    try:
        from textual.drivers import linux_driver
    except ImportError:  # not a POSIX terminal (Windows): another driver reads the keys
        return
    if getattr(linux_driver, "_quantai_tolerant", False):
        return

    def getincrementaldecoder(encoding: str) -> Any:
        return functools.partial(codecs.getincrementaldecoder(encoding), errors="replace")

    linux_driver.getincrementaldecoder = getincrementaldecoder  # type: ignore[attr-defined]
    linux_driver._quantai_tolerant = True  # type: ignore[attr-defined]


class QuantAIApp(App[int]):
    TITLE = "QuantAI"
    BINDINGS = textual_bindings("app")
    COMMANDS = App.COMMANDS | set(PROVIDERS)

    def __init__(self, engine: EngineFacade, options: AppOptions | None = None) -> None:
        super().__init__()
        tolerate_bad_input_bytes()
        self.options = options or AppOptions()
        self.engine = engine
        self.bridge = self._make_bridge(engine)
        self.main_screen: MainScreen | None = None
        self.quantai_themes: list[str] = []
        self.keymap = effective_keys(self.options.tui.keys)
        self.engine_ready = False
        self._kill_sent_at = float("-inf")
        self._drawing_paused = False
        if self.options.deterministic:
            self.animation_level = "none"

    # --- plumbing -----------------------------------------------------------------------------
    def _make_bridge(self, engine: EngineFacade) -> Bridge:
        frozen = self.options.deterministic  # snapshots must not depend on how long a test took
        return Bridge(engine, self._post, max_fps=self.options.tui.max_fps,
                      **({"monotonic": lambda: 0.0} if frozen else {}))

    @property
    def backtest_service(self) -> BacktestService:
        if self.options.backtest is None:
            self.options.backtest = BacktestService()
        return self.options.backtest

    def _post(self, message: Message) -> None:
        """Bridge messages go to the panes; what they do not handle bubbles to the screen."""
        screen = self.main_screen
        if screen is None or not screen.is_mounted:
            return
        try:
            screen.panes.post_message(message)
        except Exception:  # the panes are being rebuilt (exchange switch) or torn down
            pass

    @property
    def chat_greeting(self) -> str:
        if self.options.assistant is not None or (self.options.ai is not None and self.options.ai.configured):
            return "Ask about markets, strategies or backtests. /help lists the slash commands."
        return ("No AI model configured: slash commands work (/help). "
                "Type anything else to see how to set one up.")

    def key_display(self, binding_id: str) -> str:
        return display_key(self.keymap.get(binding_id, SPECS_BY_ID[binding_id].key))

    @property
    def panes(self) -> TradingPanes:
        assert self.main_screen is not None
        return self.main_screen.panes

    def note(self, text: str, level: int = logging.INFO) -> None:
        if self.main_screen is not None and self.main_screen.is_mounted:
            self.panes.note(text, level)

    # --- start ------------------------------------------------------------------------------
    async def on_mount(self) -> None:
        themes = theme_data.load_themes(self.options.user_themes_dir)
        for theme in themes.values():
            self.register_theme(theme)
        self.quantai_themes = sorted(themes)
        wanted = self.options.tui.theme
        self.theme = wanted if wanted in self.available_themes else theme_data.DEFAULT_THEME
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.set_keymap(self.options.tui.keys)
        self._install_kill_intercept()
        self.main_screen = MainScreen(self.bridge, deterministic=self.options.deterministic,
                                      log_level=self.options.log_level)
        await self.push_screen(self.main_screen)  # mounted before any engine event arrives
        if self.options.ai is not None:
            from quantai_tui.tui.widgets.chat_ai import restore_history

            restore_history(self)
        for bad in unknown_ids(self.options.tui.keys):
            self.note(f"config: [tui.keys] has no binding {bad!r} (see ? for the ids)", logging.WARNING)
        if wanted != self.theme:
            self.note(f"theme {wanted!r} not found; using {self.theme}", logging.WARNING)
        if self.options.live is not None:
            from quantai_tui.tui.screens.live_confirm import LiveConfirmScreen

            info = self.options.live
            self.push_screen(LiveConfirmScreen(info.venue, info.account, info.symbols, info.key_source),
                             self._live_answer)
        else:
            self._start_engine()

    def _live_answer(self, go: bool | None) -> None:
        if go:
            self._start_engine()
        else:
            self.exit(1, message="live trading not confirmed: nothing was started")

    @work(exclusive=True, group="engine", name="engine-start")
    async def _start_engine(self) -> None:
        self.bridge.install_log_handler(self.options.log_level)
        try:
            await self.bridge.start(start_engine=self.options.start_engine)
        except Exception as exc:  # the screen stays up and says why: a traceback would hide it
            why = str(exc) if isinstance(exc, QuantAIError) else f"{type(exc).__name__}: {with_cause(exc)}"
            log.error("engine failed to start: %s", why, extra=RESTATES_EVENT,  # for the log file
                      exc_info=not isinstance(exc, QuantAIError))
            self.note(f"engine failed to start: {why}", logging.ERROR)
            self.notify(why, title="engine failed to start", severity="error", timeout=30)
            return
        self.engine_ready = True
        if self.engine.kill_switch_engaged() and self.main_screen is not None:
            self.main_screen.show_kill(True, "engaged before start", "store")

    async def stop_engine(self) -> None:
        try:
            await self.bridge.stop()
        except Exception:
            log.exception("engine stop failed")

    async def on_unmount(self) -> None:
        """The app is closing, however it was asked to (q, a refused live start, ctrl+c): the AI
        service's model client closes its HTTP connections on this loop, where the chat opened them
        (the engine has its own loop and thread; the assistant lives on the UI's)."""
        if self.options.ai is not None:
            try:
                await self.options.ai.aclose()
            except Exception:
                log.warning("closing the AI service failed", exc_info=True)

    # --- themes -----------------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        if name not in self.available_themes:
            self.notify(f"no theme {name!r}", severity="warning")
            return
        self.theme = name

    def _theme_changed(self, _theme: Any) -> None:
        if self.bridge is not None and self.engine_ready:
            self.bridge.request_refresh()  # cells drawn with the old theme's colours
        self._save_theme(self.theme)

    @work(thread=True, exclusive=True, group="config", name="save-theme")
    def _save_theme(self, name: str) -> None:
        path = self.options.config_file
        if path is None:
            return
        from quantai_tui.settings.loader import update_config_value

        try:
            update_config_value(path, "tui.theme", name)
        except (QuantAIError, OSError) as exc:
            log.warning("could not save the theme to %s: %s", path, exc)

    # --- app-wide actions -----------------------------------------------------------------------
    # --- the kill key: taken from the input thread straight to the engine -------------------
    def _install_kill_intercept(self) -> None:
        """The kill key goes from the terminal's input thread to the engine's loop, not through
        the UI's queue: a screen in the middle of a relayout cannot delay it. The key still
        reaches the UI afterwards, which then only shows what happened."""
        driver = self._driver
        if driver is None:
            return
        keys = {k.strip() for k in self.keymap["kill_switch"].split(",")}
        forward = driver.process_message

        def process_message(message: Message) -> None:
            if isinstance(message, events.Key) and message.key in keys:
                self.kill_from_input()
            forward(message)

        driver.process_message = process_message  # type: ignore[method-assign]

    def kill_from_input(self) -> None:
        """Called on the input thread (or any thread): engage now, if the engine is up."""
        if not self.engine_ready or self._kill_sent_at > time.monotonic() - KILL_DEDUP_S:
            return
        self._kill_sent_at = time.monotonic()
        self.bridge.engage_threadsafe(reason=f"{self.key_display('kill_switch')} pressed", source="tui")
        self.post_message(PauseDrawing())  # thread-safe; queued ahead of the key itself

    def on_pause_drawing(self, _msg: PauseDrawing) -> None:
        self.pause_drawing()

    def pause_drawing(self) -> None:
        """No screen updates until the engine has answered the kill (at most KILL_HOLD_S): the
        interpreter is shared, and a relayout would take the engine's turns while it sweeps."""
        if not self._drawing_paused:
            self._drawing_paused = True
            self._begin_batch()
            self.set_timer(KILL_HOLD_S, self.resume_drawing)

    def resume_drawing(self) -> None:
        if self._drawing_paused:
            self._drawing_paused = False
            self._end_batch()

    async def action_kill_switch(self) -> None:
        """Engage at once, no question asked; the whole screen says so."""
        for screen in list(self.screen_stack):
            if isinstance(screen, ModalScreen) and screen is self.screen:
                screen.dismiss(None)
        if self._kill_sent_at > time.monotonic() - KILL_DEDUP_S:
            return  # the input thread already sent it; the banner comes with the engine's answer
        self._kill_sent_at = time.monotonic()
        try:
            await self.bridge.engage_kill_switch(reason=f"{self.key_display('kill_switch')} pressed", source="tui")
        except Exception as exc:  # never silent: this is the one action that must work
            log.exception("kill switch failed")
            self.notify(f"KILL SWITCH FAILED: {exc}", severity="error", timeout=60)
            return
        if self.main_screen is not None:
            self.main_screen.show_kill(True, "kill key", "tui")
            self.note("kill switch engaged from the keyboard", logging.CRITICAL)

    def action_release_kill_switch(self) -> None:
        if not self.engine.kill_switch_engaged():
            self.notify("the kill switch is not engaged")
            return

        async def answer(yes: bool | None) -> None:
            if yes:
                try:
                    await self.bridge.release_kill_switch()
                except QuantAIError as exc:
                    self.notify(str(exc), severity="error")
                    return
                if self.main_screen is not None:
                    self.main_screen.show_kill(False)
                self.note("kill switch released", logging.WARNING)

        self.push_screen(ConfirmScreen(
            "Release the kill switch?",
            f"Trading on {self.engine.venue} ({self.engine.mode.value.upper()}) resumes: strategies and "
            "the keys may place orders again.", yes="Release", danger=True), answer)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    async def action_quit(self) -> None:
        await self.action_quit_app()

    async def action_quit_app(self) -> None:
        open_orders = self.bridge.open_orders() if self.engine_ready else []

        async def answer(yes: bool | None) -> None:
            if yes:
                await self.stop_engine()
                self.exit(0)

        if not open_orders:
            await answer(True)
            return
        where = "stay open on the exchange" if self.engine.venue != "sim" else "are dropped with the sim venue"
        self.push_screen(ConfirmScreen(
            f"{len(open_orders)} open order(s) on {self.engine.venue}",
            f"Quit anyway? The orders {where}. Cancel them first with C (cancel all).",
            yes="Quit", danger=True), answer)

    # --- main-screen actions (bound on MainScreen as app.*; the palette calls them too) ---------
    def action_order_ticket(self, side: str) -> None:
        from quantai_tui.tui.screens.order_ticket import OrderTicket

        if not self.engine_ready:
            self.notify("the engine is still starting")
            return
        ticket = OrderTicket(self.bridge, side, self.bridge.active_symbol, blink=not self.options.deterministic)

        def done(coid: str | None) -> None:
            if coid:
                self.note(f"order sent from the ticket ({side})")

        self.push_screen(ticket, done)

    async def action_cancel_selected(self) -> None:
        coid = self.panes.query_one(OrdersTable).selected_order_id
        order = next((o for o in self.bridge.orders() if o.client_order_id == coid), None)
        if order is None or not order.is_open:
            self.notify("select an open order in the Orders pane first (o focuses it)")
            return
        await self._run_command(self.bridge.cancel(order.client_order_id), f"cancel #{short_id(order.client_order_id)}")

    async def action_cancel_all(self) -> None:
        await self._run_command(self.bridge.cancel_all(), "cancel all open orders")

    async def _run_command(self, coro: Awaitable[Any], what: str) -> None:
        self.note(what)
        try:
            await coro
        except QuantAIError as exc:
            self.note(f"{what}: {exc}", logging.WARNING)
            self.notify(str(exc), severity="warning")

    def action_focus_chat(self) -> None:
        self.panes.open_chat(True)
        self.panes.query_one("#chat-input").focus()

    def action_focus_orders(self) -> None:
        self.panes.query_one(OrdersTable).focus()

    def action_next_symbol(self) -> None:
        symbols = list(self.engine.symbols)
        if symbols:
            i = symbols.index(self.bridge.active_symbol) if self.bridge.active_symbol in symbols else -1
            self.switch_symbol(symbols[(i + 1) % len(symbols)])

    def switch_symbol(self, symbol: str) -> None:
        self.bridge.set_active_symbol(symbol)
        self.panes.set_chart_title()
        self.panes.set_book_title()

    def action_chart_style(self) -> None:
        self.panes.query_one(PriceChart).toggle_style()
        self.panes.set_chart_title()

    def action_log_level(self) -> None:
        level = self.panes.query_one(LogPane).cycle_level()
        self.panes.set_log_title()
        self.notify(f"Log pane shows {logging.getLevelName(level)} and above", timeout=2)

    def action_backtest(self, strategy: str = "", params: dict[str, str] | None = None) -> None:
        from quantai_tui.tui.screens.backtest import BacktestScreen

        self.push_screen(BacktestScreen(strategy=strategy, params=params or {}))

    def action_knowledge(self) -> None:
        from quantai_tui.tui.screens.knowledge import KnowledgeScreen

        if self.options.ai is None:
            self.notify("the knowledge base is not available here")
            return
        self.push_screen(KnowledgeScreen(self.options.ai, blink=not self.options.deterministic))

    def action_replay(self) -> None:
        from quantai_tui.tui.screens.replay import ReplayScreen

        self.push_screen(ReplayScreen(tui=self.options.tui, deterministic=self.options.deterministic))

    # --- strategies and exchanges (palette) ------------------------------------------------------
    async def start_strategy(self, name: str) -> None:
        await self._run_command(self.engine.start_strategy(name, {}), f"start strategy {name}")

    async def stop_strategy(self, strategy_id: str) -> None:
        await self._run_command(self.engine.stop_strategy(strategy_id), f"stop strategy {strategy_id}")

    async def switch_exchange(self, exchange: str) -> None:
        factory = self.options.engine_factory
        if factory is None:
            self.notify("switching exchange needs a restart here: quantai tui --exchange " + exchange)
            return
        if self.bridge.open_orders():
            self.notify("cancel the open orders before switching exchange", severity="warning")
            return
        try:
            engine = factory(exchange, list(self.engine.symbols))
        except QuantAIError as exc:
            self.notify(str(exc), severity="error")
            return
        await self.stop_engine()
        self.engine_ready = False
        self.engine = engine
        self.bridge = self._make_bridge(engine)
        old = self.main_screen
        self.main_screen = MainScreen(self.bridge, deterministic=self.options.deterministic,
                                      log_level=self.options.log_level)
        await self.switch_screen(self.main_screen)
        if old is not None:
            await old.remove()
        self._start_engine()

    # --- chat ---------------------------------------------------------------------------------
    async def handle_chat(self, text: str) -> None:
        from quantai_tui.tui.chat_actions import run_chat

        await run_chat(self, text)
