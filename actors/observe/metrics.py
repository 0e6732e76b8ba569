"""A Prometheus-text metrics endpoint on loopback: per-actor counters of the running tree."""

from __future__ import annotations

import logging

import trio

from actors.runtime import System
from actors.runtime.stats import ActorStats

log = logging.getLogger("actors.metrics")

_COUNTERS = (
    ("received", "messages offered to the mailbox"),
    ("processed", "messages handled"),
    ("dropped", "messages discarded by the overflow policy"),
    ("dead_letters", "messages nobody will handle"),
    ("restarts", "restarts scheduled"),
)
_GAUGES = (
    ("depth", "messages waiting"),
    ("high_water", "greatest mailbox depth seen"),
    ("capacity", "mailbox capacity"),
)


def render(stats: dict[str, ActorStats], dead_letters: int) -> str:
    """The Prometheus text exposition of ``stats``."""
    out: list[str] = []
    for field, help_text in _COUNTERS:
        out.append(f"# HELP actors_{field}_total {help_text}")
        out.append(f"# TYPE actors_{field}_total counter")
        out += [f'actors_{field}_total{{path="{p}"}} {getattr(s, field)}' for p, s in stats.items()]
    for field, help_text in _GAUGES:
        out.append(f"# HELP actors_mailbox_{field} {help_text}")
        out.append(f"# TYPE actors_mailbox_{field} gauge")
        out += [
            f'actors_mailbox_{field}{{path="{p}"}} {getattr(s, field)}' for p, s in stats.items()
        ]
    out.append("# HELP actors_up 1 if the actor is running")
    out.append("# TYPE actors_up gauge")
    out += [f'actors_up{{path="{p}"}} {int(s.state == "running")}' for p, s in stats.items()]
    out.append("# TYPE actors_system_dead_letters_total counter")
    out.append(f"actors_system_dead_letters_total {dead_letters}")
    return "\n".join(out) + "\n"


async def serve_metrics(
    system: System, port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve ``GET /metrics`` on 127.0.0.1:``port``; reports the bound port via ``task_status``.

    >>> # port = await nursery.start(serve_metrics, system, 0)
    """
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    bound = listeners[0].socket.getsockname()[1]
    log.info("metrics on http://127.0.0.1:%d/metrics", bound)
    task_status.started(bound)

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            with trio.move_on_after(5):
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 8192:
                    chunk = await stream.receive_some(4096)
                    if not chunk:
                        return
                    request += chunk
                line = request.split(b"\r\n", 1)[0].decode("latin-1")
                if line.startswith("GET /metrics"):
                    status, body = "200 OK", render(system.stats(), system.dead_letters)
                else:
                    status, body = "404 Not Found", "try GET /metrics\n"
                data = body.encode()
                head = (
                    f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n"
                    f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
                )
                await stream.send_all(head.encode() + data)

    await trio.serve_listeners(answer, listeners)
