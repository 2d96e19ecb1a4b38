"""Kept importable for older imports: the settings live in ``runtime.settings``
(a module with no side effects, below every other package)."""
from runtime.settings import (FALSE, INSTANCE, ROOT, TRUE, ConfigError, Settings,  # noqa: F401
                              parse_bool, parse_int)
