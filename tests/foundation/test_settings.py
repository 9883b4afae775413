from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from quantai_tui.core.errors import ConfigError
from quantai_tui.paths import Paths
from quantai_tui.settings import default_config_text, load_settings, settings_to_dict, update_config_value


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_defaults_without_a_file() -> None:
    s = load_settings(Paths(), env={})
    assert s.general.exchange == "sim" and s.general.mode == "paper"
    assert s.paper.initial_balance == Decimal("10000")
    assert s.store_synchronous() == "NORMAL" and s.store_synchronous("live") == "FULL"


def test_the_default_config_file_is_valid_and_equals_the_defaults(tmp_path: Path) -> None:
    s = load_settings(Paths(), env={}, config_file=write(tmp_path, default_config_text()))
    assert settings_to_dict(s) == settings_to_dict(load_settings(Paths(), env={}))


def test_unknown_key_names_the_key_and_file(tmp_path: Path) -> None:
    f = write(tmp_path, "[risk]\nmax_ordr_qty = 1\n")
    with pytest.raises(ConfigError) as e:
        load_settings(Paths(), env={}, config_file=f)
    msg = str(e.value)
    assert "risk.max_ordr_qty" in msg and str(f) in msg and "\n" not in msg


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'riks'"):
        load_settings(Paths(), env={}, config_file=write(tmp_path, "[riks]\nx = 1\n"))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[risk]\nmax_open_orders = "ten"\n', "risk.max_open_orders"),
        ("[general]\nmode = 'yolo'\n", "general.mode"),
        ("[general]\nsymbols = 'BTC/USDT'\n", "general.symbols"),
        ("[paper]\ninitial_balance = 'lots'\n", "paper.initial_balance"),
        ("[sim]\nseed = true\n", "sim.seed"),
        ("[exchanges.binance]\ntestnet = 'yes'\n", "exchanges.binance.testnet"),
    ],
)
def test_wrong_type_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(Paths(), env={}, config_file=write(tmp_path, text))


def test_invalid_toml_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(Paths(), env={}, config_file=write(tmp_path, "[risk\n"))
    f = write(tmp_path, "[risk]\n")
    f.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make it a directory instead
        f.chmod(0o644)
        f.unlink()
        f.mkdir()
        with pytest.raises(ConfigError, match="directory"):
            load_settings(Paths(), env={}, config_file=f)
    else:
        with pytest.raises(ConfigError, match="permission"):
            load_settings(Paths(), env={}, config_file=f)


def test_layers_file_then_environment_then_flags(tmp_path: Path) -> None:
    f = write(tmp_path, "[sim]\nseed = 1\nrate = 10\n[risk]\nmax_open_orders = 5\n")
    env = {"QUANTAI_SIM__SEED": "2", "QUANTAI_RISK__MAX_OPEN_ORDERS": "7", "QUANTAI_EXCHANGES__BINANCE__TESTNET": "true"}
    s = load_settings(Paths(), env=env, config_file=f, overrides={"sim.seed": 3})
    assert s.sim.seed == 3  # flag beats env beats file
    assert s.risk.max_open_orders == 7
    assert s.sim.rate == 10.0
    assert s.exchange("binance").testnet is True
    assert s.exchange("okx").testnet is False


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="QUANTAI_RISK__MAX_OPEN_ORDERS"):
        load_settings(Paths(), env={"QUANTAI_RISK__MAX_OPEN_ORDERS": "many"})


def test_profiles_keep_config_store_and_data_apart() -> None:
    a, b = Paths("default"), Paths("live")
    assert a.config_file != b.config_file and a.store_file != b.store_file and a.data_dir != b.data_dir
    assert "live" in str(b.store_file)
    with pytest.raises(ConfigError):
        Paths("../etc")


def test_computing_paths_touches_no_disk(_isolated_home: Path) -> None:
    p = Paths("x")
    _ = (p.config_file, p.store_file, p.recordings_dir, p.kb_dir, p.log_file, p.as_dict())
    assert list(_isolated_home.iterdir()) == []


def test_show_redacts_secrets() -> None:
    from quantai_tui.settings.loader import _redacted

    data = {"exchanges": {"x": {"api_key": "SECRET123", "api_key_env": "X_KEY", "api_secret": "S"}}}
    red = _redacted(data)
    assert red["exchanges"]["x"] == {"api_key": "***", "api_key_env": "X_KEY", "api_secret": "***"}


def test_update_config_value_keeps_the_rest(tmp_path: Path) -> None:
    f = write(tmp_path, "[sim]\nseed = 9\n")
    update_config_value(f, "tui.theme", "quantai-light")
    s = load_settings(Paths(), env={}, config_file=f)
    assert s.tui.theme == "quantai-light" and s.sim.seed == 9
    with pytest.raises(ConfigError):
        update_config_value(f, "tui.nope", 1)
