"""Fixtures: venues on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from actors.venues import Venue, VenueConfig, open_venue


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    """A calm venue with BTC/USDT and ETH/USDT on an ephemeral port."""
    async with open_venue(VenueConfig(seed=11, rate_hz=40.0)) as v:
        yield v


@pytest.fixture
async def quiet_venue() -> AsyncIterator[Venue]:
    """A venue whose books were seeded but whose synthetic participants are stopped."""
    async with open_venue(VenueConfig(seed=5, rate_hz=40.0)) as v:
        v.pause_market()
        yield v


@pytest.fixture
async def okx_venue() -> AsyncIterator[Venue]:
    """A calm OKX-protocol venue with BTC/USDT and ETH/USDT on an ephemeral port."""
    async with open_venue(VenueConfig(protocol="okx", seed=11, rate_hz=40.0)) as v:
        yield v


@pytest.fixture
async def okx_quiet() -> AsyncIterator[Venue]:
    """An OKX-protocol venue whose synthetic participants are stopped (a frozen book)."""
    async with open_venue(VenueConfig(protocol="okx", seed=5, rate_hz=40.0)) as v:
        v.pause_market()
        yield v


@pytest.fixture(params=["binance", "okx"])
async def any_venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    """A calm venue of each protocol: for behaviour the shared core gives both."""
    async with open_venue(VenueConfig(protocol=request.param, seed=11, rate_hz=40.0)) as v:
        yield v
