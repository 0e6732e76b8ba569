"""Status line, run summary, JSON logs and the metrics endpoint (a real loopback socket)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from actors.observe.logs import JsonFormatter
from actors.observe.metrics import serve_metrics
from actors.observe.status import status_line
from actors.observe.summary import per_venue_line, recovery_lines, run_summary
from actors.runtime import Backoff, ChildSpec, MailboxSpec, Overflow, Started, open_system

from ..runtime.helpers import next_event, of, probe

FIXED = Backoff(initial=1.0, maximum=1.0, multiplier=1.0, jitter=0.0)


async def test_status_line_and_summary_report_what_happened(autojump_clock: Any) -> None:
    spec = ChildSpec(
        "p", probe("p", []), backoff=FIXED, mailbox=MailboxSpec(2, Overflow.DROP_NEWEST)
    )
    async with open_system([spec]) as system:
        events = system.subscribe()
        p = system.lookup("/p")
        assert p is not None
        await p.send(("sleep", 5))
        await trio.sleep(1)
        for i in range(4):
            await p.send(i)
        await trio.sleep(10)
        await p.send("crash")
        await next_event(events, of(Started, "/p"))
        line = status_line(system.stats())
        assert line.startswith("actors 2 (running 2) | messages 3 | restarts 1 | dropped 2")
        assert "fullest mailbox /p 2/2" in line
    summary = run_summary(system.all_stats(), 42.0)
    assert summary.splitlines()[0].startswith("ran 42.0s: 2 actors")
    assert "/p: restarts 1, dropped 2, dead letters 1" in summary
    assert "last crash RuntimeError: p crashed on purpose" in summary


def test_the_summary_says_what_a_lost_journal_tail_cost_only_when_there_was_one() -> None:
    assert recovery_lines(0, 0) == []
    assert recovery_lines(16, 3) == [
        "lost journal tail: 16 leased client ids of earlier runs looked up at the venues, "
        "3 orders adopted"
    ]


def test_per_venue_counts_name_only_the_venues_that_have_one() -> None:
    line = per_venue_line("dropped sockets resubscribed in place", {"sim-b": 3, "sim-a": 0})
    assert line == ["dropped sockets resubscribed in place: sim-b 3"]
    assert per_venue_line("malformed venue frames dropped", {"sim-a": 0}) == []
    assert per_venue_line("malformed venue frames dropped", None) == []


def test_json_log_lines_parse() -> None:
    record = logging.LogRecord("actors.x", logging.WARNING, __file__, 1, "hi %s", ("there",), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning" and entry["message"] == "hi there"
    assert entry["logger"] == "actors.x" and entry["ts"].endswith("Z")


async def fetch(port: int, path: str) -> tuple[str, str]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.decode().partition("\r\n\r\n")
    return head.splitlines()[0], body


async def test_metrics_endpoint_serves_prometheus_text() -> None:
    with trio.fail_after(10):
        async with open_system([ChildSpec("p", probe("p", []))]) as system:
            p = system.lookup("/p")
            assert p is not None
            await p.ask("one")
            async with trio.open_nursery() as nursery:
                port = await nursery.start(serve_metrics, system, 0)
                status, body = await fetch(port, "/metrics")
                assert status.startswith("HTTP/1.1 200")
                samples = {
                    (s.name, tuple(sorted(s.labels.items()))): s.value
                    for family in text_string_to_metric_families(body)
                    for s in family.samples
                }
                assert samples[("actors_processed_total", (("path", "/p"),))] == 1
                assert samples[("actors_up", (("path", "/p"),))] == 1
                assert samples[("actors_mailbox_capacity", (("path", "/p"),))] == 1024
                status, body = await fetch(port, "/health")
                assert status.startswith("HTTP/1.1 200") and json.loads(body)["alive"]
                status, body = await fetch(port, "/ready")  # no desk observer: not ready
                assert status.startswith("HTTP/1.1 503"), status
                status, _ = await fetch(port, "/nothing")
                assert status.startswith("HTTP/1.1 404")
                nursery.cancel_scope.cancel()


def test_metrics_refuses_a_taken_port() -> None:
    async def main() -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        async with open_system([]) as system:
            with pytest.raises(OSError):
                await serve_metrics(system, port)
        for listener in listeners:
            await listener.aclose()

    trio.run(main)
