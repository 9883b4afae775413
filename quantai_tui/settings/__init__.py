"""Settings: one typed tree, layered defaults < config file < environment < flags."""

from quantai_tui.settings.loader import (
    default_config_text,
    dump_toml,
    load_settings,
    settings_to_dict,
    update_config_value,
    write_config,
)
from quantai_tui.settings.schema import (
    AiSettings,
    BacktestSettings,
    ExchangeSettings,
    GeneralSettings,
    LlmSettings,
    PaperSettings,
    RiskSettings,
    Settings,
    SimSettings,
    TuiSettings,
)

__all__ = [
    "AiSettings",
    "BacktestSettings",
    "ExchangeSettings",
    "GeneralSettings",
    "LlmSettings",
    "PaperSettings",
    "RiskSettings",
    "Settings",
    "SimSettings",
    "TuiSettings",
    "default_config_text",
    "dump_toml",
    "load_settings",
    "settings_to_dict",
    "update_config_value",
    "write_config",
]
