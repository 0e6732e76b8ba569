"""Fault injection for tests of a desk: crash, stall or pause an actor; make a venue misbehave.

Actor faults run inside the target actor's receive loop (``System.inject``), so they are seen
exactly as real ones: an exception is a crash the supervisor answers, a long pause trips the
stall watchdog. Venue faults go through the embedded venue's HTTP control endpoint on loopback,
so they work on a venue in this process or in another one (``actors sim-exchange``).

>>> # await crash_actor(system, "/market/sim-a")
>>> # await VenueControl("http://127.0.0.1:8765").fault("drop_websockets")
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

import trio

from actors.runtime import System


class InjectedCrash(RuntimeError):
    """The default error of ``crash_actor``."""


def crash_actor(system: System, path: str, error: BaseException | None = None) -> None:
    """Make the actor at ``path`` crash with ``error`` after its current message."""
    failure = error if error is not None else InjectedCrash(f"injected crash of {path}")

    async def fail() -> None:
        raise failure

    system.inject(path, fail)


def pause_actor(system: System, path: str, seconds: float) -> None:
    """Make the actor at ``path`` stop handling messages for ``seconds`` (its mailbox fills).

    Longer than the child's ``stall_timeout``, it is a stall: the watchdog crashes it.
    """

    async def pause() -> None:
        await trio.sleep(seconds)

    system.inject(path, pause)


class VenueControl:
    """Client of an embedded venue's ``/_sim`` control endpoint (loopback only).

    The endpoint requires the venue's control token: pass ``token`` (``actors sim-exchange``
    prints it in each venue's line, under ``control``); for a venue running in this process
    it is found by address when omitted. A TLS venue's certificate is trusted via ``cafile``.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        cafile: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        host = parts.hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"venue control is loopback only, not {host!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._address = (host, parts.port)
        self._tls = ssl.create_default_context(cafile=cafile) if cafile else None

    def token(self) -> str | None:
        """The token sent with each request (given, or that of a venue of this process)."""
        if self._token is None and self._address[1] is not None:
            from actors.venues.control import local_token

            self._token = local_token(self._address[0], self._address[1])
        return self._token

    async def fault(self, action: str, **kwargs: Any) -> dict[str, Any]:
        """Apply a fault (``drop_websockets``, ``fail_next_order``, ...); returns the state."""
        return await self._call("POST", f"/_sim/faults/{quote(action)}", kwargs)

    async def reset(self) -> dict[str, Any]:
        """Clear every fault."""
        return await self.fault("reset")

    async def state(self) -> dict[str, Any]:
        """The venue's status, faults included."""
        return await self._call("GET", "/_sim/state", None)

    async def pause_market(self) -> dict[str, Any]:
        """Freeze the venue's synthetic market (its books hold still)."""
        return await self._call("POST", "/_sim/market/pause", {})

    async def resume_market(self) -> dict[str, Any]:
        """Let the venue's synthetic market move again."""
        return await self._call("POST", "/_sim/market/resume", {})

    async def book(self, symbol: str) -> dict[str, Any]:
        """The venue's own order book for ``symbol``, as the REST depth endpoint shows it."""
        return await self._call("GET", f"/_sim/book/{quote(symbol, safe='')}", None)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        token = self.token()
        if token is not None:
            request.add_header("X-Sim-Token", token)

        def call() -> dict[str, Any]:
            try:
                with urllib.request.urlopen(
                    request, timeout=self.timeout, context=self._tls
                ) as response:
                    result: dict[str, Any] = json.loads(response.read())
                    return result
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")
                raise RuntimeError(
                    f"{method} {self.url}{path}: HTTP {exc.code}: {detail}"
                ) from None

        return await trio.to_thread.run_sync(call)
