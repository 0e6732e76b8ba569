"""Run embedded venue(s) on their own until SIGINT/SIGTERM, printing how to reach each one.

``actors sim-exchange`` calls ``run_sim_exchange``: per venue it prints one JSON line with
the ``ccxt`` constructor options (URLs and credentials) for ccxt's class of the venue's
protocol, and the control endpoint's URL and token. Credentials and the control token are
generated per run unless given. Signals are caught before anything is printed, so a SIGINT
right after a line stops the venues cleanly (exit 0); bad arguments and a port in use raise
``SimExchangeError`` with a one-line message (the CLI exits 2 with it).
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

import trio

from actors.venues.client import venue_ccxt_config
from actors.venues.config import PROTOCOLS, VenueConfig, check_host, check_rate
from actors.venues.server import AddressInUse, Venue, serve_many


class SimExchangeError(Exception):
    """A problem with the arguments or the ports, worded for the operator."""


def build_configs(
    *,
    host: str,
    ports: Sequence[int],
    symbols: Sequence[str],
    seed: int,
    rate_hz: float,
    protocols: Sequence[str] = ("binance",),
    api_key: str | None = None,
    secret: str | None = None,
    passphrase: str | None = None,
    tls: bool = False,
    balances: dict[str, Decimal] | None = None,
) -> list[VenueConfig]:
    """One ``VenueConfig`` per port, named ``sim0``, ``sim1``... sharing seed and symbols.

    ``protocols`` is one protocol for every venue or one per port. Credentials left ``None``
    are generated per run (one set shared by all venues of the run).
    """
    try:
        check_host(host)
        check_rate(rate_hz)
    except ValueError as exc:
        raise SimExchangeError(str(exc)) from None
    if not ports:
        raise SimExchangeError("at least one port is required (0 picks a free one)")
    for p in ports:
        if not 0 <= p <= 65535:
            raise SimExchangeError(f"--port {p}: expected 0..65535")
    taken = [p for p in ports if p]
    repeated = sorted({p for p in taken if taken.count(p) > 1})
    if repeated:
        raise SimExchangeError(f"--port {repeated[0]} is given more than once")
    if len(protocols) not in (1, len(ports)):
        raise SimExchangeError(
            f"--protocol: give one protocol, or one per --port ({len(ports)}), not {len(protocols)}"
        )
    for p in protocols:
        if p not in PROTOCOLS:
            raise SimExchangeError(f"--protocol: expected one of {list(PROTOCOLS)}, got {p!r}")
    # one generated set per run: every venue accepts the same printed credentials
    first = VenueConfig(api_key=api_key, secret=secret, passphrase=passphrase)
    extra = {} if balances is None else {"balances": dict(balances)}
    try:
        return [
            VenueConfig(
                name=f"sim{i}",
                host=host,
                port=port,
                protocol=protocols[i if len(protocols) > 1 else 0],  # type: ignore[arg-type]
                symbols=tuple(symbols),
                seed=seed,
                rate_hz=rate_hz,
                api_key=first.api_key,
                secret=first.secret,
                passphrase=first.passphrase,
                tls=tls,
                **extra,  # type: ignore[arg-type]
            )
            for i, port in enumerate(ports)
        ]
    except ValueError as exc:
        raise SimExchangeError(str(exc)) from None


def ready_line(venue: Venue) -> dict[str, Any]:
    """What ``sim-exchange`` prints for one running venue."""
    cfg = venue.config
    line: dict[str, Any] = {
        "venue": cfg.name,
        "protocol": cfg.protocol,
        "url": venue.url,
        "symbols": list(cfg.symbols),
        "ccxt": venue_ccxt_config(venue),
        "control": {"url": venue.url + "/_sim", "token": venue.control_token},
    }
    if venue.certificate is not None:
        line["certificate"] = venue.certificate.cert_path
    return line


def run_sim_exchange(
    *,
    host: str = "127.0.0.1",
    ports: list[int],
    symbols: list[str],
    seed: int,
    rate_hz: float,
    protocols: Sequence[str] = ("binance",),
    api_key: str | None = None,
    secret: str | None = None,
    passphrase: str | None = None,
    tls: bool = False,
    out: TextIO | None = None,
) -> None:
    """Serve one venue per port until SIGINT/SIGTERM; print one JSON line per venue.

    Example: ``run_sim_exchange(ports=[8765], symbols=["BTC/USDT"], seed=1, rate_hz=50.0)``
    """
    configs = build_configs(
        host=host,
        ports=ports,
        symbols=symbols,
        seed=seed,
        rate_hz=rate_hz,
        protocols=protocols,
        api_key=api_key,
        secret=secret,
        passphrase=passphrase,
        tls=tls,
    )
    stream = out if out is not None else sys.stdout

    async def main() -> None:
        # the handler is in place before anything is printed: a SIGINT right after the
        # ready line stops the venues cleanly instead of raising KeyboardInterrupt
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                try:
                    venues = await nursery.start(serve_many, configs)
                except AddressInUse as exc:
                    raise SimExchangeError(str(exc)) from None
                for v in venues:
                    print(json.dumps(ready_line(v)), file=stream, flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except BaseExceptionGroup as group:
        # a port in use surfaces from inside the nursery: report it as the one-line error
        match = group.subgroup(lambda e: isinstance(e, (SimExchangeError, AddressInUse)))
        if match is None:
            raise
        first: BaseException = match
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise SimExchangeError(str(first)) from None
