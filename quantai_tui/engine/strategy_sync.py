"""Synchronous twins of `async def` strategy handlers, for runs that drive handlers without an
event loop (backtests).

In a backtest every awaited engine call completes at once, so a handler runs start to end in one
`send(None)`; driving it still costs a coroutine object, an awaitable wrapper and a resumption per
event, which is most of what a trivial `on_tick` costs. The twin is the same function compiled as
a plain `def` from the handler's own source, with each `await X` made a call `__qa_await__(X)`
that runs X to its end on the spot and returns its value (an error raised in X comes out at the
same place as it would from the `await`). The statements, their order and their values are the
handler's; only the coroutine machinery is gone. An awaitable that would suspend (network,
sleep, a queue) raises StrategyError there, as driving the coroutine would.

A twin is made only when it is certainly the same function: the source must compile to exactly
the code the handler runs (checked against its code object, so an edited file on disk or a
decorated handler is refused), with no `async for`, `async with` or async comprehension, no
closure variables (which includes `super()`), and default values taken from the original. In
every other case `sync_twin` returns None and the coroutine is driven as before.
"""

from __future__ import annotations

import __future__
import ast
import inspect
import textwrap
import types
import weakref
from collections.abc import Callable
from typing import Any

from quantai_tui.core.errors import StrategyError

_TWINS: weakref.WeakKeyDictionary[Callable[..., Any], Callable[..., Any] | None] = weakref.WeakKeyDictionary()
_AWAIT = "__qa_await__"
# the flags that say what kind of code it is (not CO_NESTED, where it was defined, nor the
# compiler's __future__ flags, which act on the enclosing module)
_FUTURE_FLAGS = 0
for _f in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _f).compiler_flag
_KIND_FLAGS = (inspect.CO_OPTIMIZED | inspect.CO_NEWLOCALS | inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
               | inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE
               | inspect.CO_ASYNC_GENERATOR)
_SUSPENDED = "suspended in a backtest: it awaited something that waits (network, sleep, a queue)"
_NO_LOOP = ("suspended in a backtest: it awaited something that needs an event loop (asyncio.sleep, network "
            "I/O); backtests drive handlers without one")


def sync_twin(func: Callable[..., Any]) -> Callable[..., Any] | None:
    """The plain-function twin of the `async def` function `func`, or None when there cannot be
    one. Made once per function."""
    try:
        return _TWINS[func]
    except KeyError:
        pass
    except TypeError:  # not weak-referenceable: not a plain function
        return None
    try:
        twin = _make(func)
    except Exception:  # noqa: BLE001 - anything unexpected: no twin, the coroutine path runs
        twin = None
    _TWINS[func] = twin
    return twin


def _await(label: str) -> Callable[[Any], Any]:
    """What `await x` becomes in the twin of handler `label`."""

    def run(aw: Any) -> Any:
        method = getattr(type(aw), "__await__", None)
        if method is not None:
            it = method(aw)
        elif isinstance(aw, types.GeneratorType) and aw.gi_code.co_flags & inspect.CO_ITERABLE_COROUTINE:
            it = aw  # a @types.coroutine generator
        else:
            raise TypeError(f"object {type(aw).__name__} can't be used in 'await' expression")
        try:
            it.send(None)
        except StopIteration as stop:
            return stop.value
        except RuntimeError as exc:
            if "no running event loop" not in str(exc):
                raise
            raise StrategyError(f"{label} {_NO_LOOP}") from None
        close = getattr(aw, "close", None)
        if close is not None:
            close()
        raise StrategyError(f"{label} {_SUSPENDED}")

    return run


class _Awaits(ast.NodeTransformer):
    """`await x` -> `__qa_await__(x)` in the function body, not inside nested scopes."""

    def __init__(self) -> None:
        self.refused = False

    def visit_Await(self, node: ast.Await) -> ast.AST:  # noqa: N802 - ast's visitor names
        call = ast.Call(func=ast.Name(id=_AWAIT, ctx=ast.Load()), args=[self.visit(node.value)], keywords=[])
        return ast.copy_location(call, node)

    def _refuse(self, node: ast.AST) -> ast.AST:
        self.refused = True
        return node

    visit_AsyncFor = visit_AsyncWith = _refuse  # noqa: N815

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        if node.is_async:
            self.refused = True
        return self.generic_visit(node)

    def _comprehension(self, node: ast.AST) -> ast.AST:
        # an await inside makes it an asynchronous comprehension (or generator): not rewritten
        if any(isinstance(n, ast.Await) for n in ast.walk(node)):
            self.refused = True
            return node
        return self.generic_visit(node)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension  # noqa: N815

    def _nested(self, node: ast.AST) -> ast.AST:  # another scope: its awaits are its own
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _nested  # noqa: N815


def _strip(fdef: ast.AsyncFunctionDef) -> None:
    """No decorators, annotations or default expressions (the twin takes the original's
    defaults; nothing is evaluated again)."""
    fdef.decorator_list = []
    fdef.returns = None
    a = fdef.args
    for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
        if arg is not None:
            arg.annotation = None
    a.defaults = []
    a.kw_defaults = [None] * len(a.kwonlyargs)


