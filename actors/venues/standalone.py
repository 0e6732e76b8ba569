"""Run embedded venue(s) on their own until SIGINT/SIGTERM, printing the ccxt options."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import TextIO

import trio

from actors.venues.client import ccxt_config
from actors.venues.config import LOOPBACK_HOSTS, VenueConfig
from actors.venues.server import serve_many


def build_configs(
    *,
    host: str,
    ports: Sequence[int],
    symbols: Sequence[str],
    seed: int,
    rate_hz: float,
    api_key: str = "sim-api-key",
    secret: str = "sim-secret",
    balances: dict[str, Decimal] | None = None,
) -> list[VenueConfig]:
    """One ``VenueConfig`` per port, named ``sim0``, ``sim1``... sharing seed and symbols."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the embedded venue listens on loopback only, not {host!r}")
    if not ports:
        raise ValueError("at least one port is required (0 picks a free one)")
    extra = {} if balances is None else {"balances": dict(balances)}
    return [
        VenueConfig(
            name=f"sim{i}",
            host=host,
            port=port,
            symbols=tuple(symbols),
            seed=seed,
            rate_hz=rate_hz,
            api_key=api_key,
            secret=secret,
            **extra,  # type: ignore[arg-type]
        )
        for i, port in enumerate(ports)
    ]


def run_sim_exchange(
    *,
    host: str = "127.0.0.1",
    ports: list[int],
    symbols: list[str],
    seed: int,
    rate_hz: float,
    api_key: str = "sim-api-key",
    secret: str = "sim-secret",
    out: TextIO | None = None,
) -> None:
    """Serve one venue per port until SIGINT/SIGTERM; print one JSON line of ccxt options each.

    Example: ``run_sim_exchange(ports=[8765], symbols=["BTC/USDT"], seed=1, rate_hz=50.0)``
    """
    configs = build_configs(
        host=host,
        ports=ports,
        symbols=symbols,
        seed=seed,
        rate_hz=rate_hz,
        api_key=api_key,
        secret=secret,
    )
    stream = out if out is not None else sys.stdout

    async def main() -> None:
        # The handler is in place before the first line says we are ready: a SIGINT right
        # after it must stop us cleanly, not end in a KeyboardInterrupt traceback.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                venues = await nursery.start(serve_many, configs)
                for v in venues:
                    line = {
                        "venue": v.config.name,
                        "url": v.url,
                        "symbols": list(v.config.symbols),
                        "ccxt": ccxt_config(v.url, v.config.api_key, v.config.secret),
                    }
                    print(json.dumps(line), file=stream, flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()

    trio.run(main)
