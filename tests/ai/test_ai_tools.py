"""ai/tools.py: schemas from signatures, argument validation, result capping, auditing into a real
SQLite store, custom tool modules and their errors, and the safety of the built-in set."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

from quantai_tui.ai.context import ToolContext
from quantai_tui.ai.llm_types import ToolCall
from quantai_tui.ai.tool_schema import parse_docstring
from quantai_tui.ai.tools import ToolDefinitionError, ToolRegistry, ToolRunner, cap_text, load_tools_module, tool
from quantai_tui.ai.tools_builtin import BUILTIN_TOOLS, builtin_registry
from quantai_tui.core.events import ToolCalled, ToolResult
from quantai_tui.settings.schema import Settings
from quantai_tui.store.sqlite import EventStore, read_events


@tool
async def sample(symbol: str, side: Literal["buy", "sell"], qty: Decimal, ctx: ToolContext, limit: int = 5,
                 price: float | None = None, tags: list[str] | None = None, extra: dict[str, int] | None = None,
                 dry: bool = False) -> dict[str, Any]:
    """Do a sample thing.

    Spans two lines.

    Args:
        symbol: the symbol,
            over two lines
        side: buy or sell
        qty: how much
        limit: at most this many
        price: a price
        tags: labels
        extra: numbers by name
        dry: only pretend
    """
    return {"symbol": symbol, "side": side, "qty": qty, "limit": limit, "price": price, "tags": tags, "extra": extra,
            "dry": dry, "ctx": isinstance(ctx, ToolContext)}


@tool
async def boom() -> str:
    """Always fails."""
    raise RuntimeError("kaput")


@tool
def sync_big(n: int) -> str:
    """A plain function returning a long text (run in a thread).

    Args:
        n: length
    """
    return "x" * n


def runner(*tools: Any, sink: Any = None, max_chars: int = 8000, secrets: tuple[str, ...] = ()) -> ToolRunner:
    reg = ToolRegistry()
    for t in tools:
        reg.add(t)
    return ToolRunner(reg, ToolContext(), sink=sink, max_chars=max_chars, secrets=secrets)


def test_schema_from_signature_and_docstring() -> None:
    s = ToolRegistry([sample.__quantai_tool__]).schemas()[0]["function"]  # type: ignore[attr-defined]
    assert s["name"] == "sample"
    assert s["description"] == "Do a sample thing.\n\nSpans two lines."
    p = s["parameters"]
    assert p["required"] == ["symbol", "side", "qty"]
    props = p["properties"]
    assert "ctx" not in props  # injected, never shown to the model
    assert props["symbol"] == {"type": "string", "description": "the symbol, over two lines"}
    assert props["side"] == {"enum": ["buy", "sell"], "type": "string", "description": "buy or sell"}
    assert props["qty"]["type"] == "number"
    assert props["limit"] == {"type": "integer", "description": "at most this many", "default": 5}
    assert props["price"]["type"] == "number" and "default" not in props["price"]
    assert props["tags"]["type"] == "array" and props["tags"]["items"] == {"type": "string"}
    assert props["extra"] == {"type": "object", "additionalProperties": {"type": "integer"},
                              "description": "numbers by name"}
    assert props["dry"]["type"] == "boolean" and props["dry"]["default"] is False


def test_docstring_parser_sections() -> None:
    desc, args = parse_docstring("""Top line.

    Args:
        a (int): first
        b: second
            continued
    Returns:
        c: not an argument
    """)
    assert desc == "Top line."
    assert args == {"a": "first", "b": "second continued"}


def test_builtin_schemas_are_valid_json_schema_objects() -> None:
    reg = builtin_registry()
    assert reg.names == list(BUILTIN_TOOLS)
    for s in reg.schemas():
        fn = s["function"]
        assert fn["description"] and fn["parameters"]["type"] == "object"
        json.dumps(s)  # serialisable as the request body
        for name, prop in fn["parameters"]["properties"].items():
            assert prop.get("description"), f"{fn['name']}.{name} has no description"


async def test_arguments_validated_and_coerced() -> None:
    r = runner(sample)
    call = ToolCall("c1", "sample", json.dumps({"symbol": "BTC/USDT", "side": "BUY", "qty": 0.1, "limit": "7",
                                                "price": 3, "tags": ["a"], "extra": {"x": 2.0}, "dry": "true"}))
    out = await r.execute(call)
    assert out.ok, out.content
    assert out.value == {"symbol": "BTC/USDT", "side": "buy", "qty": Decimal("0.1"), "limit": 7, "price": 3.0,
                         "tags": ["a"], "extra": {"x": 2}, "dry": True, "ctx": True}


@pytest.mark.parametrize(("args", "message"), [
    ({"side": "buy", "qty": 1}, "missing required argument 'symbol'"),
    ({"symbol": "X", "side": "hold", "qty": 1}, "side must be one of 'buy', 'sell'"),
    ({"symbol": "X", "side": "buy", "qty": "lots"}, "qty must be a number"),
    ({"symbol": "X", "side": "buy", "qty": 1, "limit": 2.5}, "limit must be an integer"),
    ({"symbol": "X", "side": "buy", "qty": 1, "limit": True}, "limit must be an integer, got a boolean"),
    ({"symbol": "X", "side": "buy", "qty": 1, "tags": "a"}, "tags must be an array"),
    ({"symbol": "X", "side": "buy", "qty": 1, "extra": {"k": "v"}}, "extra.k must be an integer"),
    ({"symbol": "X", "side": "buy", "qty": 1, "leverage": 100}, "unknown argument 'leverage'"),
    ({"symbol": None, "side": "buy", "qty": 1}, "symbol must not be null"),
])
async def test_bad_arguments_are_tool_errors(args: dict[str, Any], message: str) -> None:
    out = await runner(sample).execute(ToolCall("c1", "sample", json.dumps(args)))
    assert not out.ok
    assert out.content.startswith("error: invalid arguments for sample:")
    assert message in out.content


async def test_unknown_tool_malformed_json_and_a_crashing_tool_never_raise() -> None:
    r = runner(sample, boom)
    unknown = await r.execute(ToolCall("c1", "place_order", "{}"))
    assert not unknown.ok and "unknown tool 'place_order'" in unknown.content and "sample, boom" in unknown.content
    bad = await r.execute(ToolCall("c2", "sample", '{"symbol": "BTC'))
    assert not bad.ok and "not valid JSON" in bad.content
    not_obj = await r.execute(ToolCall("c3", "sample", "[1, 2]"))
    assert not not_obj.ok and "must be a JSON object" in not_obj.content
    crash = await r.execute(ToolCall("c4", "boom", ""))
    assert not crash.ok and crash.content == "error: boom failed: RuntimeError: kaput"


async def test_results_are_capped() -> None:
    r = runner(sync_big, max_chars=500)
    out = await r.execute(ToolCall("c1", "sync_big", '{"n": 100000}'))
    assert out.ok and len(out.content) <= 500
    assert "truncated: 100,000 chars" in out.content
    assert cap_text("short", 500) == "short"


async def test_calls_and_results_stored_as_events_without_the_key(tmp_path: Path) -> None:
    key = "sk-live-SECRET-1234567890"
    store = EventStore(tmp_path / "events.sqlite")
    await store.open()

    async def sink(ev: Any) -> None:
        await store.append(ev, topic="ai")

    @tool
    async def leaky(note: str) -> str:
        """Echo the note (and, by mistake, a secret).

        Args:
            note: any text
        """
        return f"{note} {key}"

    r = runner(leaky, sink=sink, secrets=(key,))
    await r.execute(ToolCall("c1", "leaky", json.dumps({"note": f"my key is {key}"})))
    await store.close()
    rows = list(read_events(tmp_path / "events.sqlite"))
    kinds = [type(e) for _, e in rows]
    assert kinds == [ToolCalled, ToolResult]
    called, result = rows[0][1], rows[1][1]
    assert called.tool == "leaky" and called.call_id == "c1"
    assert result.ok and "my key is ***" in result.result
    raw = (tmp_path / "events.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("events.sqlite-*"))
    assert key.encode() not in raw


# -- user tool modules -------------------------------------------------------------------------

GOOD_MODULE = '''
from typing import Literal
from quantai_tui.ai.tools import tool, ToolContext

@tool
async def funding_rate(symbol: str, ctx: ToolContext, venue: Literal["binance", "okx"] = "binance") -> dict:
    """The current funding rate of a perpetual.

    Args:
        symbol: ccxt unified symbol
        venue: the exchange
    """
    return {"symbol": symbol, "venue": venue, "rate": 0.0001}

def helper():  # not a tool
    return 1
'''


def test_user_tools_module_from_a_file(tmp_path: Path) -> None:
    f = tmp_path / "my_tools.py"
    f.write_text(GOOD_MODULE)
    reg = builtin_registry()
    found = load_tools_module(str(f), reg)
    assert [s.name for s in found] == ["funding_rate"]
    assert "funding_rate" in reg and len(reg) == len(BUILTIN_TOOLS) + 1
    assert reg.get("funding_rate").origin.startswith(str(f))  # type: ignore[union-attr]


def test_user_tools_module_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "desk_tools_mod.py").write_text(GOOD_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = ToolRegistry()
    assert [s.name for s in load_tools_module("desk_tools_mod", reg)] == ["funding_rate"]


async def test_user_tool_runs_through_the_runner(tmp_path: Path) -> None:
    f = tmp_path / "t.py"
    f.write_text(GOOD_MODULE)
    reg = ToolRegistry()
    load_tools_module(str(f), reg)
    out = await ToolRunner(reg, ToolContext()).execute(ToolCall("c", "funding_rate", '{"symbol": "BTC/USDT:USDT"}'))
    assert out.ok and json.loads(out.content)["rate"] == 0.0001


@pytest.mark.parametrize(("source", "expected"), [
    ("def broken(:\n    pass\n", ":1: syntax error"),
    ("import math\n\nx = 1 / 0\n", ":3: error while loading: ZeroDivisionError"),
    ("from quantai_tui.ai.tools import tool\n\n\n@tool\nasync def nodoc(x: int) -> int:\n    return x\n",
     ":4: tool nodoc needs a docstring"),
    ("from quantai_tui.ai.tools import tool\n\n@tool\nasync def untyped(x) -> int:\n    '''Doc.'''\n    return x\n",
     ":3: tool untyped: parameter 'x' has no type annotation"),
    ("from quantai_tui.ai.tools import tool\n\n@tool\nasync def odd(x: complex) -> int:\n    '''Doc.'''\n    return 1\n",
     "unsupported type"),
    ("from quantai_tui.ai.tools import tool\n\n@tool\nasync def run_backtest(x: int) -> int:\n    '''Doc.'''\n"
     "    return 1\n", ":3: a tool named 'run_backtest' already exists"),
    ("x = 1\n", "defines no tools"),
])
def test_user_tools_module_errors_name_file_and_line(tmp_path: Path, source: str, expected: str) -> None:
    f = tmp_path / "bad_tools.py"
    f.write_text(source)
    with pytest.raises(ToolDefinitionError) as info:
        load_tools_module(str(f), builtin_registry())
    msg = str(info.value)
    assert str(f) in msg and expected in msg, msg
    assert "\n" not in msg


def test_user_tools_module_missing() -> None:
    with pytest.raises(ToolDefinitionError, match="no such tools file"):
        load_tools_module("/nonexistent/tools.py", ToolRegistry())
    with pytest.raises(ToolDefinitionError, match="no module named 'no_such_tools_mod'"):
        load_tools_module("no_such_tools_mod", ToolRegistry())


def test_settings_tools_module_is_loaded(tmp_path: Path) -> None:
    from quantai_tui.ai.assistant import build_registry

    f = tmp_path / "t.py"
    f.write_text(GOOD_MODULE)
    settings = Settings()
    settings.ai.tools_module = str(f)
    assert "funding_rate" in build_registry(settings)


# -- safety of the built-in set ----------------------------------------------------------------

FORBIDDEN = ("SubmitOrder", "CancelOrder", "CancelAllOrders", "ModifyOrder", "ReleaseKillSwitch",
             "EngageKillSwitch", "SetTradingState", "core.commands", "kernel.execute", "engine.execute",
             "bridge.submit", "TradingMode.LIVE", "risk.settings", "settings.risk")


def test_no_tool_can_trade_release_the_kill_switch_raise_limits_or_go_live() -> None:
    names = set(builtin_registry().names)
    assert names == set(BUILTIN_TOOLS)
    for bad in ("place_order", "submit_order", "cancel_order", "modify_order", "release_kill_switch",
                "set_risk_limits", "set_mode", "go_live", "execute"):
        assert bad not in names
    # and nothing in ai/ can build or send such a command: only the TUI turns a confirmed draft
    # into a SubmitOrder (tui/screens/order_draft.py)
    ai_dir = Path(__file__).resolve().parents[2] / "quantai_tui" / "ai"
    for f in ai_dir.rglob("*.py"):
        text = f.read_text()
        for word in FORBIDDEN:
            assert word not in text, f"{f.name} mentions {word}"


def test_tool_context_offers_no_command_path() -> None:
    ctx = ToolContext()
    assert not any(hasattr(ctx, a) for a in ("execute", "kernel", "bridge", "submit"))
    from quantai_tui.ai.engine_view import KernelView, StoreView

    for view in (KernelView, StoreView):
        assert not any(hasattr(view, a) for a in ("execute", "submit", "cancel", "release_kill_switch"))


def test_tools_module_setting_documented_in_schema() -> None:
    from quantai_tui.settings.schema import AiSettings

    assert AiSettings().tools_module == ""
