"""Binance.US speaks Binance spot's dialect."""

from __future__ import annotations

import dataclasses

from actors.trading.dialects import binance

DIALECT = dataclasses.replace(binance.DIALECT, exchange="binanceus")
