"""Fault injection tools: actor faults in virtual time, venue faults on a real loopback venue."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import trio

from actors.runtime import Backoff, ChildSpec, Crashed, StallTimeout, Started, open_system
from actors.testing import InjectedCrash, VenueControl, crash_actor, pause_actor
from actors.venues.actor import GetEndpoints, VenueActor
from actors.venues.config import VenueConfig

from ..runtime.helpers import next_event, of, probe

FIXED = Backoff(initial=1.0, maximum=1.0, multiplier=1.0, jitter=0.0)


async def test_crash_actor_is_a_real_crash(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    async with open_system([ChildSpec("p", probe("p", log), backoff=FIXED)]) as system:
        events = system.subscribe()
        crash_actor(system, "/p")
        crashed = await next_event(events, of(Crashed, "/p"))
        assert isinstance(crashed, Crashed) and isinstance(crashed.error, InjectedCrash)
        await next_event(events, of(Started, "/p"))
        with pytest.raises(LookupError, match="no actor lives at /nobody"):
            crash_actor(system, "/nobody")


async def test_pause_shorter_than_the_watchdog_only_delays(autojump_clock: Any) -> None:
    log: list[tuple[Any, ...]] = []
    spec = ChildSpec("p", probe("p", log), stall_timeout=10.0, backoff=FIXED)
    async with open_system([spec]) as system:
        events = system.subscribe()
        p = system.lookup("/p")
        assert p is not None
        start = trio.current_time()
        pause_actor(system, "/p", 4.0)
        assert await p.ask("after the pause") == "after the pause"
        assert trio.current_time() - start == pytest.approx(4.0)
        pause_actor(system, "/p", 100.0)
        crashed = await next_event(events, of(Crashed, "/p"))
        assert isinstance(crashed, Crashed) and isinstance(crashed.error, StallTimeout)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


async def test_venue_actor_serves_and_venue_control_drives_it() -> None:
    configs = [VenueConfig(name="a", symbols=("BTC/USDT",), rate_hz=0.0)]
    with trio.fail_after(30):
        async with open_system([ChildSpec("venues", lambda: VenueActor(configs))]) as system:
            venues = system.lookup("/venues")
            assert venues is not None
            endpoints = await venues.ask(GetEndpoints())
            url = endpoints["a"]
            assert url.startswith("http://127.0.0.1:")
            assert await trio.to_thread.run_sync(get_json, url + "/api/v3/ping") == {}
            control = VenueControl(url)
            result = await control.fault("fail_next_order", mode="error_after")
            assert result["faults"]["order_fault"]["mode"] == "error_after"
            assert (await control.reset())["faults"]["order_fault"] is None
            book = await control.book("BTC/USDT")
            assert book["bids"] and book["asks"]
            with pytest.raises(RuntimeError, match=r"HTTP 404: .*unknown fault 'explode'"):
                await control.fault("explode")


def test_venue_control_is_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        VenueControl("http://10.0.0.1:8080")
