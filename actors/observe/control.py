"""Steering a running desk: a token-guarded HTTP endpoint on 127.0.0.1 (client: ``ctl.py``).

At start the desk serves the endpoint on a free loopback port and writes a control file
(JSON: url, token, pid; mode 0600) beside its journal, or where ``[observe] control_file``
says; it removes the file when it stops. ``actors ctl ACTION`` reads that file and calls:

    POST /halt | /reduce | /resume   SetTradingState to /risk (HALTED is the kill switch)
    POST /cancel-all                 CancelAll to /router (every open order)
    GET  /status | /orders | /positions

Every request carries ``Authorization: Bearer <token>``; anything else gets 401. The token
is new for every run, so a control file left by a dead process opens nothing.

>>> # url = await nursery.start(serve_control, system, Path("desk.control.json"), observer)
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actors.observe.collect import ACTIVE, DeskObserver, StrategyLine
from actors.observe.http import serve_local
from actors.observe.logs import plain
from actors.runtime import ActorError, System
from actors.trading.config import RISK, ROUTER
from actors.trading.messages import SetTradingState, TradingState
from actors.trading.protocol import CancelAll, GetOrders, GetRiskState, OrderView, RiskView

log = logging.getLogger("actors.control")

STATES = {
    "halt": TradingState.HALTED,
    "reduce": TradingState.REDUCING,
    "resume": TradingState.ACTIVE,
}
TIMEOUT = 10.0


def strategy_figures(line: StrategyLine) -> dict[str, Any]:
    """A strategy's fills and PnL (gross of fees) as plain JSON values."""
    return {
        "fills": line.fills,
        "realised": str(line.realised),
        "unrealised": None if line.unrealised is None else str(line.unrealised),
    }


def _order(o: OrderView) -> dict[str, Any]:
    return plain(
        {
            "client_order_id": o.client_order_id,
            "strategy": o.strategy,
            "venue": o.venue,
            "symbol": o.symbol,
            "side": o.side,
            "amount": o.amount,
            "price": o.price,
            "status": o.status.value,
            "filled": o.filled,
        }
    )


def _risk(view: RiskView) -> dict[str, Any]:
    return plain(
        {
            "trading_state": view.state.value,
            "reason": view.reason,
            "positions": view.positions,
            "open_orders": view.open_orders,
            "approved": view.approved,
            "rejected": view.rejected,
            "pnl": view.total_pnl,
        }
    )


def control_app(system: System, token: str, observer: DeskObserver | None = None) -> Starlette:
    """The ASGI app of the control endpoint (every route checks the bearer token)."""

    async def ask(path: str, request: object) -> Any:
        ref = system.lookup(path)
        if ref is None:
            raise ActorError(f"no actor at {path}")
        return await ref.ask(request, timeout=TIMEOUT)

    def guarded(
        fn: Callable[[Request], Awaitable[dict[str, Any]]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return JSONResponse({"error": "bad or missing token"}, 401)
            try:
                return JSONResponse(await fn(request))
            except ActorError as exc:
                return JSONResponse({"error": f"the desk did not answer: {exc}"}, 503)

        return endpoint

    async def reason_of(request: Request) -> str:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        reason = body.get("reason") if isinstance(body, dict) else None
        return str(reason or "operator")

    def set_state(action: str) -> Callable[[Request], Awaitable[dict[str, Any]]]:
        async def fn(request: Request) -> dict[str, Any]:
            reason = await reason_of(request)
            change = await ask(RISK, SetTradingState(state=STATES[action], reason=reason))
            log.warning("ctl %s (%s)", action, reason)
            view: RiskView = await ask(RISK, GetRiskState())
            return {"changed": change is not None, **_risk(view)}

        return fn

    async def cancel_all(request: Request) -> dict[str, Any]:
        count = await ask(ROUTER, CancelAll(reason=await reason_of(request)))
        return {"cancelling": count}

    async def status(_: Request) -> dict[str, Any]:
        view: RiskView = await ask(RISK, GetRiskState())
        stats = system.stats()
        snapshot = observer.snapshot if observer is not None else None
        return {
            **_risk(view),
            "ready": snapshot.ready if snapshot else None,
            "problems": snapshot.problems if snapshot else [],
            "actors": len(stats),
            "restarts": sum(s.restarts for s in stats.values()),
            "not_running": sorted(p for p, s in stats.items() if s.state != "running"),
            "books": [
                {
                    "venue": b.venue,
                    "symbol": b.symbol,
                    "bid": b.bid,
                    "ask": b.ask,
                    "age": b.age,
                    "stale": b.stale,
                }
                for b in (snapshot.books if snapshot else [])
            ],
        }

    async def orders(_: Request) -> dict[str, Any]:
        views = await ask(ROUTER, GetOrders(active_only=True))
        return {"orders": [_order(o) for o in views if o.status in ACTIVE]}

    async def positions(_: Request) -> dict[str, Any]:
        view: RiskView = await ask(RISK, GetRiskState())
        by_strategy, strategy_pnl = {}, {}
        if observer is not None and observer.snapshot is not None:
            lines = observer.snapshot.strategies
            by_strategy = {s.name: plain(s.positions) for s in lines}
            strategy_pnl = {s.name: strategy_figures(s) for s in lines}
        return {
            "positions": plain(view.positions),
            "pnl": str(view.total_pnl),
            "by_strategy": by_strategy,
            "pnl_by_symbol": {
                symbol: {
                    "realised": str(p.realised),
                    "unrealised": None if p.unrealised is None else str(p.unrealised),
                    "fees": str(p.fees),
                }
                for symbol, p in sorted(view.pnl.items())
            },
            "pnl_by_strategy": strategy_pnl,
        }

    routes = [Route(f"/{a}", guarded(set_state(a)), methods=["POST"]) for a in STATES]
    routes += [
        Route("/cancel-all", guarded(cancel_all), methods=["POST"]),
        Route("/status", guarded(status)),
        Route("/orders", guarded(orders)),
        Route("/positions", guarded(positions)),
    ]
    return Starlette(routes=routes)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


async def serve_control(
    system: System,
    path: Path,
    observer: DeskObserver | None = None,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control endpoint and keep ``path`` written until cancelled; reports the URL."""
    token = secrets.token_urlsafe(32)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_local, control_app(system, token, observer), 0)
        url = f"http://127.0.0.1:{port}"
        _write_private(path, {"url": url, "token": token, "pid": os.getpid()})
        log.info("control: actors ctl --control %s status", path)
        try:
            task_status.started(url)
            await trio.sleep_forever()
        finally:
            _remove(path)
