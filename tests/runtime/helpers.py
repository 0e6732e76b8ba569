"""Actors and waiting helpers shared by the runtime tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from actors.runtime import Actor, Event, EventStream


class Probe(Actor):
    """Records its life in a shared list, answers asks, crashes or exits on command.

    Messages: ``"crash"`` raises, ``"exit"`` stops normally, ``("sleep", s)`` sleeps ``s``
    seconds, anything else is logged and echoed back.
    """

    def __init__(
        self,
        name: str,
        log: list[tuple[Any, ...]],
        *,
        start_delay: float = 0.0,
        stop_delay: float = 0.0,
        fail_start: bool = False,
    ) -> None:
        self.name = name
        self.log = log
        self.start_delay = start_delay
        self.stop_delay = stop_delay
        self.fail_start = fail_start

    async def on_start(self) -> None:
        self.log.append((self.name, "start"))
        if self.start_delay:
            await trio.sleep(self.start_delay)
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")

    async def handle(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError(f"{self.name} crashed on purpose")
        if message == "exit":
            self.ctx.stop()
            return "exiting"
        if isinstance(message, tuple) and message[0] == "sleep":
            await trio.sleep(message[1])
            return "slept"
        self.log.append((self.name, "msg", message))
        return message

    async def on_stop(self) -> None:
        self.log.append((self.name, "stop"))
        if self.stop_delay:
            await trio.sleep(self.stop_delay)


def probe(name: str, log: list[tuple[Any, ...]], **options: Any) -> Callable[[], Probe]:
    """A factory for ``Probe`` usable as ``ChildSpec.factory``."""
    return lambda: Probe(name, log, **options)


async def next_event(
    events: EventStream, predicate: Callable[[Event], bool], timeout: float = 60.0
) -> Event:
    """The next event matching ``predicate`` (fails the test after ``timeout`` seconds)."""
    with trio.fail_after(timeout):
        async for event in events:
            if predicate(event):
                return event
    raise AssertionError("event stream closed")


def of(kind: type, path: str | None = None) -> Callable[[Event], bool]:
    """A predicate: an event of ``kind`` (and for ``path``, if given)."""
    return lambda e: isinstance(e, kind) and (path is None or e.path == path)  # type: ignore[attr-defined]