def _module_imports(func: types.FunctionType) -> list[ast.stmt]:
    """The import statements at the top level of the handler's module: compiled (never run)
    beside the twin, so the compiler knows the same imported names (it emits different code for
    `module.attr(...)` when `module` is an import of the module)."""
    mod = inspect.getmodule(func)
    if mod is None:
        return []
    tree = ast.parse(inspect.getsource(mod))
    return [n for n in tree.body if isinstance(n, ast.Import)
            or (isinstance(n, ast.ImportFrom) and n.module != "__future__")]


def _compile_in_factory(fdef: ast.stmt, first_line: int, filename: str,
                        imports: list[ast.stmt], flags: int) -> types.CodeType:
    """`def __qa_factory__(__qa_await__): <fdef>; return <name>`, compiled with fdef's lines
    where they are in the file (tracebacks point at the handler's own lines), after the
    module's imports inside an `if False:` (the compiler sees them, nothing runs them)."""
    ast.increment_lineno(fdef, first_line - fdef.lineno)
    name = fdef.name  # type: ignore[attr-defined]
    ret = ast.Return(value=ast.Name(id=name, ctx=ast.Load()))
    factory = ast.FunctionDef(
        name="__qa_factory__", args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=_AWAIT)], vararg=None,
                                                  kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[fdef, ret], decorator_list=[], returns=None, type_params=[])
    for node in (factory, ret, ret.value, factory.args, factory.args.args[0]):
        ast.copy_location(node, fdef)
        node.end_lineno, node.end_col_offset = fdef.end_lineno, fdef.end_col_offset  # type: ignore[attr-defined]
    body: list[ast.stmt] = [factory]
    if imports:
        guard = ast.If(test=ast.Constant(value=False), body=imports, orelse=[])
        ast.copy_location(guard, fdef)
        body.insert(0, guard)
    module = ast.Module(body=body, type_ignores=[])
    ast.fix_missing_locations(module)
    return compile(module, filename, "exec", flags=flags, dont_inherit=True)


def _inner_code(module_code: types.CodeType, name: str) -> types.CodeType | None:
    factory = next((c for c in module_code.co_consts if isinstance(c, types.CodeType)
                    and c.co_name == "__qa_factory__"), None)
    if factory is None:
        return None
    return next((c for c in factory.co_consts if isinstance(c, types.CodeType) and c.co_name == name), None)


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """The same bytecode, names and constants (nested code objects compared the same way)."""
    if (a.co_code != b.co_code or a.co_names != b.co_names or a.co_varnames != b.co_varnames
            or (a.co_flags ^ b.co_flags) & _KIND_FLAGS or a.co_argcount != b.co_argcount
            or a.co_kwonlyargcount != b.co_kwonlyargcount or len(a.co_consts) != len(b.co_consts)):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) or isinstance(y, types.CodeType):
            if not (isinstance(x, types.CodeType) and isinstance(y, types.CodeType) and _same_code(x, y)):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def _make(func: Callable[..., Any]) -> Callable[..., Any] | None:
    if not isinstance(func, types.FunctionType) or not inspect.iscoroutinefunction(func):
        return None
    code = func.__code__
    if code.co_freevars or getattr(func, "__wrapped__", None) is not None:
        return None
    lines, first_line = inspect.getsourcelines(func)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.AsyncFunctionDef):
        return None
    fdef = tree.body[0]
    if fdef.name != code.co_name or fdef.decorator_list:
        return None
    # the source must be what runs: compiled as it is (an async def), it gives the handler's code
    _strip(fdef)
    imports = _module_imports(func)
    flags = code.co_flags & _FUTURE_FLAGS  # the module's __future__ features, as it was compiled with
    original = _compile_in_factory(fdef, first_line, code.co_filename, imports, flags)
    check = _inner_code(original, fdef.name)
    if check is None or not _same_code(check, code):
        return None
    tree = ast.parse(textwrap.dedent("".join(lines)))
    fdef = tree.body[0]
    assert isinstance(fdef, ast.AsyncFunctionDef)
    _strip(fdef)
    awaits = _Awaits()
    fdef.body = [awaits.visit(stmt) for stmt in fdef.body]
    if awaits.refused:
        return None
    plain = ast.FunctionDef(name=fdef.name, args=fdef.args, body=fdef.body, decorator_list=[], returns=None,
                            type_params=[])
    ast.copy_location(plain, fdef)
    compiled = _compile_in_factory(plain, first_line, code.co_filename, imports, flags)
    ns: dict[str, Any] = {}
    exec(compiled, func.__globals__, ns)  # noqa: S102 - the handler's own source, checked against its code
    twin: types.FunctionType = ns["__qa_factory__"](_await(func.__qualname__))
    twin.__defaults__ = func.__defaults__
    twin.__kwdefaults__ = func.__kwdefaults__
    twin.__qualname__ = func.__qualname__
    twin.__module__ = func.__module__
    twin.__doc__ = func.__doc__
    return twin


__all__ = ["sync_twin"]
