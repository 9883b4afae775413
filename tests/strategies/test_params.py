"""Typed strategy parameters: defaults, parsing of --param strings, clear one-line errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantai_tui.core.errors import StrategyError
from quantai_tui.engine.strategy import Param, Strategy, parse_param_args, resolve_params


class Demo(Strategy):
    name = "demo"
    fast = Param(10, "fast length", min=1)
    ratio = Param(0.5, "a float", min=0.0, max=1.0)
    qty = Param(Decimal("0.01"), "a decimal")
    mode = Param("trend", "a choice", choices=("trend", "range"))
    short = Param(False, "a flag")

    @staticmethod
    def validate_params(p):
        return "fast must be even" if p["fast"] % 2 else None


def test_defaults_and_typed_values():
    s = Demo({"fast": "12", "ratio": "0.25", "qty": "0.5", "mode": "range", "short": "yes"})
    assert (s.fast, s.ratio, s.qty, s.mode, s.short) == (12, 0.25, Decimal("0.5"), "range", True)
    assert type(s.fast) is int and type(s.qty) is Decimal
    assert Demo().params == {"fast": 10, "ratio": 0.5, "qty": Decimal("0.01"), "mode": "trend", "short": False}
    assert Demo.defaults()["fast"] == 10
    # typed values from the API work as well; a float that is an integer is an integer
    assert Demo({"fast": 14.0, "qty": 0.1}).params["qty"] == Decimal("0.1")


@pytest.mark.parametrize(("given", "message"), [
    ({"fsat": "10"}, "demo: unknown parameter 'fsat' (parameters: fast, ratio, qty, mode, short)"),
    ({"fast": "1.5"}, "demo: parameter fast must be an integer, got '1.5'"),
    ({"fast": "ten"}, "demo: parameter fast must be an integer, got 'ten'"),
    ({"fast": True}, "demo: parameter fast must be an integer, got True"),
    ({"fast": "0"}, "demo: parameter fast must be >= 1, got '0'"),
    ({"ratio": "2"}, "demo: parameter ratio must be <= 1.0, got '2'"),
    ({"ratio": "nan"}, "demo: parameter ratio must be a number, got 'nan'"),
    ({"qty": "abc"}, "demo: parameter qty must be a decimal number, got 'abc'"),
    ({"mode": "sideways"}, "demo: parameter mode must be one of trend, range, got 'sideways'"),
    ({"short": "maybe"}, "demo: parameter short must be true or false, got 'maybe'"),
    ({"fast": "11"}, "demo: fast must be even"),
])
def test_bad_parameters_are_one_line_errors(given, message):
    with pytest.raises(StrategyError) as info:
        resolve_params(Demo, given)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_param_args():
    assert parse_param_args(["fast=10", " slow = 50 ", "x="]) == {"fast": "10", "slow": "50", "x": ""}
    with pytest.raises(StrategyError, match="--param 'fast': expected NAME=VALUE"):
        parse_param_args(["fast"])


def test_param_default_types_are_checked():
    with pytest.raises(TypeError):
        Param([1, 2])  # type: ignore[arg-type]


def test_builtin_params_validate(tmp_path):
    from quantai_tui.engine.strategy_loader import load_strategy

    cls = load_strategy("ma_crossover")
    assert cls.defaults() == {"fast": 10, "slow": 30, "qty": Decimal("0.01")}
    with pytest.raises(StrategyError, match=r"fast \(30\) must be below slow \(20\)"):
        cls({"fast": "30", "slow": "20"})
