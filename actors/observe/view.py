"""The live terminal view of a running desk (rich), redrawn from each ``DeskSnapshot``.

Full screen while the desk runs: a header (desk, trading state, readiness, PnL), the books,
the risk figures, one line per strategy, the actor tree (the busiest and the troubled first)
and the latest events and warnings. Log records that would go to the same terminal are shown
in the view instead (WARNING and above), so lines do not tear through the picture; a log
file, if any, still gets everything.

>>> # await nursery.start(live_view, observer, "paper")
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from typing import TextIO

import trio
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from actors.observe.collect import DeskObserver, DeskSnapshot
from actors.observe.logs import is_console

MAX_ACTORS = 14
MAX_EVENTS = 8
_STYLE = {"fill": "green", "reject": "yellow", "order": "yellow", "state": "bold magenta",
          "book": "cyan", "crash": "red", "restart": "yellow", "gave_up": "bold red",
          "log": "yellow"}  # fmt: skip


def _num(value: float | None, places: int = 2) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def _when(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))


def render(
    snapshot: DeskSnapshot | None, desk: str, started: float, logs: list[tuple[float, str]]
) -> RenderableType:
    """The whole view for one snapshot (``logs``: recent warnings as (wall time, text))."""
    if snapshot is None:
        return Text(f"actors · {desk} · starting...")
    risk = snapshot.risk
    state = risk.state.value if risk else "?"
    ready = "[green]ready[/]" if snapshot.ready else "[red]NOT READY[/]"
    uptime = time.strftime("%H:%M:%S", time.gmtime(max(0.0, time.time() - started)))
    pnl = f"{risk.total_pnl:+.2f}" if risk else "-"
    state_style = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "bold red"}.get(state, "")
    header = Text.from_markup(
        f"[bold]actors · {desk}[/] · trading [{state_style}]{state}[/] · {ready} · "
        f"PnL {pnl} · up {uptime} · Ctrl-C stops"
    )
    if risk and risk.reason and state != "ACTIVE":
        header.append(f" · {risk.reason}")
    top = Table.grid(expand=True, padding=(0, 2))
    top.add_row(_books(snapshot), _risk(snapshot))
    parts: list[RenderableType] = [header, top, _strategies(snapshot), _actors(snapshot)]
    parts.append(_events(snapshot, logs))
    if snapshot.problems:
        parts.append(Text("not ready: " + "; ".join(snapshot.problems[:3]), style="red"))
    return Group(*parts)


def _books(snapshot: DeskSnapshot) -> Panel:
    table = Table(expand=True, box=None, pad_edge=False)
    for column in ("venue", "symbol", "bid", "ask", "spread", "age", ""):
        table.add_column(
            column, justify="right" if column in ("bid", "ask", "spread", "age") else "left"
        )
    for b in snapshot.books:
        age = "-" if b.age is None else f"{b.age:.1f}s"
        flag = Text("stale", style="red") if b.stale else Text("fresh", style="green")
        table.add_row(b.venue, b.symbol, _num(b.bid), _num(b.ask), _num(b.spread), age, flag)
    return Panel(table, title="books", title_align="left")


def _risk(snapshot: DeskSnapshot) -> Panel:
    risk = snapshot.risk
    table = Table(expand=True, box=None, pad_edge=False, show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    if risk is not None:
        for symbol, qty in sorted(risk.positions.items()):
            table.add_row(f"position {symbol}", str(qty))
        table.add_row("open orders", str(risk.open_orders))
        table.add_row("approved", str(risk.approved))
        for reason, count in sorted(risk.rejected.items()):
            table.add_row(f"rejected {reason}", str(count))
        table.add_row("PnL (desk)", f"{risk.total_pnl:+.2f}")
    return Panel(table, title="risk (desk-wide)", title_align="left")


def _strategies(snapshot: DeskSnapshot) -> Panel:
    table = Table(expand=True, box=None, pad_edge=False)
    columns = ("strategy", "position", "open", "orders", "fills", "volume", "realised", "unreal.")
    for column in columns:
        table.add_column(column, justify="left" if column in ("strategy", "position") else "right")
    by_state = snapshot.orders_by_state()
    for s in snapshot.strategies:
        held = ", ".join(f"{sym} {qty:+}" for sym, qty in sorted(s.positions.items()) if qty)
        volume = ", ".join(f"{sym} {qty}" for sym, qty in sorted(s.volume.items()))
        unrealised = "?" if s.unrealised is None else f"{s.unrealised:+.2f}"
        table.add_row(
            s.name, held or "flat", str(s.open_orders), str(s.orders), str(s.fills),
            volume or "-", f"{s.realised:+.2f}", unrealised,
        )  # fmt: skip
    states = " ".join(f"{k} {v}" for k, v in sorted(by_state.items()))
    return Panel(table, title=f"strategies · orders: {states or 'none'}", title_align="left")


def _actors(snapshot: DeskSnapshot) -> Panel:
    table = Table(expand=True, box=None, pad_edge=False)
    for column in ("actor", "state", "restarts", "mailbox", "msg/s", "last crash"):
        table.add_column(column, justify="right" if column in ("restarts", "msg/s") else "left")
    troubled = [a for a in snapshot.actors if a.state != "running" or a.restarts]
    busy = sorted(
        (a for a in snapshot.actors if a not in troubled), key=lambda a: (-a.rate, a.path)
    )
    chosen = {a.path for a in (troubled + busy)[:MAX_ACTORS]}
    for path in list(chosen):  # with their supervisors, so the tree reads right
        while (path := path.rsplit("/", 1)[0]) and path != "":
            chosen.add(path)
    shown = [a for a in sorted(snapshot.actors, key=lambda a: a.path) if a.path in chosen]
    for a in shown:
        depth = a.path.count("/") - 1
        name = "  " * depth + a.path.rsplit("/", 1)[-1]
        style = "" if a.state == "running" else "red"
        table.add_row(
            name, Text(a.state, style=style), str(a.restarts), f"{a.depth}/{a.capacity}",
            f"{a.rate:.0f}", (a.last_crash or "")[:60],
        )  # fmt: skip
    hidden = len(snapshot.actors) - len(shown)
    title = f"actors ({len(snapshot.actors)}" + (
        f", {hidden} quiet ones not shown)" if hidden else ")"
    )
    return Panel(table, title=title, title_align="left")


def _events(snapshot: DeskSnapshot, logs: list[tuple[float, str]]) -> Panel:
    lines = [(e.wall, e.kind, e.text) for e in snapshot.events]
    lines += [(wall, "log", text) for wall, text in logs]
    lines.sort(key=lambda x: x[0])
    body = Text()
    for wall, kind, text in lines[-MAX_EVENTS:]:
        body.append(f"{_when(wall)} ", style="dim")
        body.append(f"{kind:<8}", style=_STYLE.get(kind, ""))
        body.append(text[:160] + "\n")
    return Panel(body, title="latest events", title_align="left")


class ViewLogHandler(logging.Handler):
    """Keeps the latest WARNING+ records for the view instead of writing them to the terminal."""

    def __init__(self, keep: int = MAX_EVENTS) -> None:
        super().__init__(logging.WARNING)
        self.lines: deque[tuple[float, str]] = deque(maxlen=keep)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.created, f"{record.name}: {record.getMessage()}"))


def wants_live_view(mode: str, stream: TextIO | None = None) -> bool:
    """``auto``: live when ``stream`` (stdout) is a terminal; ``live``/``lines`` force it."""
    if mode != "auto":
        return mode == "live"
    stream = stream if stream is not None else sys.stdout
    return stream.isatty()


async def live_view(
    observer: DeskObserver,
    desk: str,
    *,
    refresh: float = 1.0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Draw the view on stdout until cancelled; console log lines go into it meanwhile."""
    root = logging.getLogger()
    console_handlers = [h for h in root.handlers if is_console(h)] if sys.stderr.isatty() else []
    capture = ViewLogHandler()
    started = time.time()
    console = Console(file=sys.stdout)
    for h in console_handlers:
        root.removeHandler(h)
    root.addHandler(capture)
    try:
        with Live(console=console, screen=True, auto_refresh=False, redirect_stderr=False) as live:
            task_status.started()
            while True:
                live.update(
                    render(observer.snapshot, desk, started, list(capture.lines)), refresh=True
                )
                await trio.sleep(refresh)
    finally:
        root.removeHandler(capture)
        for h in console_handlers:
            root.addHandler(h)
