"""``actors ctl``: the client of a running desk's control endpoint (stdlib only, quick to start).

It reads the control file the desk wrote (URL and token, see :mod:`actors.observe.control`),
sends one request and turns the JSON answer into lines for a person (or prints it as is).

>>> control_file_path("", "var/paper.journal.sqlite")
PosixPath('var/paper.journal.sqlite.control.json')
"""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

STATES = ("halt", "reduce", "resume")
TIMEOUT = 25.0


class ControlError(RuntimeError):
    """``actors ctl`` could not do what it was asked; the message says why."""


def control_file_path(configured: str, journal: str, desk: str = "desk") -> Path:
    """Where a desk writes its control file: ``configured``, else beside the journal."""
    if configured:
        return Path(configured)
    if journal in ("", ":memory:"):
        return Path(tempfile.gettempdir()) / f"actors-{desk}.control.json"
    return Path(journal + ".control.json")


def find_control_file(configured: str, journal: str, desk: str = "desk") -> str:
    """The control file ``actors ctl`` should read for a topology's settings."""
    return str(control_file_path(configured, journal, desk))


def call(control: str | Path, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
    """One request to the desk whose control file is ``control``; its JSON answer."""
    try:
        info = json.loads(Path(control).read_text())
        url, token = info["url"], info["token"]
    except FileNotFoundError:
        raise ControlError(
            f"no control file at {control}: is the desk running? (it writes one at start)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ControlError(f"unreadable control file {control}: {exc}") from None
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + route, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            error = exc.reason
        raise ControlError(f"the desk refused: {error} (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ControlError(
            f"the desk does not answer at {url} ({exc}); is it still running?"
        ) from None


def ctl_command(
    control: str | Path, action: str, *, reason: str = "operator", as_json: bool = False
) -> str:
    """Run one ``actors ctl`` action; the text to print."""
    if action in STATES or action == "cancel-all":
        answer = call(control, "POST", f"/{action}", {"reason": reason})
    else:
        answer = call(control, "GET", f"/{action}")
    if as_json:
        return json.dumps(answer, indent=2, sort_keys=True)
    return "\n".join(_text(action, answer))


def _pnl(figures: dict[str, Any]) -> str:
    unrealised = figures["unrealised"] if figures["unrealised"] is not None else "unmarked"
    return f"realised {figures['realised']}, unrealised {unrealised}"


def _text(action: str, answer: dict[str, Any]) -> list[str]:
    if action in STATES:
        verb = "now" if answer["changed"] else "already"
        return [f"trading {verb} {answer['trading_state']} ({answer['reason']})"]
    if action == "cancel-all":
        return [f"cancelling {answer['cancelling']} open orders"]
    if action == "orders":
        rows = answer["orders"]
        lines = [f"{len(rows)} open orders"]
        for o in rows:
            lines.append(
                f"  {o['client_order_id']} {o['strategy']} {o['venue']} {o['symbol']} {o['side']} "
                f"{o['filled']}/{o['amount']} @ {o['price']} {o['status']}"
            )
        return lines
    if action == "positions":
        lines = [f"PnL {answer['pnl']}"]
        pnl_by_symbol = answer.get("pnl_by_symbol", {})
        for s, q in sorted(answer["positions"].items()):
            p = pnl_by_symbol.get(s)
            lines.append(f"  {s}: {q}" + (f" ({_pnl(p)}, fees {p['fees']})" if p else ""))
        pnl_by_strategy = answer.get("pnl_by_strategy", {})
        for name, where in sorted(answer["by_strategy"].items()):
            held = ", ".join(f"{s} {q}" for s, q in sorted(where.items())) or "flat"
            p = pnl_by_strategy.get(name)
            lines.append(
                f"  strategy {name}: {held}" + (f" ({p['fills']} fills, {_pnl(p)})" if p else "")
            )
        return lines
    ready = {True: "ready", False: "NOT READY", None: "starting"}[answer["ready"]]
    lines = [
        f"trading {answer['trading_state']}"
        + (f" ({answer['reason']})" if answer["reason"] else "")
        + f", {ready}, PnL {answer['pnl']}, open orders {answer['open_orders']}",
        f"actors {answer['actors']}, restarts {answer['restarts']}"
        + (f", not running: {', '.join(answer['not_running'])}" if answer["not_running"] else ""),
    ]
    lines += [f"  {p}" for p in answer["problems"]]
    rejected = ", ".join(f"{r} {n}" for r, n in sorted(answer["rejected"].items()))
    lines.append(f"approved {answer['approved']}, rejected {rejected or 0}")
    for b in answer["books"]:
        lines.append(
            f"  book {b['venue']} {b['symbol']}: {b['bid']} / {b['ask']}"
            + (" STALE" if b["stale"] else "")
        )
    return lines
