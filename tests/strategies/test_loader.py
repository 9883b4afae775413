"""Loading strategies by built-in name, module in strategies/, or path[:Class]; errors name
the file and the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from quantai_tui.core.errors import StrategyError
from quantai_tui.engine.strategy import Strategy
from quantai_tui.engine.strategy_loader import list_strategies, load_strategy

BUILTINS = ("ma_crossover", "mean_reversion", "pairs_trading", "momentum_breakout", "ai_guided")


def _write(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


GOOD = """
    from quantai_tui.engine.strategy import Param, Strategy

    class Alpha(Strategy):
        n = Param(3)

    class Beta(Strategy):
        pass
"""


@pytest.mark.parametrize("name", BUILTINS)
def test_builtins_load_by_name(name):
    cls = load_strategy(name)
    assert issubclass(cls, Strategy) and cls.strategy_name() == name
    import sys

    doc = sys.modules[cls.__module__].__doc__ or ""
    assert "quantai backtest --strategy " + name in doc  # each example documents itself and its use
    assert name in list_strategies()


def test_module_in_cwd_strategies(tmp_path, monkeypatch):
    (tmp_path / "strategies").mkdir()
    _write(tmp_path / "strategies" / "mine.py", "from quantai_tui.engine.strategy import Strategy\n\nclass Mine(Strategy):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert load_strategy("mine").__name__ == "Mine"


def test_path_and_class(tmp_path):
    f = _write(tmp_path / "two.py", GOOD)
    assert load_strategy(f"{f}:Beta").__name__ == "Beta"
    with pytest.raises(StrategyError) as info:
        load_strategy(str(f))
    msg = str(info.value)
    assert str(f) in msg and "several strategies" in msg and "Alpha (line 4)" in msg and "Beta (line 7)" in msg


def test_missing_class_names_the_file_and_what_is_there(tmp_path):
    f = _write(tmp_path / "two.py", GOOD)
    with pytest.raises(StrategyError) as info:
        load_strategy(f"{f}:Gamma")
    assert str(info.value) == f"{f.resolve()}: no class 'Gamma' (strategy classes there: Alpha (line 4), Beta (line 7))" \
        or str(info.value).startswith(f"{f}: no class 'Gamma'")


def test_syntax_error_names_file_and_line(tmp_path):
    f = _write(tmp_path / "broken.py", """
        from quantai_tui.engine.strategy import Strategy

        class Broken(Strategy):
            def on_tick(self, tick)
                pass
    """)
    with pytest.raises(StrategyError) as info:
        load_strategy(str(f))
    msg = str(info.value)
    assert msg.startswith(f"{f}:5: syntax error") or msg.startswith(f"{f.resolve()}:5: syntax error"), msg


def test_error_while_importing_names_the_line(tmp_path):
    f = _write(tmp_path / "boom.py", """
        from quantai_tui.engine.strategy import Strategy
        x = 1
        y = x / 0
    """)
    with pytest.raises(StrategyError, match=r"boom\.py:4: error while loading: ZeroDivisionError"):
        load_strategy(str(f))


def test_not_a_strategy(tmp_path):
    f = _write(tmp_path / "plain.py", "class Thing:\n    pass\n")
    with pytest.raises(StrategyError, match=r"plain\.py:1: Thing is not a Strategy subclass"):
        load_strategy(f"{f}:Thing")
    with pytest.raises(StrategyError, match="defines no Strategy subclass"):
        load_strategy(str(f))


def test_unknown_name_and_missing_file(tmp_path):
    with pytest.raises(StrategyError, match=r"unknown strategy 'nope' \(available: .*ma_crossover"):
        load_strategy("nope")
    with pytest.raises(StrategyError, match="no such strategy file"):
        load_strategy(str(tmp_path / "missing.py"))
