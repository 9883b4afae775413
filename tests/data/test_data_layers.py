"""data/, connectors/sim and connectors/ccxt stay below the engine and light to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _loaded(code: str) -> set[str]:
    script = "import sys\n" + code + "\nprint(','.join(sorted(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.strip().split(","))


def test_data_and_these_connectors_load_no_ui_and_no_engine() -> None:
    mods = _loaded(
        "import importlib, pkgutil, sys\n"
        "for name in ('quantai_tui.data', 'quantai_tui.connectors.sim', 'quantai_tui.connectors.ccxt'):\n"
        "    pkg = importlib.import_module(name)\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
    )
    assert not {"textual", "rich"} & mods
    assert not any(m.startswith(("quantai_tui.engine", "quantai_tui.tui", "quantai_tui.ai")) for m in mods)


def test_the_sim_ccxt_connector_and_commands_import_nothing_heavy() -> None:
    mods = _loaded("import quantai_tui.connectors.sim, quantai_tui.connectors.ccxt, quantai_tui.commands.record, "
                   "quantai_tui.commands.data")
    assert not {"ccxt", "pyarrow", "numpy", "pandas"} & mods
