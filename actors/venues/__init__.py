"""The embedded venue: a Binance-spot-compatible exchange on loopback that ccxt talks to unmodified.

Example::

    async with open_venue(VenueConfig(symbols=("BTC/USDT",))) as venue:
        cfg = ccxt_config(venue.port, venue.config.api_key, venue.config.secret)
        exchange = ccxt.pro.binance(cfg)
"""

from actors.venues.client import ccxt_config
from actors.venues.config import StartupFaults, SymbolSpec, VenueConfig
from actors.venues.faults import Faults
from actors.venues.server import Venue, open_venue, open_venues, serve, serve_many
from actors.venues.standalone import run_sim_exchange

__all__ = [
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
]
