"""EntryPath alone: which transport the next order takes, and what each path carried."""

from __future__ import annotations

from actors.trading.entry import EntryPath


def test_websocket_only_while_enabled_and_confirmed_up() -> None:
    path = EntryPath(ws_enabled=True)
    assert path.transport() == "rest"  # not confirmed yet
    path.mark_up()
    assert path.transport() == "ws" and path.down_reason is None
    assert path.mark_down("closed") is True  # a new outage
    assert path.mark_down("refused") is False  # the same outage, said once
    assert (path.transport(), path.fallbacks, path.down_reason) == ("rest", 1, "refused")
    assert path.describe() == "REST while the websocket is down (refused)"
    path.mark_up()
    assert path.transport() == "ws" and path.fallbacks == 1


def test_disabled_never_uses_the_socket() -> None:
    path = EntryPath(ws_enabled=False)
    path.mark_up()
    assert path.transport() == "rest" and path.describe() == "REST"
    assert path.mark_down("closed") is False and path.fallbacks == 0


def test_requests_are_counted_per_transport_and_operation() -> None:
    path = EntryPath(ws_enabled=True)
    path.sent("ws", "place")
    path.sent("ws", "place")
    path.sent("rest", "cancel")
    assert dict(path.requests) == {"ws.place": 2, "rest.cancel": 1}
