"""What the chat pane's lines do: slash commands become engine commands through the bridge
(/kb goes to the knowledge base, in a thread); other text goes to the assistant when one is
configured, else the pane says how to set one up. In live mode an order typed in the chat is
confirmed first."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from quantai_tui.core.commands import ModifyOrder, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TradingMode
from quantai_tui.core.errors import QuantAIError
from quantai_tui.core.values import Price, Quantity
from quantai_tui.tui.chat_commands import HELP_TEXT, NO_MODEL_TEXT, Slash, SlashError, parse_slash
from quantai_tui.tui.formatting import short_id
from quantai_tui.tui.screens.order_ticket import fit_to_instrument, validate_ticket
from quantai_tui.tui.widgets.chat import ChatPane

if TYPE_CHECKING:
    from quantai_tui.ai.kb import DocumentInfo, SearchHit
    from quantai_tui.tui.app import QuantAIApp
    from quantai_tui.tui.views import OrderView


async def run_chat(app: QuantAIApp, text: str) -> None:
    chat = app.panes.query_one(ChatPane)
    if not text.startswith("/"):
        if app.options.ai is not None:  # the model half: tui/widgets/chat_ai.py
            from quantai_tui.tui.widgets.chat_ai import start_ai_turn

            start_ai_turn(app, chat, text)
            return
        if app.options.assistant is None:
            chat.say(NO_MODEL_TEXT, "system")
            return
        try:
            await app.options.assistant(text, chat.say)
        except Exception as exc:  # the assistant's failure is a chat line, never a crash
            chat.say(f"assistant failed: {exc}", "error")
        return
    try:
        slash = parse_slash(text)
    except SlashError as exc:
        chat.say(str(exc), "error")
        return
    await _run_slash(app, chat, slash)


async def _run_slash(app: QuantAIApp, chat: ChatPane, s: Slash) -> None:
    if s.name == "help":
        chat.say(HELP_TEXT)
    elif s.name == "clear":
        chat.clear()
    elif s.name in ("buy", "sell"):
        await _order(app, chat, s)
    elif s.name == "cancel":
        await _cancel(app, chat, s.target)
    elif s.name == "amend":
        await _amend(app, chat, s)
    elif s.name == "kill":
        if s.target == "release":
            app.action_release_kill_switch()
        else:
            await app.action_kill_switch()
            chat.say("kill switch engaged", "ok")
    elif s.name == "backtest":
        app.action_backtest(s.target, s.params)
    elif s.name == "kb":
        _kb(app, chat, s)
    elif s.name == "symbol":
        if s.symbol not in app.engine.symbols:
            chat.say(f"{s.symbol} is not watched here; choose from {', '.join(app.engine.symbols)}", "error")
        else:
            app.switch_symbol(s.symbol or "")
            chat.say(f"showing {s.symbol}", "ok")
    elif s.name == "theme":
        if s.target in app.available_themes:
            app.set_theme(s.target)
            chat.say(f"theme {s.target}", "ok")
        else:
            chat.say(f"no theme {s.target!r}; try {', '.join(app.quantai_themes)}", "error")


KB_HITS = 5  # passages /kb search prints
KB_EXCERPT = 160  # characters of each passage shown


def _kb(app: QuantAIApp, chat: ChatPane, s: Slash) -> None:
    """/kb search|list|add: the knowledge base, no model needed. Every call blocks (disk, the
    embedding), so it runs in a thread worker and writes its lines back on the UI thread."""
    service = app.options.ai
    if service is None:
        chat.say("the knowledge base is not available here", "error")
        return
    if s.target == "add":
        chat.say(f"adding {s.text} to the knowledge base…")

    def job() -> None:
        try:
            if s.target == "search":
                lines, who = kb_search_lines(s.text, service.kb_search(s.text, KB_HITS)), "system"
            elif s.target == "list":
                lines, who = kb_list_lines(service.kb_list()), "system"
            else:
                res = service.kb_add(s.text)
                d = res.doc
                lines, who = [f"{res.status}: {d.title} ({_chunks(d.chunks)}, {d.source})"], "ok"
        except Exception as exc:  # a missing file, an unreadable PDF, a broken store: one chat line
            app.call_from_thread(chat.say, f"/kb {s.target}: {' '.join(str(exc).split())}", "error")
            return
        app.call_from_thread(chat.say, "\n".join(lines), who)

    app.run_worker(job, thread=True, group="kb-chat", name=f"kb-{s.target}", exit_on_error=False)


def kb_search_lines(query: str, hits: list[SearchHit]) -> list[str]:
    if not hits:
        return [f"nothing in the knowledge base matches {query!r} (/kb list shows what is there)"]
    lines = [f"{len(hits)} passage(s) for {query!r}:"]
    for n, h in enumerate(hits, 1):
        excerpt = " ".join(h.text.split())
        lines.append(f"[{n}] {h.citation}  · {h.score:.3f}")
        lines.append(f"  {excerpt[:KB_EXCERPT]}{'…' if len(excerpt) > KB_EXCERPT else ''}")
    return lines


def kb_list_lines(docs: list[DocumentInfo]) -> list[str]:
    if not docs:
        return ["the knowledge base is empty: /kb add PATH adds a file (md, txt, html, pdf, py)"]
    lines = [f"{len(docs)} document(s) in the knowledge base:"]
    lines += [f"  {d.title} ({d.kind}, {_chunks(d.chunks)}) {d.source}" for d in docs]
    return lines


def _chunks(n: int) -> str:
    return f"{n} chunk" + ("" if n == 1 else "s")


async def _order(app: QuantAIApp, chat: ChatPane, s: Slash) -> None:
    symbol = s.symbol or app.bridge.active_symbol
    inst = app.engine.instrument(symbol)
    side = OrderSide.BUY if s.name == "buy" else OrderSide.SELL
    if s.trigger is not None:
        otype = OrderType.STOP_LIMIT if s.price is not None else OrderType.STOP_MARKET
    else:
        otype = OrderType.LIMIT if s.price is not None else OrderType.MARKET
    try:
        values = validate_ticket(inst, side.value, otype.value, str(s.quantity or 0),
                                 str(s.price or ""), str(s.trigger or ""), _last_price(app, symbol))
    except QuantAIError as exc:
        chat.say(str(exc), "error")
        return
    qty, price, trigger = values.quantity, values.price, values.trigger
    cmd = SubmitOrder(app.engine.venue, symbol, side, otype, qty, price, trigger)
    what = (f"{side} {otype} {qty} {symbol}" + (f" stop {trigger}" if trigger is not None else "")
            + (f" @ {price}" if price is not None else ""))
    if app.engine.mode is TradingMode.LIVE:
        from quantai_tui.tui.screens.confirm import ConfirmScreen

        async def answer(yes: bool | None) -> None:
            if yes:
                await _send(app, chat, cmd, what)
            else:
                chat.say("not sent", "system")

        app.push_screen(ConfirmScreen("Send a LIVE order?", f"{what} on {app.engine.venue}", yes="Send",
                                      danger=True), answer)
        return
    await _send(app, chat, cmd, what)


def _last_price(app: QuantAIApp, symbol: str) -> float | None:
    book = app.bridge.book_view(symbol)
    if book is None:
        return None
    return book.last_price or (book.asks[0][0] if book.asks else None)


async def _send(app: QuantAIApp, chat: ChatPane, cmd: SubmitOrder, what: str) -> None:
    try:
        result = await app.bridge.submit(cmd)
    except QuantAIError as exc:
        chat.say(f"denied: {exc}", "error")
        app.note(f"chat order denied: {exc}", logging.WARNING)
        return
    coid = getattr(result, "client_order_id", result if isinstance(result, str) else "")
    order = next((o for o in app.bridge.orders() if o.client_order_id == coid), None)
    if order is not None and order.status.value == "DENIED":
        chat.say(f"denied: {order.reason or 'by risk'}", "error")
        return
    chat.say(f"sent {what}" + (f" #{short_id(coid)}" if coid else ""), "ok")


def _open_order(app: QuantAIApp, chat: ChatPane, target: str) -> OrderView | None:
    """The one open order `target` names (its id as shown, or the end of its full id)."""
    matches = [o for o in app.bridge.open_orders()
               if short_id(o.client_order_id) == target or o.client_order_id.endswith(target)]
    if len(matches) != 1:
        chat.say(f"no open order #{target}" if not matches
                 else f"{target!r} matches {len(matches)} orders; give more of the id", "error")
        return None
    return matches[0]


async def _cancel(app: QuantAIApp, chat: ChatPane, target: str) -> None:
    try:
        if target.lower() == "all":
            await app.bridge.cancel_all()
            chat.say("cancel all sent", "ok")
            return
        order = _open_order(app, chat, target)
        if order is None:
            return
        await app.bridge.cancel(order.client_order_id)
        chat.say(f"cancel sent for #{short_id(order.client_order_id)}", "ok")
    except QuantAIError as exc:
        chat.say(str(exc), "error")


async def _amend(app: QuantAIApp, chat: ChatPane, s: Slash) -> None:
    order = _open_order(app, chat, s.target)
    if order is None:
        return
    inst = app.engine.instrument(order.symbol)
    try:
        qty, (price, trigger) = fit_to_instrument(
            inst, Quantity(s.quantity) if s.quantity is not None else None,
            Price(s.price) if s.price is not None else None, Price(s.trigger) if s.trigger is not None else None)
    except QuantAIError as exc:
        chat.say(str(exc), "error")
        return
    if price is not None and order.order_type in ("MARKET", "STOP_MARKET"):
        chat.say(f"#{short_id(order.client_order_id)} is a {order.order_type.lower().replace('_', '-')} order: "
                 "it has no price to move", "error")
        return
    cmd = ModifyOrder(order.client_order_id, quantity=qty, price=price, trigger_price=trigger)
    what = f"#{short_id(order.client_order_id)}" + "".join(
        f" {label} {v}" for label, v in (("@", price), ("qty", qty), ("stop", trigger)) if v is not None)

    async def send() -> None:
        try:
            await app.bridge.amend(cmd)
        except QuantAIError as exc:
            chat.say(f"amend refused: {exc}", "error")
            return
        chat.say(f"amend sent: {what}", "ok")

    if app.engine.mode is TradingMode.LIVE:
        from quantai_tui.tui.screens.confirm import ConfirmScreen

        async def answer(yes: bool | None) -> None:
            if yes:
                await send()
            else:
                chat.say("not sent", "system")

        app.push_screen(ConfirmScreen("Amend a LIVE order?", f"{what} on {app.engine.venue}", yes="Send",
                                      danger=True), answer)
        return
    await send()
