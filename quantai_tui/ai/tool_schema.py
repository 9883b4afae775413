"""JSON schemas from Python signatures, and argument validation against them.

A tool is a typed function; its parameters become a JSON-schema object the model sees, with
descriptions from the docstring's `Args:` section. The same type hints validate (and gently
coerce) what the model sends back: "10" for an int is fine, "ten" is an error that goes back to
the model as a tool error. Supported types: str, int, float, bool, Decimal, Literal[...],
Optional[X] / X | None, list[X], dict[str, X], unions of those, and Any.

Pure functions, no I/O; `ToolDefinitionError` names the function's file and line.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Union

from quantai_tui.core.errors import AIError, ToolError

__all__ = [
    "Param",
    "ToolDefinitionError",
    "parse_docstring",
    "schema_for",
    "validate_arguments",
    "where",
]

_NONE = type(None)


class ToolDefinitionError(AIError):
    """A tool's signature or registration is unusable; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    hint: Any
    required: bool
    default: Any
    description: str


def where(func: Callable[..., Any]) -> str:
    """`file:line` of a function, for error messages."""
    try:
        code = func.__code__
        return f"{code.co_filename}:{code.co_firstlineno}"
    except AttributeError:
        return getattr(func, "__qualname__", repr(func))


# -- docstrings --------------------------------------------------------------------------------

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Examples?|Notes?)\s*:\s*$")
_ARG = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {arg: description}) from a Google-style docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    desc: list[str] = []
    args: dict[str, str] = {}
    section = ""
    current = ""
    arg_indent = -1
    for line in lines:
        m = _SECTION.match(line)
        if m:
            section = m.group(1).lower()
            current = ""
            arg_indent = -1
            continue
        if not section:
            desc.append(line)
            continue
        if section not in ("args", "arguments", "parameters") or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        am = _ARG.match(line)
        if am and (arg_indent < 0 or indent <= arg_indent):
            arg_indent = indent
            current = am.group(1)
            args[current] = am.group(2).strip()
        elif current:  # continuation line of the current argument
            args[current] = f"{args[current]} {line.strip()}".strip()
    text = "\n".join(desc).strip()
    # one paragraph per line break: models read prose better than hard-wrapped text
    text = re.sub(r"(?<!\n)\n(?!\n)", " ", text)
    return text, args


# -- schemas -----------------------------------------------------------------------------------


def _is_optional(hint: Any) -> tuple[bool, Any]:
    """(True, X) for Optional[X] / X | None; (False, hint) otherwise."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not _NONE]
        if len(args) < len(typing.get_args(hint)):
            inner = args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007 - built at run time
            return True, inner
    return False, hint


def schema_for(hint: Any, what: str) -> dict[str, Any]:
    """The JSON schema of one type hint; ToolDefinitionError (`what` says where) if unsupported."""
    if hint is Any or hint is inspect.Parameter.empty:
        return {}
    optional, inner = _is_optional(hint)
    if optional:
        return schema_for(inner, what)
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is Decimal:
        return {"type": "number"}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        kinds = {type(a) for a in args}
        out: dict[str, Any] = {"enum": list(args)}
        if kinds == {str}:
            out["type"] = "string"
        elif kinds <= {int}:
            out["type"] = "integer"
        return out
    if hint is list or origin is list:
        return {"type": "array", "items": schema_for(args[0], what) if args else {}}
    if hint is dict or origin is dict:
        if args and args[0] is not str:
            raise ToolDefinitionError(f"{what}: dict keys must be str (JSON objects have string keys)")
        out = {"type": "object"}
        if len(args) == 2 and args[1] is not Any:
            out["additionalProperties"] = schema_for(args[1], what)
        return out
    if origin in (Union, types.UnionType):
        return {"anyOf": [schema_for(a, what) for a in args]}
    raise ToolDefinitionError(f"{what}: unsupported type {hint!r} (use str, int, float, bool, Decimal, Literal, "
                              "list, dict or Optional of those)")


# -- validation --------------------------------------------------------------------------------

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


class _Bad(Exception):
    pass


def _coerce(value: Any, hint: Any, path: str) -> Any:
    if hint is Any or hint is inspect.Parameter.empty:
        return value
    optional, inner = _is_optional(hint)
    if optional:
        return None if value is None else _coerce(value, inner, path)
    if value is None:
        raise _Bad(f"{path} must not be null")
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a date such as 20250301 sent as a number
        raise _Bad(f"{path} must be a string, got {_kind(value)}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _Bad(f"{path} must be true or false, got {_kind(value)}")
    if hint is int:
        if isinstance(value, bool):
            raise _Bad(f"{path} must be an integer, got a boolean")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _Bad(f"{path} must be an integer, got {_kind(value)}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _Bad(f"{path} must be a number, got {_kind(value)}")
    if hint is Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _Bad(f"{path} must be a number, got {_kind(value)}")
        try:
            d = Decimal(str(value).strip())  # str(): 0.1 stays 0.1, not its binary expansion
        except InvalidOperation:
            raise _Bad(f"{path} must be a number, got {value!r}") from None
        if not d.is_finite():
            raise _Bad(f"{path} must be a finite number, got {value!r}")
        return d
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        for choice in args:
            if value == choice and type(value) is type(choice):
                return choice
            if isinstance(choice, str) and isinstance(value, str) and value.strip().lower() == choice.lower():
                return choice
        raise _Bad(f"{path} must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
    if hint is list or origin is list:
        if not isinstance(value, list):
            raise _Bad(f"{path} must be an array, got {_kind(value)}")
        item = args[0] if args else Any
        return [_coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise _Bad(f"{path} must be an object, got {_kind(value)}")
        item = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(v, item, f"{path}.{k}") for k, v in value.items()}
    if origin in (Union, types.UnionType):
        errors = []
        for a in args:
            try:
                return _coerce(value, a, path)
            except _Bad as e:
                errors.append(str(e))
        raise _Bad("; or ".join(errors))
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number"}
    text = repr(value)
    return f"{names.get(type(value), type(value).__name__)} ({text if len(text) <= 40 else text[:37] + '...'})"


def validate_arguments(tool: str, params: Mapping[str, Param], given: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments for the call, coerced to the declared types; ToolError (every
    problem, one line) when the model's arguments do not fit."""
    problems: list[str] = []
    out: dict[str, Any] = {}
    unknown = [k for k in given if k not in params]
    if unknown:
        expected = ", ".join(params) or "no arguments"
        problems.append(f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                        f"(expected: {expected})")
    for name, p in params.items():
        if name not in given:
            if p.required:
                problems.append(f"missing required argument {name!r}")
            continue
        try:
            out[name] = _coerce(given[name], p.hint, name)
        except _Bad as e:
            problems.append(str(e))
    if problems:
        raise ToolError(f"invalid arguments for {tool}: " + "; ".join(problems))
    return out
