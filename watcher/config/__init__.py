"""Configuration: find, parse and validate ``sync.toml`` into frozen typed objects."""

from watcher.config.load import (
    CONFIG_ENV,
    find_config,
    load_config,
    parse_config,
    parse_config_file,
)
from watcher.config.model import (
    MODES,
    PROVIDERS,
    BackupConfig,
    Config,
    Mode,
    Provider,
    TransferConfig,
    is_secret,
)
from watcher.config.values import test_limits

__all__ = [
    "CONFIG_ENV",
    "MODES",
    "PROVIDERS",
    "BackupConfig",
    "Config",
    "Mode",
    "Provider",
    "TransferConfig",
    "find_config",
    "is_secret",
    "load_config",
    "parse_config",
    "parse_config_file",
    "test_limits",
]
