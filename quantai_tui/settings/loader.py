"""Reading, validating, layering and writing settings.

Errors are one line naming the key and where it came from:
    config error: /home/me/.config/quantai/config.toml: unknown key 'risk.max_ordr_qty'
    config error: environment QUANTAI_RISK__MAX_OPEN_ORDERS: 'risk.max_open_orders' must be an integer, got 'ten'
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from quantai_tui.core.errors import ConfigError
from quantai_tui.paths import Paths
from quantai_tui.settings.schema import Settings

ENV_PREFIX = "QUANTAI_"
_SECRET_WORDS = ("secret", "password", "passphrase", "token", "api_key")


def _type_name(tp: Any) -> str:
    if tp is int:
        return "an integer"
    if tp is float or tp is Decimal:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if typing.get_origin(tp) is list:
        return "a list"
    if typing.get_origin(tp) is dict or dataclasses.is_dataclass(tp):
        return "a table"
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return str(tp)


def _coerce(tp: Any, value: Any, key: str, source: str) -> Any:
    def bad() -> ConfigError:
        return ConfigError(f"{source}: {key!r} must be {_type_name(tp)}, got {value!r}")

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or value == "":
            return None
        return _coerce(args[0], value, key, source)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad()
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise bad()
        return [_coerce(item, v, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        _, vt = typing.get_args(tp)
        if not isinstance(value, dict):
            raise bad()
        return {str(k): _coerce(vt, v, f"{key}.{k}", source) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad()
        return _build(tp, value, key, source)  # type: ignore[arg-type]
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        return float(value)
    if tp is Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise bad()
        try:
            d = Decimal(repr(value) if isinstance(value, float) else str(value))
        except InvalidOperation:
            raise bad() from None
        if not d.is_finite():
            raise bad()
        return d
    if tp is str:
        if not isinstance(value, str):
            raise bad()
        return value
    raise ConfigError(f"{source}: {key!r} has an unsupported type {tp}")


def _build(cls: type, data: Mapping[str, Any], prefix: str, source: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in data:
        if k not in names:
            full = f"{prefix}.{k}" if prefix else k
            raise ConfigError(f"{source}: unknown key {full!r}")
    kwargs = {}
    for k, v in data.items():
        full = f"{prefix}.{k}" if prefix else k
        kwargs[k] = _coerce(hints[k], v, full, source)
    return cls(**kwargs)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except PermissionError:
        raise ConfigError(f"{path}: cannot read the config file (permission denied)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _set_path(tree: dict[str, Any], dotted: list[str], value: Any) -> None:
    node = tree
    for part in dotted[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{'.'.join(dotted)} is not inside a table")
    node[dotted[-1]] = value


def env_layer(env: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """QUANTAI_SECTION__KEY=value (QUANTAI_EXCHANGES__BINANCE__TESTNET=true) as small trees."""
    out = []
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        dotted = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        tree: dict[str, Any] = {}
        _set_path(tree, dotted, _parse_env_value(raw))
        out.append((f"environment {name}", tree))
    return out


def load_settings(
    paths: Paths,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Defaults < config file < environment < overrides ({"general.mode": "live", ...})."""
    env = os.environ if env is None else env
    path = config_file or paths.config_file
    layers: list[tuple[str, dict[str, Any]]] = [(str(path), read_toml(path))]
    layers += env_layer(env)
    if overrides:
        tree: dict[str, Any] = {}
        for k, v in overrides.items():
            if v is not None:
                _set_path(tree, k.split("."), v)
        layers.append(("command line", tree))
    merged: dict[str, Any] = {}
    for source, data in layers:
        # validate each layer on its own, so an error names the layer it came from
        _build(Settings, _merge(merged, data), "", source)
        merged = _merge(merged, data)
    return _build(Settings, merged, "", "settings")


# --- writing ------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if getattr(value, f.name) is not None}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


def settings_to_dict(settings: Settings, redact: bool = True) -> dict[str, Any]:
    data = _plain(settings)
    return _redacted(data) if redact else data


def _redacted(data: Any, key: str = "") -> Any:
    if isinstance(data, dict):
        return {k: _redacted(v, k) for k, v in data.items()}
    k = key.lower()
    if (
        isinstance(data, str)
        and data
        and any(w in k for w in _SECRET_WORDS)
        and not k.endswith(("_env", "_file"))
    ):
        return "***"
    return data


def dump_toml(data: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(data)


def default_config_text() -> str:
    """A config.toml with every setting at its default, each preceded by its description."""
    lines = ["# QuantAI TUI configuration. Every key is optional; these are the defaults.", ""]
    s = Settings()
    for f in dataclasses.fields(Settings):
        if f.name == "exchanges":
            lines += [
                "# [exchanges.binance]            # one table per venue",
                "# rest_url = \"\"                  # REST base URL override",
                "# ws_url = \"\"                    # WebSocket base URL override",
                "# testnet = false",
                "# api_key_env = \"BINANCE_API_KEY\"",
                "# api_secret_env = \"BINANCE_API_SECRET\"",
                "",
            ]
            continue
        section = getattr(s, f.name)
        lines.append(f"[{f.name}]")
        for sf in dataclasses.fields(section):
            value = getattr(section, sf.name)
            if sf.metadata.get("doc"):
                lines.append(f"# {sf.metadata['doc']}")
            if value is None:
                lines.append(f"# {sf.name} =")
                continue
            if isinstance(value, dict):  # inline, or tomli-w would open a new table
                items = ", ".join(dump_toml({k: _plain(v)}).strip() for k, v in value.items())
                lines.append(f"{sf.name} = {{{' ' + items + ' ' if items else ''}}}")
                continue
            lines.append(dump_toml({sf.name: _plain(value)}).strip())
        lines.append("")
    return "\n".join(lines)


def write_config(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a config."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def update_config_value(path: Path, dotted: str, value: Any) -> None:
    """Set one key in the config file, keeping the rest (used to persist e.g. the theme)."""
    data = read_toml(path)
    _set_path(data, dotted.split("."), value)
    _build(Settings, data, "", str(path))
    write_config(path, dump_toml(data))
