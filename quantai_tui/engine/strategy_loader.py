"""Finding a strategy class from what the user typed after --strategy.

    ma_crossover                      a built-in, or a module in ./strategies/ or a search dir
    strategies/my_strat.py            a file: its one Strategy subclass (or STRATEGY = Class)
    path/to/file.py:MyStrategy        a file and a class in it

Errors are one line that names the file, and the line where there is one: a syntax error, an
exception raised while importing, a class that is not there or is not a Strategy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from quantai_tui.core.errors import StrategyError
from quantai_tui.engine.strategy import Strategy

# The repo's strategies/ (a source checkout); user search dirs are passed in by the caller.
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "strategies"


def strategy_dirs(extra: list[Path] | None = None) -> list[Path]:
    dirs = [Path.cwd() / "strategies", *(extra or []), BUILTIN_DIR]
    seen: list[Path] = []
    for d in dirs:
        r = d.resolve()
        if r not in seen:
            seen.append(r)
    return seen


def list_strategies(extra: list[Path] | None = None) -> dict[str, Path]:
    """name -> file of every strategy module found in the search dirs (first one wins)."""
    out: dict[str, Path] = {}
    for d in strategy_dirs(extra):
        if d.is_dir():
            for f in sorted(d.glob("*.py")):
                if not f.name.startswith("_"):
                    out.setdefault(f.stem, f)
    return out


def load_strategy(spec: str, extra_dirs: list[Path] | None = None) -> type[Strategy]:
    """The Strategy subclass `spec` names (see the module docstring)."""
    spec = spec.strip()
    if not spec:
        raise StrategyError("--strategy: empty name")
    path_part, class_name = _split(spec)
    if path_part.endswith(".py") or "/" in path_part or "\\" in path_part:
        file = Path(path_part).expanduser()
        if not file.is_file():
            raise StrategyError(f"{file}: no such strategy file")
    else:
        found = list_strategies(extra_dirs).get(path_part)
        if found is None:
            known = ", ".join(sorted(list_strategies(extra_dirs))) or "none found"
            raise StrategyError(f"unknown strategy {path_part!r} (available: {known})")
        file = found
    module = _import_file(file)
    return _pick_class(module, file, class_name)


def _split(spec: str) -> tuple[str, str | None]:
    # "C:\x\y.py" has a drive colon; the class separator is the last colon after ".py" or a name
    head, sep, tail = spec.rpartition(":")
    if sep and tail and tail.isidentifier() and not (len(head) == 1 and head.isalpha()):
        return head, tail
    return spec, None


def _import_file(file: Path) -> ModuleType:
    file = file.resolve()
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:8]
    mod_name = f"quantai_strategies.{file.stem}_{digest}"
    cached = sys.modules.get(mod_name)
    if cached is not None and getattr(cached, "__quantai_mtime__", None) == file.stat().st_mtime_ns:
        return cached
    try:
        source = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise StrategyError(f"{file}: cannot read: {exc.strerror or exc}") from None
    try:
        code = compile(source, str(file), "exec")
    except SyntaxError as exc:
        raise StrategyError(f"{file}:{exc.lineno}: syntax error: {exc.msg}") from None
    spec = importlib.util.spec_from_file_location(mod_name, file)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look modules up by name
    try:
        exec(code, module.__dict__)  # noqa: S102 - the user's own strategy file
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        line = _line_in(file, exc)
        where = f"{file}:{line}" if line else str(file)
        raise StrategyError(f"{where}: error while loading: {type(exc).__name__}: {exc}") from None
    module.__quantai_mtime__ = file.stat().st_mtime_ns  # type: ignore[attr-defined]
    return module


def _line_in(file: Path, exc: BaseException) -> int | None:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == file:
            line = frame.lineno
    return line


def _pick_class(module: ModuleType, file: Path, class_name: str | None) -> type[Strategy]:
    defined = {
        name: obj for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, Strategy) and obj is not Strategy
        and obj.__module__ == module.__name__
    }
    if class_name is not None:
        obj = getattr(module, class_name, None)
        if obj is None:
            listing = ", ".join(f"{n} (line {_lineno(c)})" for n, c in defined.items()) or "none"
            raise StrategyError(f"{file}: no class {class_name!r} (strategy classes there: {listing})")
        if not (isinstance(obj, type) and issubclass(obj, Strategy)):
            raise StrategyError(f"{file}:{_lineno(obj) or '?'}: {class_name} is not a Strategy subclass")
        return obj
    chosen = getattr(module, "STRATEGY", None)
    if isinstance(chosen, type) and issubclass(chosen, Strategy):
        return chosen
    if len(defined) == 1:
        return next(iter(defined.values()))
    if not defined:
        raise StrategyError(f"{file}: defines no Strategy subclass")
    listing = ", ".join(f"{n} (line {_lineno(c)})" for n, c in defined.items())
    raise StrategyError(f"{file}: several strategies ({listing}); name one as {file}:ClassName")


def _lineno(obj: object) -> int | None:
    try:
        import inspect

        return inspect.getsourcelines(obj)[1]  # type: ignore[arg-type]
    except (OSError, TypeError):
        return None
