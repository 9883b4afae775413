"""Confirming an order the assistant drafted. The modal shows the draft's exact fields (never the
model's words); in live mode the trader types the order to confirm it. Confirming sends a
SubmitOrder through the bridge, exactly like the order ticket: the same instrument checks, the
same risk checks, the same audit log. A denial is shown in place and nothing is retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TimeInForce, TradingMode
from quantai_tui.core.errors import QuantAIError, ValidationError
from quantai_tui.core.values import Price, Quantity
from quantai_tui.tui import messages as m
from quantai_tui.tui.screens.order_ticket import fit_to_instrument

if TYPE_CHECKING:
    from quantai_tui.ai.drafts import OrderDraft
    from quantai_tui.core.instruments import Instrument
    from quantai_tui.tui.bridge import Bridge

STRATEGY_ID = "ai-draft"  # orders from confirmed drafts are tagged so the log and store say where they came from


def draft_command(draft: OrderDraft, venue: str, inst: Instrument | None) -> SubmitOrder:
    """The exact order of a draft; ValidationError if it does not fit this engine or instrument
    (never rounded: what was shown is what is sent, or nothing is)."""
    if draft.venue != venue:
        raise ValidationError(f"the draft is for {draft.venue}, but this engine trades on {venue}")
    fitted, (trigger, price) = fit_to_instrument(
        inst, Quantity(draft.quantity), Price(draft.trigger_price) if draft.trigger_price is not None else None,
        Price(draft.price) if draft.price is not None else None)
    assert fitted is not None
    qty = fitted
    if inst is not None and price is not None:
        inst.check_notional(price, qty)
    return SubmitOrder(venue, draft.symbol, OrderSide(draft.side), OrderType(draft.order_type), qty, price,
                       trigger_price=trigger, time_in_force=TimeInForce(draft.time_in_force),
                       reduce_only=draft.reduce_only, strategy_id=STRATEGY_ID)


def typed_phrase(draft: OrderDraft) -> str:
    """What the trader types to confirm a live draft: side, quantity and symbol, as shown."""
    return f"{draft.side} {draft.quantity} {draft.symbol}"


class OrderDraftScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    OrderDraftScreen { align: center middle; background: $background 60%; }
    OrderDraftScreen > #draft { width: 68; height: auto; border: thick $warning; background: $surface; padding: 0 1; }
    OrderDraftScreen.-live > #draft { border: thick $error; }
    OrderDraftScreen #draft { border-title-style: bold; border-title-color: $warning; }
    OrderDraftScreen #intro { color: $foreground-muted; height: auto; margin-bottom: 1; }
    OrderDraftScreen Grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: 1; height: auto; }
    OrderDraftScreen Grid > .value { text-style: bold; }
    OrderDraftScreen #untrusted { color: $warning; height: auto; margin-top: 1; }
    OrderDraftScreen #live-banner { background: $error; color: $text; text-style: bold; width: 100%;
                                    content-align: center middle; height: 1; margin-bottom: 1; }
    OrderDraftScreen #typed-label { margin-top: 1; }
    OrderDraftScreen #error { color: $error; text-style: bold; height: auto; min-height: 1; }
    OrderDraftScreen #buttons { height: auto; align-horizontal: right; }
    OrderDraftScreen Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("escape,n", "reject", "reject", id="draft_reject"),
        Binding("y", "confirm", "confirm", id="draft_confirm", show=False),
    ]

    def __init__(self, bridge: Bridge, draft: OrderDraft, *, blink: bool = True) -> None:
        self.live = draft.mode == "live" or bridge.engine.mode is TradingMode.LIVE
        super().__init__(classes="-live" if self.live else "")
        self.bridge = bridge
        self.draft = draft
        self.client_order_id: str | None = None
        self._attempted = False
        self._blink = blink

    def compose(self) -> ComposeResult:
        d = self.draft
        with Vertical(id="draft") as box:
            box.border_title = f"Order draft {d.draft_id} from the assistant"
            if self.live:
                yield Static("● LIVE · REAL MONEY ●", id="live-banner")
            yield Static("The assistant drafted this order. Nothing has been sent. Check every field: confirming "
                         "sends exactly this, through the same risk checks as the order ticket.", id="intro")
            with Grid():
                for label, value in d.fields():
                    yield Label(label)
                    yield Label(value, classes="value")
            if d.after_untrusted:
                yield Static("⚠ Drafted after the assistant read documents or web pages. Outside text cannot "
                             "ask for orders: confirm only if you asked for this order yourself.", id="untrusted")
            if self.live:
                yield Label(f"Type  {typed_phrase(d)}  to send this LIVE order:", id="typed-label")
                yield Input(placeholder=typed_phrase(d), id="typed")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Reject (n)", id="reject", variant="default")
                yield Button("Send LIVE order" if self.live else "Confirm & send (y)", id="confirm",
                             variant="error" if self.live else "warning")

    def on_mount(self) -> None:
        if self.live:
            typed = self.query_one("#typed", Input)
            typed.cursor_blink = self._blink
            typed.focus()
        else:
            self.query_one("#reject", Button).focus()  # the safe answer is the default

    def show_error(self, text: str) -> None:
        self.query_one("#error", Static).update(text)

    @on(Input.Submitted, "#typed")
    @on(Button.Pressed, "#confirm")
    async def action_confirm(self) -> None:
        if self._attempted:
            return  # one send per draft, whatever came of it: a denied draft is rejected, not retried
        if self.live:
            typed = " ".join(self.query_one("#typed", Input).value.split())
            if typed.upper() != typed_phrase(self.draft).upper():
                self.show_error(f"type {typed_phrase(self.draft)!r} exactly to send, or press esc to reject")
                return
        engine = self.bridge.engine
        try:
            cmd = draft_command(self.draft, engine.venue, engine.instrument(self.draft.symbol))
        except (QuantAIError, ValueError, ArithmeticError) as exc:
            self.show_error(f"cannot send: {exc}")
            return
        self.show_error("")
        self._attempted = True
        self.query_one("#confirm", Button).disabled = True
        try:
            result = await self.bridge.submit(cmd)
        except QuantAIError as exc:  # RiskDenied, KillSwitchEngaged ...
            self.show_error(f"denied: {exc} (nothing was sent; press esc)")
            return
        coid = getattr(result, "client_order_id", result if isinstance(result, str) else None)
        self.client_order_id = coid or ""
        denied = next((o for o in self.bridge.orders() if o.client_order_id == coid and o.status.value == "DENIED"),
                      None)
        if denied is not None:
            self.show_error(f"denied: {denied.reason or 'by risk'}")
            return
        self.dismiss(coid or "sent")

    def on_order_denied_notice(self, msg: m.OrderDeniedNotice) -> None:
        if msg.client_order_id == self.client_order_id:
            self.show_error(f"denied ({msg.check}): {msg.reason}")

    @on(Button.Pressed, "#reject")
    def action_reject(self) -> None:
        self.dismiss(None)
