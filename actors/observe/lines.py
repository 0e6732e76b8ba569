"""Periodic trading status lines, for a desk without a terminal (CI, systemd, a log pipeline).

One line every ``interval`` seconds: trading state, readiness, orders, fills, PnL, positions,
rejections, books, and per strategy its fills and PnL (realised plus unrealised, gross of
fees). The figures also travel as ``extra=`` fields, so ``--log-format json`` carries them
as keys (``{"trading_state": "ACTIVE", "open_orders": 2, "strategies": {...}, ...}``). The
actor counters keep their own line (``actors.observe.status``).

>>> # nursery.start_soon(report_trading, observer, 10.0)
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from actors.observe.collect import DeskObserver, DeskSnapshot

log = logging.getLogger("actors.trading.status")


def trading_status(snapshot: DeskSnapshot) -> tuple[str, dict[str, Any]]:
    """The status line of ``snapshot`` and the same figures as plain fields."""
    risk = snapshot.risk
    fresh = sum(1 for b in snapshot.books if not b.stale)
    fields: dict[str, Any] = {
        "trading_state": risk.state.value if risk else None,
        "ready": snapshot.ready,
        "orders": dict(snapshot.orders_by_state()),
        "open_orders": len(snapshot.open_orders()),
        "filled_orders": sum(s.filled_orders for s in snapshot.strategies),
        "pnl": str(risk.total_pnl) if risk else None,
        "positions": {s: str(q) for s, q in risk.positions.items()} if risk else {},
        "rejected": dict(risk.rejected) if risk else {},
        "books_fresh": fresh,
        "books": len(snapshot.books),
        "strategies": {
            line.name: {
                "fills": line.fills,
                "open_orders": line.open_orders,
                "positions": {sym: str(q) for sym, q in line.positions.items()},
                "realised": str(line.realised),
                "unrealised": None if line.unrealised is None else str(line.unrealised),
            }
            for line in snapshot.strategies
        },
    }
    positions = ", ".join(f"{s} {q}" for s, q in sorted(fields["positions"].items()))
    rejected = ", ".join(f"{r} {n}" for r, n in sorted(fields["rejected"].items()))
    pnl = f"{risk.total_pnl:+.2f}" if risk else "-"
    strategies = "".join(
        f" | {line.name} fills {line.fills} PnL {line.pnl:+.2f}" for line in snapshot.strategies
    )
    text = (
        f"trading {fields['trading_state']} | {'ready' if snapshot.ready else 'NOT READY'} | "
        f"open orders {fields['open_orders']} | filled orders {fields['filled_orders']} | "
        f"PnL {pnl} | positions {positions or 'flat'} | "
        f"rejected {rejected or 0} | books fresh {fresh}/{len(snapshot.books)}{strategies}"
    )
    return text, fields


async def report_trading(observer: DeskObserver, interval: float) -> None:
    """Log ``trading_status`` every ``interval`` seconds, and new events as they are seen.

    Risk rejections are not logged one by one: the status line carries their counts.
    """
    seen = 0.0
    while True:
        await trio.sleep(interval)
        snapshot = observer.snapshot
        if snapshot is None:
            continue
        for event in snapshot.events:
            if event.wall > seen and event.kind in ("fill", "order", "state", "book"):
                log.info("%s: %s", event.kind, event.text, extra={"event": event.kind})
        seen = max([seen, *(e.wall for e in snapshot.events)])
        text, fields = trading_status(snapshot)
        log.info("%s", text, extra=fields)
