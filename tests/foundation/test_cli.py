"""The CLI as a user runs it: real subprocesses with a fresh QUANTAI_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def quantai(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quantai_tui", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_help_lists_every_command() -> None:
    r = quantai("--help")
    assert r.returncode == 0
    for cmd in ("tui", "headless", "record", "backtest", "sweep", "data", "ask", "kb", "events", "config", "kill"):
        assert cmd in r.stdout


def test_help_does_not_import_heavy_packages() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from quantai_tui.cli import build_parser\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: build_parser().parse_args(['--help'])\n"
        "    except SystemExit: pass\n"
        "heavy = [m for m in ('textual', 'rich', 'ccxt', 'chromadb', 'pandas', 'pandas_ta', 'openai', 'pyarrow',"
        " 'aiosqlite', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_config_init_show_path(tmp_path: Path) -> None:
    env = {"QUANTAI_HOME": str(tmp_path)}
    r = quantai("config", "path", "--json", env=env)
    paths = json.loads(r.stdout)
    assert paths["config_file"].startswith(str(tmp_path))
    r = quantai("config", "init", env=env)
    assert r.returncode == 0 and Path(paths["config_file"]).exists()
    assert quantai("config", "init", env=env).returncode != 0  # never overwrites silently
    r = quantai("config", "show", env={**env, "QUANTAI_SIM__SEED": "77"})
    assert "seed = 77" in r.stdout
    r = quantai("--profile", "live", "config", "path", "--json", env=env)
    assert json.loads(r.stdout)["store_file"] != paths["store_file"]


def test_a_bad_config_is_a_one_line_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[general]\nmode = 3\n")
    r = quantai("--config", str(cfg), "config", "show", env={"QUANTAI_HOME": str(tmp_path)})
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "general.mode" in lines[0] and str(cfg) in lines[0]


def test_events_commands_on_a_missing_store(tmp_path: Path) -> None:
    r = quantai("events", "export", env={"QUANTAI_HOME": str(tmp_path)})
    assert r.returncode == 1 and "no event store" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--no-such-flag"], ["nosuchcommand"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    assert quantai(*argv).returncode == 2
