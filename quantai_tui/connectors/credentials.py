"""Exchange keys: from the environment or a 0600 TOML file, wrapped in core.secrets.Secret.

    creds = load_credentials("binance", settings.exchange("binance"), live=True)
    sign(creds.api_secret.reveal(), payload)         # the one place a value is revealed

Errors name the environment variable or the file, never a value. In live mode a key file that
anyone but its owner can read is refused (chmod 600 it).
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantai_tui.core.errors import ConfigError
from quantai_tui.core.secrets import Secret


@dataclass(frozen=True)
class Credentials:
    api_key: Secret
    api_secret: Secret
    passphrase: Secret | None = None

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.api_key!r}, api_secret={self.api_secret!r})"


def check_key_file(path: Path, *, live: bool) -> None:
    """Refuse (in live mode) a key file readable or writable by group or others."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"key file {path} does not exist") from None
    if live and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"key file {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
                          f"run: chmod 600 {path}")


def load_credentials(venue: str, settings: Any, *, live: bool, environ: dict[str, str] | None = None) -> Credentials | None:
    """Keys for `venue` from `settings` (an ExchangeSettings): the key file if one is named,
    else the environment variables it names. None when nothing is configured."""
    env = os.environ if environ is None else environ
    key_file = getattr(settings, "key_file", "")
    if key_file:
        path = Path(key_file).expanduser()
        check_key_file(path, live=live)
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"key file {path} could not be read ({exc.strerror})") from None
        except tomllib.TOMLDecodeError:
            # the parser's message may quote the file's text (the secret): say nothing of it
            raise ConfigError(f"key file {path} is not valid TOML (api_key = \"...\", api_secret = \"...\")") from None
        src = str(path)
        try:
            key, secret = str(data["api_key"]), str(data["api_secret"])
        except KeyError as exc:
            raise ConfigError(f"key file {path} has no {exc.args[0]!r}") from None
        phrase = data.get("passphrase")
        return Credentials(Secret(key, src), Secret(secret, src), Secret(str(phrase), src) if phrase else None)
    key_env = getattr(settings, "api_key_env", "")
    secret_env = getattr(settings, "api_secret_env", "")
    if not key_env and not secret_env:
        return None
    missing = [n for n in (key_env, secret_env) if not n or not env.get(n)]
    if missing:
        raise ConfigError(f"{venue}: API key environment variable(s) not set: {', '.join(m or '(unnamed)' for m in missing)}")
    phrase_env = getattr(settings, "passphrase_env", "")
    phrase = env.get(phrase_env) if phrase_env else None
    return Credentials(Secret(env[key_env], key_env), Secret(env[secret_env], secret_env),
                       Secret(phrase, phrase_env) if phrase else None)
