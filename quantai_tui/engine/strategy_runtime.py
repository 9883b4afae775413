"""Running strategies (engine/strategy.py) inside the kernel: bind, subscribe, start, stop.

Live and paper: each handler call runs as an eager task (it runs at once and only becomes a
scheduled task if it awaits something that waits; its handle is kept and a failure logged).
Backtests: handlers are driven with one `send(None)` and must not suspend.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from quantai_tui.core.errors import ConfigError
from quantai_tui.core.events import market_topic
from quantai_tui.engine.tasks import TaskGroup, run_sync

if TYPE_CHECKING:
    from quantai_tui.engine.kernel import Kernel

log = logging.getLogger("quantai.strategy")
_HANDLERS = (("on_tick", "trades"), ("on_quote", "quotes"), ("on_book", "book"), ("on_bar", "bars"))


def live_driver(tasks: TaskGroup, sid: str) -> Any:
    def drive(coro: Coroutine[Any, Any, Any]) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.eager_task_factory(loop, coro, name=f"strategy:{sid}")
        if not task.done():
            key = f"strategy:{sid}:{id(task)}"
            tasks.tasks[key] = task
            task.add_done_callback(lambda t, k=key: tasks._done(k, t))  # noqa: SLF001
        elif not task.cancelled() and task.exception() is not None:
            log.error("strategy %s handler failed: %r", sid, task.exception(), exc_info=task.exception())

    return drive


async def attach_strategy(kernel: Kernel, strategy: Any, venue: str, symbols: list[str], start: bool) -> str:
    sid = strategy.id
    if sid in kernel.strategies:
        raise ConfigError(f"a strategy with id {sid!r} is already running")
    ctx = kernel.context(sid, venue)
    # a strategy with on_order/on_fill knows its order ids before any event about them can arrive
    ctx.pre_submit = strategy.order_id_sink()
    drive = run_sync if kernel.backtest else live_driver(kernel.tasks, sid)
    strategy.bind(ctx, venue=venue, symbols=symbols, drive=drive)
    subs = []
    bus = kernel.bus
    for sym in symbols:
        if venue in kernel.venues:
            kernel.watch(venue, sym)
        for method, kind in _HANDLERS:
            if strategy.overrides(method):
                subs.append(bus.subscribe(market_topic(kind, venue, sym), strategy.dispatcher(method),
                                          name=f"strategy:{sid}:{method}"))
    if strategy.tracks_orders:
        subs.append(bus.subscribe(f"orders.{venue}.*", strategy.order_dispatcher(), name=f"strategy:{sid}:orders"))
    kernel.strategies[sid] = (strategy, subs)
    if start:
        await strategy.on_start()
    log.info("strategy %s started on %s %s", sid, venue, ", ".join(symbols))
    return sid


async def detach_strategy(kernel: Kernel, sid: str) -> None:
    entry = kernel.strategies.pop(sid, None)
    if entry is None:
        return
    strategy, subs = entry
    for sub in subs:
        kernel.bus.unsubscribe(sub)
    try:
        await strategy.on_stop()
    except Exception:
        log.exception("strategy %s on_stop failed", sid)
