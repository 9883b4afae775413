"""The backtest screen: strategy, data and parameters; a run in a worker thread with a progress
bar (the UI and the live engine keep going); then metrics, the equity curve and the trades."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, ProgressBar, Select, Static

from quantai_tui.tui.backtest_service import BacktestRequest, BacktestService, BacktestSummary, parse_params
from quantai_tui.tui.widgets.plot import EquityPlot

if TYPE_CHECKING:
    from quantai_tui.tui.app import QuantAIApp


class BacktestScreen(Screen[None]):
    DEFAULT_CSS = """
    BacktestScreen { background: $background; }
    BacktestScreen #form { height: auto; padding: 0 1; background: $panel; }
    BacktestScreen #form > Vertical { height: auto; width: 1fr; padding-right: 1; }
    BacktestScreen #form Label { color: $foreground-muted; }
    BacktestScreen #form #run-box { width: 14; padding-top: 1; }
    BacktestScreen #status-row { height: 1; padding: 0 1; }
    BacktestScreen #status { width: 1fr; height: 1; }
    BacktestScreen #progress { width: 44; }
    BacktestScreen #status.-error { color: $error; text-style: bold; }
    BacktestScreen .pane { border: round $panel-lighten-2; border-title-color: $accent; background: $surface; }
    BacktestScreen #metrics-pane { width: 36; }
    BacktestScreen #equity-pane { height: 1fr; }
    BacktestScreen #trades-pane { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "back", "back", id="backtest_back"),
                Binding("ctrl+g", "run", "run", id="backtest_run")]

    def __init__(self, strategy: str = "", params: dict[str, str] | None = None, data: str = "") -> None:
        super().__init__(id="backtest")
        self._strategy = strategy
        self._params = params or {}
        self._data = data
        self.summary: BacktestSummary | None = None

    @property
    def service(self) -> BacktestService:
        return self.app.backtest_service  # type: ignore[attr-defined, no-any-return]

    def compose(self) -> ComposeResult:
        svc = self.service
        strategies = svc.strategies()
        data = svc.data_choices()
        fallback = "ma_crossover" if "ma_crossover" in strategies else (strategies[0] if strategies else None)
        strategy = self._strategy if self._strategy in strategies else fallback
        with Horizontal(id="form"):
            with Vertical():
                yield Label("Strategy")
                yield Select([(s, s) for s in strategies], value=strategy or Select.NULL, id="strategy")
            with Vertical():
                yield Label("Data (named source or file)")
                yield Select([(d, d) for d in data], value=self._data or (data[0] if data else Select.NULL),
                             id="data", allow_blank=True)
            with Vertical():
                yield Label("Parameters (k=v …)")
                yield Input(" ".join(f"{k}={v}" for k, v in self._params.items()), id="params")
            with Vertical():
                yield Label("Initial capital")
                yield Input(str(self.app.options.backtest_capital), id="capital")  # type: ignore[attr-defined]
            with Vertical(id="run-box"):
                yield Button("Run ^g", id="run", variant="primary")
        with Horizontal(id="status-row"):
            yield Static("choose a strategy and data, then Run", id="status")
            yield ProgressBar(total=1.0, show_eta=False, id="progress")
        with Horizontal():
            with Vertical(id="metrics-pane", classes="pane"):
                yield DataTable(id="metrics", cursor_type="none", show_header=False)
            with Vertical():
                with Vertical(id="equity-pane", classes="pane"):
                    yield EquityPlot(id="equity")
                with Vertical(id="trades-pane", classes="pane"):
                    yield DataTable(id="trades", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        for pane, title in (("metrics-pane", "Metrics"), ("equity-pane", "Equity curve"), ("trades-pane", "Trades")):
            self.query_one(f"#{pane}").border_title = title
        self.query_one("#metrics", DataTable).add_columns("metric", "value")
        self.query_one("#trades", DataTable).add_columns("time", "symbol", "side", "qty", "price", "fee")
        for inp in self.query(Input):
            inp.cursor_blink = not self.app.options.deterministic  # type: ignore[attr-defined]
        if self._strategy and self.query_one("#data", Select).value is not Select.NULL:
            self.action_run()  # /backtest NAME runs at once

    def request(self) -> BacktestRequest:
        strategy = self.query_one("#strategy", Select).value
        data = self.query_one("#data", Select).value
        if strategy is Select.NULL or not strategy:
            raise ValueError("choose a strategy")
        if data is Select.NULL or not data:
            raise ValueError("choose data: record some with `quantai record`, or import a file")
        try:
            capital = Decimal(self.query_one("#capital", Input).value.replace(",", ""))
        except InvalidOperation:
            raise ValueError("initial capital must be a number") from None
        return BacktestRequest(str(strategy), str(data), parse_params(self.query_one("#params", Input).value),
                               capital)

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(text)
        status.set_class(error, "-error")

    @on(Button.Pressed, "#run")
    @on(Input.Submitted)
    def action_run(self) -> None:
        try:
            req = self.request()
        except ValueError as exc:
            self._status(str(exc), error=True)
            return
        self.query_one("#progress", ProgressBar).update(total=1.0, progress=0.0)
        self.query_one("#run", Button).disabled = True
        self._status(f"running {req.strategy} on {req.data}…")
        self._run(req)

    @work(thread=True, exclusive=True, group="backtest", name="backtest")
    def _run(self, req: BacktestRequest) -> None:
        app = self.app
        try:
            summary = self.service.run(req, progress=lambda f: app.call_from_thread(self._progress, f))
        except Exception as exc:  # a failed run is a message on the screen, never a crash
            app.call_from_thread(self._failed, f"{type(exc).__name__}: {exc}")
            return
        app.call_from_thread(self.show_summary, summary)

    def _progress(self, fraction: float) -> None:
        bar = self.query_one("#progress", ProgressBar)
        if fraction < 0:
            bar.update(total=None)
        else:
            bar.update(total=1.0, progress=fraction)

    def _failed(self, text: str) -> None:
        self.query_one("#run", Button).disabled = False
        self._status(text, error=True)

    def show_summary(self, summary: BacktestSummary) -> None:
        self.summary = summary
        self.query_one("#run", Button).disabled = False
        self.query_one("#progress", ProgressBar).update(total=1.0, progress=1.0)
        self._status(f"done: {summary.title} · final equity {summary.final_equity}")
        metrics = self.query_one("#metrics", DataTable)
        metrics.clear()
        for label, value in summary.metrics:
            metrics.add_row(label, value)
        self.query_one("#equity", EquityPlot).values = tuple(summary.equity)
        trades = self.query_one("#trades", DataTable)
        trades.clear()
        for row in summary.trades:
            trades.add_row(*row)
        self.query_one("#trades-pane").border_title = f"Trades ({len(summary.trades)} fills)"

    def action_back(self) -> None:
        self.app.pop_screen()

    @property
    def qapp(self) -> QuantAIApp:
        return self.app  # type: ignore[return-value]
