"""`quantai kb add | search | list | remove` as subprocesses on a temporary QUANTAI_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ai.ai_helpers import ROOT


def kb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTAI_")}
    env.update(QUANTAI_HOME=str(home), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "quantai_tui", "kb", *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=ROOT)


def test_kb_add_search_list_remove(tmp_path: Path) -> None:
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "funding.md").write_text("# Funding rates\n\nLongs pay shorts every eight hours when the perpetual "
                                     "trades above the index.\n")
    (docs / "sub" / "orders.txt").write_text("A post-only limit order is cancelled instead of taking liquidity.\n")
    (docs / "sub" / "image.png").write_bytes(b"\x89PNG")  # not a document: skipped
    (docs / ".hidden").mkdir()
    (docs / ".hidden" / "secret.md").write_text("# hidden\n")

    added = kb(home, "add", str(docs))
    assert added.returncode == 0, added.stderr
    lines = added.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("added") for line in lines)
    assert "Funding rates" in added.stdout and "orders.txt" in added.stdout
    assert "embedding [1/2]" in added.stderr  # progress on stderr

    again = kb(home, "add", str(docs / "funding.md"))
    assert again.returncode == 0 and again.stdout.startswith("unchanged")

    listed = kb(home, "list", "--json")
    assert listed.returncode == 0
    entries = json.loads(listed.stdout)
    assert sorted(e["title"] for e in entries) == ["Funding rates", "orders.txt"]
    table = kb(home, "list")
    assert table.stdout.splitlines()[0].startswith("ID") and "Funding rates" in table.stdout

    found = kb(home, "search", "who pays funding every eight hours", "-k", "1")
    assert found.returncode == 0
    assert found.stdout.startswith("[1] ") and "Funding rates" in found.stdout and "funding.md" in found.stdout

    gone = kb(home, "remove", str(docs / "funding.md"))
    assert gone.returncode == 0 and gone.stdout.startswith("removed") and "Funding rates" in gone.stdout
    assert [e["title"] for e in json.loads(kb(home, "list", "--json").stdout)] == ["orders.txt"]

    missing = kb(home, "remove", "nope")
    assert missing.returncode == 1 and "no document 'nope'" in missing.stderr

    bad = kb(home, "add", str(tmp_path / "absent.md"), "ftp://example.com/x")
    assert bad.returncode == 1
    assert "no such file" in bad.stderr and "unsupported URL scheme" in bad.stderr and "2 of 2 source(s) failed" in \
        bad.stderr
