"""The embedded venue: exchanges on loopback that ccxt's own classes talk to unmodified.

Two protocols share one core: Binance spot (``protocol="binance"``, the default) and OKX v5
spot (``protocol="okx"``). The matching engine, accounts, synthetic market and fault knobs are
shared (``engine``, ``accounts``, ``synthetic``, ``faults``); each protocol is a folder of its
own (``binance/``, ``okx/``) with one file per role.

Example::

    async with open_venue(VenueConfig(symbols=("BTC/USDT",), protocol="okx")) as venue:
        exchange = ccxt.pro.okx(venue_ccxt_config(venue))
"""

from actors.venues.client import ccxt_config, venue_ccxt_config
from actors.venues.config import StartupFaults, SymbolSpec, VenueConfig
from actors.venues.faults import Faults
from actors.venues.server import AddressInUse, Venue, open_venue, open_venues, serve, serve_many
from actors.venues.standalone import run_sim_exchange

__all__ = [
    "AddressInUse",
    "Faults",
    "StartupFaults",
    "SymbolSpec",
    "Venue",
    "VenueConfig",
    "ccxt_config",
    "open_venue",
    "open_venues",
    "run_sim_exchange",
    "serve",
    "serve_many",
    "venue_ccxt_config",
]
