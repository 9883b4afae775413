"""The order ticket (`b` / `s`): side, type, quantity, price and, for stop orders, the trigger.
Values are checked against the instrument's tick and lot before anything is sent (and a stop's
trigger against the market: a buy stop above it, a sell stop below); a risk denial is shown in
place and the ticket stays open so the trader can fix the order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType
from quantai_tui.core.errors import QuantAIError
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.values import Price, Quantity
from quantai_tui.tui import messages as m

if TYPE_CHECKING:
    from quantai_tui.tui.bridge import Bridge


@dataclass(frozen=True, slots=True)
class TicketValues:
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    price: Price | None
    trigger: Price | None = None


def fit_to_instrument(inst: Instrument | None, qty: Quantity | None,
                      *prices: Price | None) -> tuple[Quantity | None, tuple[Price | None, ...]]:
    """`qty` and `prices` checked against the instrument's lot and tick (PrecisionError when off
    the grid: nothing is rounded behind the trader's back) and put at its precision. None
    passes through; with no instrument, everything does."""
    if inst is None:
        return qty, prices
    if qty is not None:
        inst.check_qty(qty)
        qty = inst.make_qty(qty)
    fitted = []
    for p in prices:
        if p is not None:
            inst.check_price(p)
            p = inst.make_price(p)
        fitted.append(p)
    return qty, tuple(fitted)


ORDER_TYPES = (("LIMIT", "LIMIT"), ("MARKET", "MARKET"), ("STOP MARKET", "STOP_MARKET"), ("STOP LIMIT", "STOP_LIMIT"))
_STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


def validate_ticket(inst: Instrument | None, side: str, order_type: str, qty_text: str,
                    price_text: str, trigger_text: str = "", market: float | None = None) -> TicketValues:
    """Raise QuantAIError (one line, for the ticket) unless the order fits the instrument. A
    stop's trigger must be beyond `market` (the last price, when known) in its direction, or
    the venue would fire it at once."""
    from quantai_tui.core.errors import ValidationError

    def number(text: str, what: str) -> Decimal:
        try:
            d = Decimal(text.strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationError(f"{what}: not a number: {text!r}") from None
        if not d.is_finite() or d <= 0:
            raise ValidationError(f"{what} must be positive")
        return d

    otype = OrderType(order_type)
    qty = Quantity(number(qty_text, "quantity"))
    price: Price | None = None
    trigger: Price | None = None
    if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if not price_text.strip():
            raise ValidationError(f"a {'stop-' if otype is OrderType.STOP_LIMIT else ''}limit order needs a price")
        price = Price(number(price_text, "price"))
    if otype in _STOPS:
        if not trigger_text.strip():
            raise ValidationError("a stop order needs a trigger price")
        trigger = Price(number(trigger_text, "trigger"))
    fitted, (price, trigger) = fit_to_instrument(inst, qty, price, trigger)
    assert fitted is not None
    qty = fitted
    if inst is not None and (price is not None or trigger is not None):
        inst.check_notional(price or trigger, qty)  # type: ignore[arg-type]
    if trigger is not None and market is not None:
        t = trigger.as_decimal()
        m = Decimal(repr(market))
        if (side == "BUY" and t <= m) or (side == "SELL" and t >= m):
            where = "above" if side == "BUY" else "below"
            raise ValidationError(f"a {side.lower()} stop triggers {where} the market ({m}): "
                                  f"{t} would fire at once")
    return TicketValues(OrderSide(side), otype, qty, price, trigger)


def default_quantity(inst: Instrument | None, price: float | None, notional: int = 100) -> str:
    """About `notional` quote units' worth, on the lot and above the venue's minimums."""
    if inst is None:
        return ""
    if not price:
        return str(inst.min_quantity)
    from quantai_tui.core.values import ROUND_UP

    qty = inst.make_qty(Decimal(notional) / Decimal(repr(price)), rounding=ROUND_UP)
    return str(max(qty, inst.min_quantity))


class OrderTicket(ModalScreen[str | None]):
    DEFAULT_CSS = """
    OrderTicket { align: center middle; background: $background 60%; }
    OrderTicket > #ticket { width: 60; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    OrderTicket.-buy > #ticket { border: thick $success; }
    OrderTicket.-sell > #ticket { border: thick $error; }
    OrderTicket #ticket { border-title-style: bold; }
    OrderTicket Grid { grid-size: 2; grid-columns: 12 1fr; grid-rows: 3; height: auto; }
    OrderTicket Grid > Label { height: 3; content-align: left middle; }
    OrderTicket #hint { color: $foreground-muted; height: auto; }
    OrderTicket #error { color: $error; text-style: bold; height: auto; min-height: 1; }
    OrderTicket #buttons { height: auto; align-horizontal: right; }
    OrderTicket Button { margin-left: 2; }
    OrderTicket .-stop { display: none; }
    OrderTicket.-stop-type .-stop { display: block; }
    """
    BINDINGS = [Binding("escape", "close", "cancel", id="ticket_close")]

    def __init__(self, bridge: Bridge, side: str, symbol: str, *, blink: bool = True) -> None:
        super().__init__(classes="-buy" if side == "BUY" else "-sell")
        self.bridge = bridge
        self.side = side
        self.symbol = symbol
        self.inst = bridge.engine.instrument(symbol)
        self.client_order_id: str | None = None
        self._blink = blink

    def compose(self) -> ComposeResult:
        book = self.bridge.book_view(self.symbol)  # the last frame's book: the engine runs elsewhere
        ref = None
        if book is not None:
            ref = (book.asks[0][0] if self.side == "BUY" and book.asks else
                   book.bids[0][0] if book.bids else None)
        places = book.price_precision if book is not None else 2
        price = f"{ref:.{places}f}" if ref is not None else ""
        lot = default_quantity(self.inst, ref)
        self.market = book.last_price if book is not None and book.last_price else ref
        with Vertical(id="ticket") as box:
            box.border_title = f"{self.side} {self.symbol} · {self.bridge.engine.venue}"
            with Grid():
                yield Label("Side")
                yield Select([("BUY", "BUY"), ("SELL", "SELL")], value=self.side, allow_blank=False, id="side")
                yield Label("Type")
                yield Select(ORDER_TYPES, value="LIMIT", allow_blank=False, id="type")
                yield Label("Quantity")
                yield Input(value=lot, id="qty")
                yield Label("Price")
                yield Input(value=price, id="price")
                yield Label("Trigger", classes="-stop")
                yield Input(value=price, id="trigger", classes="-stop")
            tick = f"tick {self.inst.tick_size} · lot {self.inst.lot_size} · min {self.inst.min_quantity}" \
                if self.inst else "instrument rules not loaded"
            yield Static(tick, id="hint")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Cancel (esc)", id="cancel")
                yield Button(f"{self.side} (enter)", id="submit", variant="success" if self.side == "BUY" else "error")

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = self._blink
        self.query_one("#qty", Input).focus()

    @on(Select.Changed, "#type")
    def _type_changed(self, event: Select.Changed) -> None:
        self.query_one("#price", Input).disabled = event.value in ("MARKET", "STOP_MARKET")
        self.set_class(event.value in ("STOP_MARKET", "STOP_LIMIT"), "-stop-type")

    @on(Select.Changed, "#side")
    def _side_changed(self, event: Select.Changed) -> None:
        self.side = str(event.value)
        self.set_class(self.side == "BUY", "-buy")
        self.set_class(self.side == "SELL", "-sell")
        self.query_one("#submit", Button).label = f"{self.side} (enter)"
        self.query_one("#ticket").border_title = f"{self.side} {self.symbol} · {self.bridge.engine.venue}"

    def _market(self) -> float | None:
        book = self.bridge.book_view(self.symbol)  # the latest frame: the market moved since the ticket opened
        return (book.last_price or self.market) if book is not None else self.market

    def show_error(self, text: str) -> None:
        self.query_one("#error", Static).update(text)

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    async def submit(self) -> None:
        try:
            values = validate_ticket(
                self.inst, self.side, str(self.query_one("#type", Select).value),
                self.query_one("#qty", Input).value, self.query_one("#price", Input).value,
                self.query_one("#trigger", Input).value, self._market(),
            )
        except (QuantAIError, ValueError) as exc:
            self.show_error(str(exc))
            return
        cmd = SubmitOrder(self.bridge.engine.venue, self.symbol, values.side, values.order_type,
                          values.quantity, values.price, values.trigger)
        self.show_error("")
        try:
            result = await self.bridge.submit(cmd)
        except QuantAIError as exc:  # RiskDenied, KillSwitchEngaged, ...
            self.show_error(f"denied: {exc}")
            return
        coid = getattr(result, "client_order_id", result if isinstance(result, str) else None)
        self.client_order_id = coid
        denied = next((o for o in self.bridge.orders() if o.client_order_id == coid and o.status.value == "DENIED"),
                      None)
        if denied is not None:
            self.show_error(f"denied: {denied.reason or 'by risk'}")
            return
        self.dismiss(coid)

    def on_order_denied_notice(self, msg: m.OrderDeniedNotice) -> None:
        if msg.client_order_id == self.client_order_id:
            self.show_error(f"denied ({msg.check}): {msg.reason}")

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)
