"""The ``/_sim`` control endpoint: a token is required, values are bounded, bad bodies are 400."""

from __future__ import annotations

import msgspec
import pytest

from actors.testing import VenueControl
from actors.venues import Venue
from tests.venues.helpers import http

STALL = "/_sim/faults/stall_streams"


async def test_control_requires_the_venue_token(quiet_venue: Venue) -> None:
    v = quiet_venue
    for token in ("", "guessed"):
        status, body = await http(v.port, "GET", "/_sim/state", token=token)
        assert status == 401 and "control token required" in msgspec.json.decode(body)["error"]
    status, _ = await http(v.port, "GET", "/_sim/state", token=v.control_token)
    assert status == 200
    bearer = {"Authorization": f"Bearer {v.control_token}"}
    assert (await http(v.port, "POST", "/_sim/market/resume", headers=bearer, token=""))[0] == 200
    # the API itself needs no control token
    assert (await http(v.port, "GET", "/api/v3/ping"))[0] == 200


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        (STALL, b'{"seconds": 1e308}', "seconds"),
        (STALL, b'{"seconds": 1e999}', "out of range"),
        (STALL, b'{"seconds": -1}', "seconds"),
        (STALL, b'{"seconds": "5"}', "seconds"),
        (STALL, b"{}", "seconds"),
        (STALL, b'{"seconds": 1, "extra": 2}', "extra"),
        (STALL, b"not json", "JSON"),
        (STALL, b"[1, 2]", "object"),
        ("/_sim/faults/add_latency", b'{"seconds": 3600}', "seconds"),
        ("/_sim/faults/skew_clock", b'{"ms": 1e12}', "ms"),
        ("/_sim/faults/rate_limit_next", b'{"n": -1}', "n"),
        ("/_sim/faults/fail_next_order", b'{"mode": "explode"}', "mode"),
        ("/_sim/faults/fail_next_order", b'{"status": 200}', "status"),
        ("/_sim/faults/skip_update_ids", b'{"symbol": "XRP/USDT"}', "symbol"),
        ("/_sim/faults/send_malformed_frame", b'{"kind": "worse"}', "kind"),
        ("/_sim/market/rate", b'{"rate_hz": 1e8}', "rate_hz"),
        ("/_sim/market/rate", b'{"rate_hz": "fast"}', "rate_hz"),
        ("/_sim/market/rate", b"{}", "rate_hz"),
    ],
)
async def test_bad_values_and_bodies_get_400_with_a_message(
    quiet_venue: Venue, path: str, body: bytes, says: str
) -> None:
    status, reply = await http(quiet_venue.port, "POST", path, body)
    assert status == 400, reply
    assert says in msgspec.json.decode(reply)["error"]
    assert quiet_venue.faults.state()["stalled_for_s"] == 0
    assert quiet_venue.market.rate_hz == 40.0


async def test_venue_control_sends_the_token(quiet_venue: Venue) -> None:
    url = quiet_venue.url
    explicit = VenueControl(url, token=quiet_venue.control_token)
    assert (await explicit.fault("add_latency", seconds=0.1))["faults"]["latency_s"] == 0.1
    assert (await VenueControl(url).reset())["faults"]["latency_s"] == 0  # found in-process
    with pytest.raises(RuntimeError, match="HTTP 401"):
        await VenueControl(url, token="wrong").state()
    with pytest.raises(RuntimeError, match=r"HTTP 400: .*seconds"):
        await explicit.fault("stall_streams", seconds=10**6)
    with pytest.raises(RuntimeError, match=r"HTTP 400: .*JSON"):  # Python writes inf as Infinity
        await explicit.fault("stall_streams", seconds=float("inf"))
