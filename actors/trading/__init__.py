"""The trading wing: pure engines (messages, orders, book, positions, risk, journal) and the
actors around them (market data, books, consolidated BBO, strategies, risk, router, private
sessions, journal), wired by :func:`desk_specs`.

The actor-level names are imported lazily, so importing an engine module does not load ccxt.

>>> from actors.trading import desk_specs, VenueSpec, DeskOptions   # doctest: +SKIP
>>> specs = desk_specs([VenueSpec("sim", ccxt_options, ("BTC/USDT",))], [], RiskLimits(),
...                    DeskOptions(journal_path="desk.sqlite"))     # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "desk_specs": "actors.trading.desk",
    "VenueSpec": "actors.trading.config",
    "StrategySpec": "actors.trading.config",
    "DeskOptions": "actors.trading.config",
    "Strategy": "actors.trading.strategy",
    "load_strategy": "actors.trading.strategy",
    "VenueBudget": "actors.trading.ratelimit",
    "RiskLimits": "actors.trading.risk",
    "SymbolLimits": "actors.trading.risk",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import the actor-level names on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'actors.trading' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
