"""`quantai headless --strategy ai_guided`: with `[llm]` pointed at the fake OpenAI-compatible
server the strategy's advisor asks the model; without a model it decides by its offline rule.
The whole CLI path runs in a subprocess; a spy on load_strategy_instance reports the
strategy's decisions (regime, source) on stderr when the run is over."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.fakes.openai_server import FakeOpenAIServer, text_reply
from tests.headless.helpers import REPO, TIMEOUT, cli_env

API_KEY = "sk-headless-test-0123456789"

RUN = """\
import json, sys
import quantai_tui.headless as headless
from quantai_tui.cli import main

made = []
real = headless.load_strategy_instance


def spy(*args, **kwargs):
    made.append(real(*args, **kwargs))
    return made[-1]


headless.load_strategy_instance = spy
rc = main(["headless", "--strategy", "ai_guided", "--param", "interval_s=1", "--duration", "2.5s"])
decisions = [[regime, source] for _ts, regime, source in made[0].decisions] if made else None
sys.stderr.write("DECISIONS=" + json.dumps(decisions) + "\\n")
sys.stderr.write("LOADED=" + ",".join(m for m in ("textual", "rich") if m in sys.modules) + "\\n")
sys.exit(rc)
"""


def _run(**env: str) -> tuple[list[list[str]], str]:
    full = cli_env(**env)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        if name not in env:
            full.pop(name, None)
    r = subprocess.run([sys.executable, "-W", "always::ResourceWarning", "-c", RUN], capture_output=True, text=True,
                       cwd=REPO, env=full, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.splitlines()[-1])["type"] == "EngineStopped"
    assert "LOADED=\n" in r.stderr  # headless never imports textual, with or without AI
    assert "nclosed" not in r.stderr, r.stderr[-3000:]  # the model client's connections were closed
    line = next(x for x in r.stderr.splitlines() if x.startswith("DECISIONS="))
    decisions: Any = json.loads(line.removeprefix("DECISIONS="))
    assert decisions, r.stderr[-3000:]  # the advice timer fired at least once
    return decisions, r.stderr


def test_ai_guided_in_headless_asks_the_configured_model() -> None:
    with FakeOpenAIServer([text_reply('{"regime": "flat"}') for _ in range(10)]) as srv:
        decisions, err = _run(QUANTAI_LLM__MODEL="fake-model", QUANTAI_LLM__BASE_URL=srv.base_url,
                              QUANTAI_LLM__MAX_RETRIES="0", OPENAI_API_KEY=API_KEY)
    assert srv.chat_requests, err[-3000:]
    sent = srv.chat_requests[0]
    assert sent.json["model"] == "fake-model"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(sent.json["messages"][-1]["content"])["strategy"] == "ai_guided"
    assert len(decisions) == len(srv.chat_requests)  # one question per advice tick
    assert all(d == ["flat", "advisor"] for d in decisions), decisions
    assert "ai_guided asks the model fake-model" in err
    assert API_KEY not in err


def test_ai_guided_in_headless_without_a_model_uses_its_offline_rule() -> None:
    with FakeOpenAIServer() as srv:  # there, but not configured: nothing may reach it
        decisions, err = _run(QUANTAI_LLM__BASE_URL=srv.base_url)
    assert srv.requests == []
    assert all(source == "offline" and regime in ("trend", "range", "flat") for regime, source in decisions), decisions
    assert "ai_guided runs on its offline rule: no model configured" in err
