"""Tools the model may call: plain typed functions, registered once, described by JSON schema.

    from quantai_tui.ai.tools import tool, ToolContext

    @tool
    async def funding_rate(symbol: str, ctx: ToolContext, venue: Literal["binance", "okx"] = "binance") -> dict:
        '''The current funding rate of a perpetual.

        Args:
            symbol: ccxt unified symbol, e.g. BTC/USDT:USDT
            venue: the exchange to ask
        '''

- The schema comes from the signature and the docstring (tool_schema.py). A parameter typed
  `ToolContext` is injected by the runner and never shown to the model.
- `ToolRunner.execute(call)` never raises for a bad call: unknown tool, malformed JSON, invalid
  arguments and exceptions inside the tool all come back as a tool error for the model. Every
  call and result is appended to the audit sink as ToolCalled / ToolResult events, with any
  secret redacted; results are cut to `max_chars`.
- Users add tools from the module named in `[ai] tools_module` (a module name or a file.py);
  loading errors name the file and line.

There is deliberately no tool that submits, cancels or modifies orders, touches the kill switch,
the risk limits or the trading mode: `propose_order` only records a draft for the trader.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import json
import logging
import math
import sys
import time
import traceback
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

from quantai_tui.ai.context import ToolContext
from quantai_tui.ai.llm_types import ToolArgumentsError, ToolCall
from quantai_tui.ai.tool_schema import Param, ToolDefinitionError, parse_docstring, schema_for, validate_arguments, where
from quantai_tui.core.errors import QuantAIError, ToolError
from quantai_tui.core.events import Event, ToolCalled, ToolResult
from quantai_tui.core.secrets import Secret, redact

__all__ = [
    "EventSink",
    "ToolContext",
    "ToolDefinitionError",
    "ToolOutcome",
    "ToolRegistry",
    "ToolRunner",
    "ToolSpec",
    "cap_text",
    "load_tools_module",
    "tool",
]

log = logging.getLogger("quantai.ai.tools")
EventSink = Callable[[Event], "Awaitable[Any] | Any"]
_SPEC_ATTR = "__quantai_tool__"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    func: Callable[..., Any]
    params: dict[str, Param]
    context_param: str | None  # the parameter that receives the ToolContext
    untrusted: bool = False  # results carry outside text (documents, web pages)
    origin: str = ""  # file:line

    def schema(self) -> dict[str, Any]:
        """The OpenAI `tools` entry."""
        props: dict[str, Any] = {}
        for p in self.params.values():
            s = dict(schema_for(p.hint, f"{self.origin}: tool {self.name}, parameter {p.name}"))
            if p.description:
                s["description"] = p.description
            if not p.required and p.default is not None and _jsonable_default(p.default):
                s["default"] = p.default
            props[p.name] = s
        params: dict[str, Any] = {"type": "object", "properties": props}
        required = [p.name for p in self.params.values() if p.required]
        if required:
            params["required"] = required
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": params}}


def _jsonable_default(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or (isinstance(v, (list, dict)) and not v)


def _make_spec(func: Callable[..., Any], name: str | None, untrusted: bool) -> ToolSpec:
    origin = where(func)
    tool_name = name or func.__name__
    if not tool_name or set(tool_name) - _NAME_OK or len(tool_name) > 64:
        raise ToolDefinitionError(f"{origin}: tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-'")
    try:
        hints = typing.get_type_hints(func)
    except Exception as e:  # an annotation that does not resolve (a typo, a TYPE_CHECKING import)
        raise ToolDefinitionError(f"{origin}: tool {tool_name}: cannot resolve its type hints: {e}") from None
    description, arg_docs = parse_docstring(func.__doc__)
    if not description:
        raise ToolDefinitionError(f"{origin}: tool {tool_name} needs a docstring (the model reads it)")
    params: dict[str, Param] = {}
    ctx_param: str | None = None
    for p in inspect.signature(func).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ToolDefinitionError(f"{origin}: tool {tool_name}: *args/**kwargs cannot be described to a model")
        hint = hints.get(p.name, inspect.Parameter.empty)
        if hint is ToolContext:
            ctx_param = p.name
            continue
        if hint is inspect.Parameter.empty:
            raise ToolDefinitionError(f"{origin}: tool {tool_name}: parameter {p.name!r} has no type annotation")
        schema_for(hint, f"{origin}: tool {tool_name}, parameter {p.name}")  # fail early on a bad type
        required = p.default is inspect.Parameter.empty
        params[p.name] = Param(p.name, hint, required, None if required else p.default, arg_docs.get(p.name, ""))
    return ToolSpec(tool_name, description, func, params, ctx_param, untrusted, origin)


def tool(func: Callable[..., Any] | None = None, *, name: str | None = None, untrusted: bool = False) -> Any:
    """Mark a function as a tool (`@tool` or `@tool(name=..., untrusted=True)`).

    The function is returned unchanged with its ToolSpec attached; registries collect marked
    functions from a module, so a tool is defined once and registered wherever it is loaded.
    `untrusted=True`: its results carry outside text (the agent treats them as data)."""

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        setattr(f, _SPEC_ATTR, _make_spec(f, name, untrusted))
        return f

    return mark(func) if func is not None else mark


class ToolRegistry:
    def __init__(self, specs: Iterable[ToolSpec] = ()) -> None:
        self._tools: dict[str, ToolSpec] = {}
        for s in specs:
            self.add(s)

    def add(self, spec: ToolSpec | Callable[..., Any], *, replace: bool = False) -> ToolSpec:
        if not isinstance(spec, ToolSpec):
            spec = getattr(spec, _SPEC_ATTR, None) or _make_spec(spec, None, False)
        old = self._tools.get(spec.name)
        if old is not None and not replace and old.func is not spec.func:
            raise ToolDefinitionError(f"{spec.origin}: a tool named {spec.name!r} already exists ({old.origin})")
        self._tools[spec.name] = spec
        return spec

    def add_module(self, module: ModuleType, *, replace: bool = False) -> list[ToolSpec]:
        """Every @tool function defined in `module`, in definition order."""
        found = [getattr(v, _SPEC_ATTR) for v in vars(module).values()
                 if callable(v) and isinstance(getattr(v, _SPEC_ATTR, None), ToolSpec)
                 and getattr(v, "__module__", None) == module.__name__]
        return [self.add(s, replace=replace) for s in found]

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [s.schema() for s in self._tools.values()]


# -- user modules ------------------------------------------------------------------------------


def load_tools_module(spec: str, registry: ToolRegistry, base_dir: Path | None = None) -> list[ToolSpec]:
    """Register the @tool functions of `spec`: a file path (…/x.py) or an importable module name.
    Errors are ToolDefinitionError lines naming the file and, where known, the line."""
    spec = spec.strip()
    if not spec:
        return []
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        file = Path(spec).expanduser()
        if not file.is_absolute() and base_dir is not None:
            file = base_dir / file
        module = _import_file(file)
        label = str(file)
    else:
        try:
            module = importlib.import_module(spec)
        except SyntaxError as e:
            raise ToolDefinitionError(f"{e.filename}:{e.lineno}: syntax error: {e.msg}") from None
        except ImportError as e:
            if e.name and spec.startswith(e.name):
                raise ToolDefinitionError(f"[ai] tools_module: no module named {spec!r} (give a file.py path or a "
                                          "module on PYTHONPATH)") from None
            raise ToolDefinitionError(f"{_where_exc(e, None) or spec}: error while loading: {type(e).__name__}: {e}") \
                from None
        except ToolDefinitionError:
            raise
        except Exception as e:
            raise ToolDefinitionError(f"{_where_exc(e, None) or spec}: error while loading: {type(e).__name__}: {e}") \
                from None
        label = getattr(module, "__file__", None) or spec
    found = registry.add_module(module)
    if not found:
        raise ToolDefinitionError(f"{label}: defines no tools (decorate functions with "
                                  "@tool from quantai_tui.ai.tools)")
    return found


def _import_file(file: Path) -> ModuleType:
    file = file.resolve()
    if not file.is_file():
        raise ToolDefinitionError(f"{file}: no such tools file ([ai] tools_module)")
    try:
        source = file.read_text(encoding="utf-8")
    except OSError as e:
        raise ToolDefinitionError(f"{file}: cannot read: {e.strerror or e}") from None
    try:
        code = compile(source, str(file), "exec")
    except SyntaxError as e:
        raise ToolDefinitionError(f"{file}:{e.lineno}: syntax error: {e.msg}") from None
    name = f"quantai_user_tools.{file.stem}_{hashlib.sha1(str(file).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # get_type_hints looks the module up by name
    try:
        exec(code, module.__dict__)  # noqa: S102 - the user's own tools file
    except ToolDefinitionError:
        sys.modules.pop(name, None)
        raise
    except Exception as e:
        sys.modules.pop(name, None)
        raise ToolDefinitionError(f"{_where_exc(e, file) or file}: error while loading: {type(e).__name__}: {e}") \
            from None
    return module


def _where_exc(e: BaseException, file: Path | None) -> str | None:
    """`file:line` of the deepest frame in `file` (or outside the stdlib when file is None)."""
    found = None
    for frame in traceback.extract_tb(e.__traceback__):
        if file is not None and Path(frame.filename).resolve() == file:
            found = f"{file}:{frame.lineno}"
        elif file is None and "importlib" not in frame.filename and "quantai_tui/ai/tools" not in frame.filename:
            found = f"{frame.filename}:{frame.lineno}"
    return found


# -- running -----------------------------------------------------------------------------------


@dataclass
class ToolOutcome:
    call_id: str
    name: str
    arguments: dict[str, Any] | None  # validated arguments; None when they could not be read
    ok: bool
    content: str  # what the model sees (capped)
    value: Any = None  # the tool's raw return value (for the UI: citations, drafts)
    untrusted: bool = False
    elapsed_s: float = 0.0


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if isinstance(o, Enum):
        return o.value
    if isinstance(o, Path):
        return str(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def to_text(value: Any) -> str:
    """A tool's return value as the text the model reads (compact JSON unless it is a str)."""
    if isinstance(value, str):
        return value
    return json.dumps(_finite(value), default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _finite(v: Any) -> Any:
    """NaN and infinities as null: JSON has no spelling for them."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def cap_text(text: str, max_chars: int) -> str:
    """`text` cut to at most max_chars, saying how much was left out."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    note = f" …[truncated: {len(text):,} chars, first {{n:,}} shown]"
    n = max(0, max_chars - len(note.format(n=max_chars)))
    return text[:n] + note.format(n=n)


@dataclass
class ToolRunner:
    """Executes the model's tool calls against a registry, auditing each one."""

    registry: ToolRegistry
    context: ToolContext
    sink: EventSink | None = None
    max_chars: int = 8000
    secrets: tuple[Secret | str, ...] = ()
    outcomes: list[ToolOutcome] = field(default_factory=list)
    clock: Callable[[], int] = time.time_ns

    def schemas(self) -> list[dict[str, Any]]:
        return self.registry.schemas()

    def _clean(self, text: str) -> str:
        return redact(text, *self.secrets, *self.context.secrets) if (self.secrets or self.context.secrets) else text

    async def _emit(self, event: Event) -> None:
        if self.sink is None:
            return
        try:
            r = self.sink(event)
            if inspect.isawaitable(r):
                await r
        except Exception as e:  # auditing must not take the conversation down; say so loudly
            log.error("could not store %s: %s", type(event).__name__, e)

    async def execute(self, call: ToolCall) -> ToolOutcome:
        """Run one call; every failure becomes an error result for the model (never raised)."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        now = self.clock()
        await self._emit(ToolCalled(call.id, call.name, cap_text(self._clean(call.arguments), self.max_chars),
                                    ts_event=now, ts_init=now))
        spec = self.registry.get(call.name)
        args: dict[str, Any] | None = None
        value: Any = None
        try:
            if spec is None:
                known = ", ".join(self.registry.names)
                raise ToolError(f"unknown tool {call.name!r}; the tools are: {known}")
            args = validate_arguments(spec.name, spec.params, call.parse_arguments())
            value = await self._invoke(spec, args)
            ok, text = True, to_text(value)
        except asyncio.CancelledError:
            now = self.clock()
            await self._emit(ToolResult(call.id, call.name, False, "cancelled", ts_event=now, ts_init=now))
            raise
        except (ToolError, ToolArgumentsError) as e:
            ok, text = False, f"error: {e}"
        except QuantAIError as e:  # DataError, StrategyError, KBError ...: the tool's own words
            ok, text = False, f"error: {e}"
        except Exception as e:  # a bug in a tool: the model hears a short reason, the log the rest
            log.warning("tool %s failed", call.name, exc_info=True)
            ok, text = False, f"error: {call.name} failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
        content = cap_text(self._clean(text), self.max_chars)
        untrusted = bool(ok and spec is not None and spec.untrusted)
        if untrusted:
            self.context.untrusted_seen = True
        now = self.clock()
        await self._emit(ToolResult(call.id, call.name, ok, content, ts_event=now, ts_init=now))
        outcome = ToolOutcome(call.id, call.name, args, ok, content, value, untrusted, loop.time() - t0)
        self.outcomes.append(outcome)
        return outcome

    async def _invoke(self, spec: ToolSpec, args: Mapping[str, Any]) -> Any:
        kwargs = dict(args)
        if spec.context_param is not None:
            kwargs[spec.context_param] = self.context
        if inspect.iscoroutinefunction(spec.func):
            return await spec.func(**kwargs)
        # a plain function may block (files, CPU): run it off the event loop
        result = await asyncio.to_thread(spec.func, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result
