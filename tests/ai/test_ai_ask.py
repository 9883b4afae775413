"""`quantai ask` and `quantai kb` as real subprocesses, against a local OpenAI-compatible server.

The Done-when flow: BTC/USDT 1m bars for 2025-03-01..2025-03-10 in the local catalog (written by
the data layer's Binance klines import), a model configured through QUANTAI_LLM__* variables,
and `quantai ask "backtest a 10/30 moving average crossover ..."` runs a real backtest whose
metrics are in the answer, equal to a direct run_backtest call's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ai.ai_helpers import API_KEY, ROOT, cli_env, import_bars
from tests.fakes.openai_server import FakeOpenAIServer, Reply, error_reply, stream_reply, text_chunks, tool_call_chunks

QUESTION = "backtest a 10/30 moving average crossover on BTC/USDT from 2025-03-01 to 2025-03-10"
BT_ARGS = {"strategy": "ma_crossover", "instrument": "BTC/USDT", "start": "2025-03-01", "end": "2025-03-10",
           "params": {"fast": 10, "slow": 30}}


class QuotingServer(FakeOpenAIServer):
    """A scripted model whose last reply quotes the metrics of the tool result it was sent, the way
    a real model summarises a backtest (requests are recorded before a reply is chosen)."""

    def next_reply(self) -> Reply:
        reply = super().next_reply()
        if reply.sse == ["QUOTE"]:
            msgs = self.requests[-1].json["messages"]
            result = json.loads(next(m["content"] for m in reversed(msgs) if m["role"] == "tool"))
            m = result["metrics"]
            text = (f"The 10/30 crossover returned {m['return_pct']:.2f}% with a Sharpe of {m['sharpe']:.2f}, "
                    f"a max drawdown of {m['max_drawdown_pct']:.2f}% and {m['trades']} round trips.")
            return stream_reply(text_chunks([text[:30], text[30:]]), usage=(900, 60))
        return reply


def backtest_script() -> list[Reply]:
    args = json.dumps(BT_ARGS)
    frags = [args[i:i + 9] for i in range(0, len(args), 9)]  # arguments arrive in fragments
    return [stream_reply(tool_call_chunks([("call_bt", "run_backtest", frags)]), usage=(800, 40)),
            Reply(sse=["QUOTE"])]


def ask(home: Path, base_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quantai_tui", "ask", *args], env=cli_env(home, base_url, **env),
                          capture_output=True, text=True, timeout=180, cwd=ROOT)


@pytest.fixture(scope="module")
def bars_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ask")
    home = tmp / "home"
    import_bars(home, tmp)
    return home


@pytest.fixture(scope="module")
def direct_metrics(bars_home: Path) -> dict[str, Any]:
    """The same backtest through the library API (same catalog: QUANTAI_HOME points there)."""
    script = (
        "import json\n"
        "from quantai_tui.backtest.api import CatalogQuery, run_backtest\n"
        "r = run_backtest('ma_crossover', CatalogQuery('BTC/USDT', '1m', '2025-03-01', '2025-03-10'),"
        " {'fast': 10, 'slow': 30})\n"
        "print(json.dumps(r.to_dict()))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=cli_env(bars_home, "http://127.0.0.1:9/v1"),
                         capture_output=True, text=True, timeout=180, cwd=ROOT, check=True)
    return json.loads(out.stdout)


def test_done_when_ask_runs_a_real_backtest_and_answers_with_its_metrics(bars_home: Path,
                                                                         direct_metrics: dict[str, Any]) -> None:
    with QuotingServer(backtest_script()) as srv:
        t0 = time.perf_counter()
        r = ask(bars_home, srv.base_url, QUESTION)
        elapsed = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    d = direct_metrics
    assert d["trades"] > 10 and d["ticks"] > 12_000  # a real run over nine days of 1m bars
    # the answer on stdout quotes the backtest's metrics...
    assert f"returned {d['return_pct']:.2f}%" in r.stdout
    assert f"Sharpe of {d['sharpe']:.2f}" in r.stdout
    assert f"max drawdown of {d['max_drawdown_pct']:.2f}%" in r.stdout
    assert f"{d['trades']} round trips" in r.stdout
    # ...and the metrics block printed from the tool result itself
    assert "Backtest bt1 · ma_crossover fast=10 slow=30 qty=0.01 · binance BTC/USDT 1m bars" in r.stdout
    assert f"return_pct={round(d['return_pct'], 4)}" in r.stdout
    assert f"trades={d['trades']}" in r.stdout
    # tool calls on stderr, not stdout
    assert '⚙ run_backtest(strategy="ma_crossover", instrument="BTC/USDT", start="2025-03-01"' in r.stderr
    assert "✓ run_backtest" in r.stderr and "⚙" not in r.stdout
    assert elapsed < 60


def test_ask_json_metrics_equal_a_direct_run(bars_home: Path, direct_metrics: dict[str, Any]) -> None:
    with QuotingServer(backtest_script()) as srv:
        r = ask(bars_home, srv.base_url, QUESTION, "--json")
        sent = srv.chat_requests
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    call = out["tool_calls"][0]
    assert call["name"] == "run_backtest" and call["ok"] and call["arguments"]["params"] == {"fast": 10, "slow": 30}
    metrics = json.loads(call["result"])["metrics"]
    for k in ("return_pct", "sharpe", "sortino", "max_drawdown_pct", "win_rate", "profit_factor", "exposure_pct",
              "final_equity"):
        assert metrics[k] == round(direct_metrics[k], 4), k
    assert metrics["trades"] == direct_metrics["trades"] and metrics["fills"] == direct_metrics["fills"]
    assert out["usage"] == {"prompt_tokens": 1700, "completion_tokens": 100}
    assert out["drafts"] == [] and out["rounds"] == 2
    # the model was configured from the environment and given the tools by schema
    assert sent[0].json["model"] == "fake-model" and sent[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert {t["function"]["name"] for t in sent[0].json["tools"]} >= {"run_backtest", "load_crypto_binance_data"}


def test_ask_stores_tool_events_and_never_leaks_the_key(bars_home: Path) -> None:
    with QuotingServer(backtest_script()) as srv:
        r = ask(bars_home, srv.base_url, QUESTION, QUANTAI_GENERAL__LOG_LEVEL="DEBUG")
    assert r.returncode == 0, r.stderr
    from quantai_tui.store.sqlite import read_events

    store = bars_home / "data" / "events.sqlite"
    events = [e for _, e in read_events(store, types=["ToolCalled", "ToolResult"])]
    assert [type(e).__name__ for e in events[-2:]] == ["ToolCalled", "ToolResult"]
    assert events[-1].tool == "run_backtest" and events[-1].ok and '"metrics"' in events[-1].result
    log = bars_home / "log" / "quantai.log"
    for text in (r.stdout, r.stderr, store.read_bytes().decode(errors="replace"), log.read_text()):
        assert API_KEY not in text


def test_ask_while_an_engine_holds_the_profile_store(bars_home: Path) -> None:
    """Tool events go to a side store rather than racing the engine's writer."""
    import fcntl
    import os

    run = bars_home / "data" / "run"
    run.mkdir(parents=True, exist_ok=True)
    fd = os.open(run / "engine.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with QuotingServer(backtest_script()) as srv:
            r = ask(bars_home, srv.base_url, QUESTION, "--quiet")
    finally:
        os.close(fd)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # --quiet: no tool lines
    from quantai_tui.store.sqlite import read_events

    side = [e for _, e in read_events(bars_home / "data" / "ai_audit.sqlite")]
    assert [type(e).__name__ for e in side] == ["ToolCalled", "ToolResult"]


def test_no_model_configured_says_how_to_configure_one(tmp_path: Path) -> None:
    r = ask(tmp_path, "", "hello", QUANTAI_LLM__MODEL="", QUANTAI_LLM__BASE_URL="")
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("quantai ask: no model configured: set [llm] model")


def test_server_error_is_one_line_and_non_zero(tmp_path: Path) -> None:
    with FakeOpenAIServer([error_reply(500, "the model is down")] * 5) as srv:
        r = ask(tmp_path, srv.base_url, "hello", QUANTAI_LLM__MAX_RETRIES="1")
    assert r.returncode == 1 and r.stdout == ""
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("quantai ask: HTTP 500 from http://127.0.0.1:") and "the model is down" in last
    assert "retry 1/1" in r.stderr and API_KEY not in r.stderr


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    r = ask(tmp_path, "http://127.0.0.1:9/v1", "hello", QUANTAI_LLM__MAX_RETRIES="0")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("quantai ask: cannot reach http://127.0.0.1:9/v1")


def test_bad_tools_module_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "desk_tools.py"
    bad.write_text("from quantai_tui.ai.tools import tool\n\n@tool\nasync def f(x) -> int:\n    '''Doc.'''\n")
    r = ask(tmp_path, "http://127.0.0.1:9/v1", "hello", QUANTAI_AI__TOOLS_MODULE=str(bad))
    assert r.returncode == 1
    assert r.stderr.strip() == f"quantai ask: {bad}:3: tool f: parameter 'x' has no type annotation"


def test_answer_with_citations_on_stdout(tmp_path: Path) -> None:
    from quantai_tui.ai.kb import KnowledgeBase

    home = tmp_path / "home"
    kb = KnowledgeBase(home / "data" / "kb")
    kb.add_text("# Funding\n\nPerpetual funding is paid every eight hours between longs and shorts.",
                source="notes/funding.md", kind="md", title="Funding notes")
    kb.close()
    script = [stream_reply(tool_call_chunks([("c1", "search_knowledge", ['{"query": "how often is funding paid"}'])])),
              stream_reply(text_chunks(["Every eight hours [1]."]))]
    with FakeOpenAIServer(script) as srv:
        r = ask(home, srv.base_url, "how often is funding paid?")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "Every eight hours [1]."
    assert "Sources:\n[1] Funding notes" in r.stdout and "(notes/funding.md)" in r.stdout


def test_ask_module_imports_stay_light() -> None:
    code = ("import sys, quantai_tui.cli, quantai_tui.commands.ask, quantai_tui.commands.kb\n"
            "heavy = [m for m in ('openai', 'chromadb', 'numpy', 'textual', 'pyarrow') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_ai_package_never_imports_the_ui() -> None:
    code = ("import sys\nimport quantai_tui.ai.agent, quantai_tui.ai.assistant, quantai_tui.ai.tools_builtin\n"
            "from quantai_tui.ai.tools_builtin import builtin_registry\nbuiltin_registry()\n"
            "print([m for m in ('textual', 'quantai_tui.tui', 'quantai_tui.headless') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
