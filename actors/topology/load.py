"""Loading and validating a topology file, with errors that name the file and the key."""

from __future__ import annotations

import json
import math
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from actors.runtime import Backoff, GiveUp
from actors.topology.numbers import number_problems
from actors.topology.schema import ActorGroupSection, GroupSection, Topology
from actors.trading.config import (
    DEFAULT_GROUPS,
    SINGLE_ACTOR_GROUPS,
    SUPERVISED_GROUPS,
    GroupPolicy,
)
from actors.trading.risk import RiskLimits, SymbolLimits

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")
CLASS_PATH = re.compile(r"^([A-Za-z_][\w.]*([:.][A-Za-z_]\w*)|[^:]+\.py:[A-Za-z_]\w*)$")
"""A strategy class: ``pkg.mod:Class``, ``pkg.mod.Class`` or ``path/to/file.py:Class``."""
MAX_DEPTH = 32
"""Tables and arrays nest at most this deep (a topology needs 5)."""


class ConfigError(ValueError):
    """A topology that cannot be used; each line names the file and the key at fault."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def load(path: str | Path) -> Topology:
    """Read, parse and validate a topology file.

    >>> # topology = load("config/paper.toml")
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError(
            str(path), [f"not a usable TOML file: tables or arrays nest too deeply (> {MAX_DEPTH})"]
        ) from None
    return importable_from(parse(data, source=str(path)), path.parent)


def importable_from(topology: Topology, folder: Path) -> Topology:
    """``topology`` with its strategies' files (``file.py:Class``) taken from ``folder``
    (the topology file's directory) and that directory on the import path, so a strategy
    beside its topology loads as ``my_strategy.py:Class`` or ``my_strategy:Class``."""
    folder = folder.resolve()
    if str(folder) not in sys.path:
        sys.path.append(str(folder))  # at the end: it cannot shadow the standard library
    strategies = []
    for strategy in topology.strategies:
        file, sep, cls = strategy.class_.rpartition(":")
        if file.endswith(".py") and sep and not Path(file).is_absolute():
            strategy = msgspec.structs.replace(strategy, class_=f"{folder / file}:{cls}")
        strategies.append(strategy)
    return msgspec.structs.replace(topology, strategies=strategies)


def parse(data: dict[str, Any], *, source: str = "<topology>") -> Topology:
    """Convert and validate already-parsed TOML data."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a table"])
    too_deep = _too_deep(data, MAX_DEPTH)
    if too_deep is not None:
        raise ConfigError(source, [f"{too_deep}: nested deeper than {MAX_DEPTH} levels"])
    problems = _unknown_risk_keys(data.get("risk"))
    if problems:
        raise ConfigError(source, problems)
    try:
        topology = msgspec.convert(data, Topology)
    except msgspec.ValidationError as exc:
        raise ConfigError(source, [located(str(exc), data)]) from None
    problems = number_problems(topology) or validate(topology)
    if problems:
        raise ConfigError(source, problems)
    return topology


_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "decimal": "a number",
    "str": "a string",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}


def located(message: str, data: Any = None, prefix: str = "") -> str:
    """A msgspec error as ``key.path: expected ..., got <value>`` (the value read from ``data``).

    >>> located("Expected `float` > 0.0 - at `$.spread_bps`", {"spread_bps": "wide"}, "params")
    'params.spread_bps: expected a number > 0, got "wide"'
    """
    match = re.match(r"^(?P<what>.*) - at `\$\.?(?P<where>[^`]*)`$", message, re.S)
    what, where = (match["what"], match["where"]) if match else (message, "")
    keyed = re.match(r"^(?P<where>[A-Za-z_][\w.\[\]]*): (?P<what>.*)$", what, re.S)
    if keyed:
        # A ``__post_init__`` check that names its own field: "spread_bps: must be ..."
        what = keyed["what"]
        where = f"{where}.{keyed['where']}" if where else keyed["where"]
    if prefix:
        where = f"{prefix}.{where}" if where and not where.startswith("[") else prefix + where
    found, value = _value_at(data, match["where"] if match else "")
    expected = re.match(r"^Expected `(?P<types>[^`]*)`(?P<bound>.*?)(, got `[^`]*`)?$", what)
    if expected:
        types = " or ".join(
            _TYPE_WORDS.get(t.strip(), f"`{t.strip()}`") for t in expected["types"].split("|")
        )
        bound = re.sub(r"(\d)\.0\b", r"\1", expected["bound"])
        what = f"expected {types}{bound}"
        if found:
            what += f", got {_show(value)}"
    elif what.startswith("Object missing required field"):
        field = keyname(what.split("`", 1)[1].rsplit("`", 1)[0])
        where, what = (f"{where}.{field}" if where else field), "required, not set"
    elif what.startswith("Object contains unknown field"):
        field = keyname(what.split("`", 1)[1].rsplit("`", 1)[0])
        where, what = (f"{where}.{field}" if where else field), "unknown key"
    elif what.startswith("Invalid"):
        what = what[:1].lower() + what[1:]
    return f"{where or '(top level)'}: {what}"


def keyname(key: object) -> str:
    """A key as it appears in a message: bare when plain, else JSON-quoted (one line)."""
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else json.dumps(text)


def _value_at(data: Any, where: str) -> tuple[bool, Any]:
    """The value at msgspec's path ``venues[0].embedded.port`` in ``data`` (if reachable)."""
    if data is None:
        return False, None
    value = data
    for part in re.findall(r"[^.\[\]]+|\[[^\]]*\]", where):
        if part.startswith("["):
            inner = part[1:-1]
            if not inner.isdigit() or not isinstance(value, list) or int(inner) >= len(value):
                return False, None
            value = value[int(inner)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value


def _show(value: Any) -> str:
    if isinstance(value, str):
        # JSON escapes keep a message on one line whatever the value holds.
        return json.dumps(value[:60])
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)[:60]


def _too_deep(data: Any, limit: int) -> str | None:
    """The key path of the first value nested deeper than ``limit`` (iteratively), or None."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > limit:
            return path or "(top level)"
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append((item, f"{path}.{keyname(key)}" if path else keyname(key), depth + 1))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                stack.append((item, f"{path}[{i}]", depth + 1))
    return None


def _unknown_risk_keys(risk: Any) -> list[str]:
    # RiskLimits belongs to the trading engine and tolerates unknown keys; a config must not.
    if not isinstance(risk, dict):
        return []
    known = set(RiskLimits.__struct_fields__)
    problems = [f"risk.{keyname(key)}: unknown key" for key in risk if key not in known]
    symbols = risk.get("symbols", {})
    if isinstance(symbols, dict):
        per_symbol = set(SymbolLimits.__struct_fields__)
        for symbol, limits in symbols.items():
            if isinstance(limits, dict):
                problems += [
                    f"risk.symbols.{json.dumps(symbol)}.{keyname(key)}: unknown key"
                    for key in limits
                    if key not in per_symbol
                ]
    return problems


def validate(topology: Topology) -> list[str]:
    """Every problem msgspec's types cannot see, as ``key: what is wrong`` lines."""
    problems: list[str] = []
    sup = topology.supervision
    if sup.max_restarts < 0:
        problems.append("supervision.max_restarts: must be >= 0")
    if not 0 < sup.within < math.inf:
        problems.append("supervision.within: must be a finite number > 0 seconds")
    if not (sup.blocked_after == 0 or 0 < sup.blocked_after < math.inf):
        problems.append("supervision.blocked_after: must be a finite number > 0 (0: off)")
    problems += group_problems(topology)
    from actors.topology.nodes import node_problems  # nodes.py imports this module

    problems += node_problems(topology)

    if not topology.venues:
        problems.append("venues: at least one venue is required")
    venue_symbols: dict[str, set[str]] = {}
    ports: dict[int, str] = {}
    for i, venue in enumerate(topology.venues):
        at = f"venues[{i}]"
        if not NAME.match(venue.name):
            problems.append(f"{at}.name: {venue.name!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        elif venue.name in venue_symbols:
            problems.append(f"{at}.name: duplicate venue name {venue.name!r}")
        if not venue.symbols:
            problems.append(f"{at}.symbols: at least one symbol is required")
        seen: set[str] = set()
        for j, symbol in enumerate(venue.symbols):
            if not SYMBOL.match(symbol):
                problems.append(f"{at}.symbols[{j}]: {symbol!r} is not BASE/QUOTE (BTC/USDT)")
            elif symbol in seen:
                problems.append(f"{at}.symbols[{j}]: {symbol!r} is listed twice")
            seen.add(symbol)
        venue_symbols.setdefault(venue.name, seen)
        if not venue.stall_after > 0:
            problems.append(f"{at}.stall_after: must be > 0 seconds")
        if venue.book_depth < 1:
            problems.append(f"{at}.book_depth: must be >= 1")
        if venue.kind == "embedded":
            port = venue.embedded.port
            if not 0 <= port <= 65535:
                problems.append(f"{at}.embedded.port: {port} is not a TCP port")
            elif port and port in ports:
                problems.append(f"{at}.embedded.port: {port} is also used by {ports[port]!r}")
            ports[port] = venue.name
            if venue.embedded.rate_hz < 0:
                problems.append(f"{at}.embedded.rate_hz: must be >= 0")
            protocol = venue.embedded.protocol
            if venue.exchange is not None and venue.exchange != protocol:
                problems.append(
                    f"{at}.exchange: an embedded venue speaks its embedded.protocol "
                    f"({protocol!r}); set embedded.protocol = {venue.exchange!r} instead"
                )
            for key in ("sandbox", "api_key_env", "secret_env", "password_env"):
                if getattr(venue, key):
                    problems.append(f'{at}.{key}: only for kind = "exchange"')
        else:
            problems += _exchange_problems(
                at, venue.exchange or "binance", venue.api_key_env, venue.secret_env
            )
        if venue.order_entry == "ws":
            problems += ws_entry_problems(
                at,
                venue.embedded.protocol
                if venue.kind == "embedded"
                else venue.exchange or "binance",
            )

    all_symbols = set().union(*venue_symbols.values()) if venue_symbols else set()
    for name in topology.risk.venues:
        if name not in venue_symbols:
            problems.append(f"risk.venues.{keyname(name)}: no venue is named {name!r}")
    for symbol in topology.risk.symbols:
        if symbol not in all_symbols:
            problems.append(f'risk.symbols."{symbol}": no venue trades {symbol}')

    names: set[str] = set()
    for i, strategy in enumerate(topology.strategies):
        at = f"strategies[{i}]"
        if not NAME.match(strategy.name):
            problems.append(f"{at}.name: {strategy.name!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        elif strategy.name in names:
            problems.append(f"{at}.name: duplicate strategy name {strategy.name!r}")
        names.add(strategy.name)
        if not CLASS_PATH.match(strategy.class_):
            problems.append(
                f"{at}.class: {strategy.class_!r} is neither a dotted path (pkg.mod:Class) "
                "nor a file (path/to/file.py:Class)"
            )
        venues = strategy.venues or list(venue_symbols)
        for j, name in enumerate(strategy.venues):
            if name not in venue_symbols:
                problems.append(f"{at}.venues[{j}]: no venue is named {name!r}")
        reachable = set().union(*(venue_symbols.get(v, set()) for v in venues))
        for j, symbol in enumerate(strategy.symbols):
            if symbol not in reachable:
                problems.append(f"{at}.symbols[{j}]: {symbol!r} is not traded on {venues}")
    problems += fault_problems(topology)
    port = topology.observe.metrics_port
    if port is not None and not 0 <= port <= 65535:
        problems.append(f"observe.metrics_port: {port} is not a TCP port")
    return problems


def fault_problems(topology: Topology) -> list[str]:
    """What is wrong with the ``[faults]`` section: each fault's own consistency, and venue
    faults aimed at a venue that is not an embedded venue of this topology."""
    plan = topology.faults
    if plan is None:
        return []
    problems = plan.problems()
    kinds = {v.name: v.kind for v in topology.venues}
    for i, fault in enumerate(plan.inject):
        if fault.venue is None:
            continue
        at = f"faults.inject[{i}].venue"
        if fault.venue not in kinds:
            problems.append(f"{at}: no venue is named {fault.venue!r}")
        elif kinds[fault.venue] != "embedded":
            problems.append(
                f"{at}: {fault.venue!r} is a real exchange; faults need an embedded venue"
            )
        elif fault.symbol is not None:
            symbols = next(v.symbols for v in topology.venues if v.name == fault.venue)
            if fault.symbol not in symbols:
                problems.append(
                    f"faults.inject[{i}].symbol: {fault.symbol!r} is not traded on {fault.venue!r}"
                )
    return problems


def ws_entry_problems(at: str, exchange: str) -> list[str]:
    """``order_entry = "ws"`` on an exchange whose ccxt class or dialect has no websocket
    order entry."""
    return (
        []
        if ws_entry_available(exchange)
        else [
            f'{at}.order_entry: "ws", but ccxt\'s {exchange} has no websocket order entry '
            f'(createOrderWs); use "rest" or leave it out'
        ]
    )


def ws_entry_available(exchange: str) -> bool:
    """Whether orders to ccxt id ``exchange`` can go over its websocket API."""
    import ccxt.pro

    from actors.trading.dialects import dialect_for

    cls = getattr(ccxt.pro, exchange, None)
    if cls is None:
        return False  # an unknown exchange is reported on its own line
    # ``has`` is filled in by the constructor (no connection is opened by it)
    return dialect_for(exchange).ws_order_entry(cls())


def _exchange_problems(
    at: str, exchange: str, key_env: str | None, secret_env: str | None
) -> list[str]:
    import ccxt.pro

    problems = []
    if exchange not in ccxt.pro.exchanges:
        problems.append(f"{at}.exchange: ccxt.pro has no exchange {exchange!r}")
    if (key_env is None) != (secret_env is None):
        problems.append(f"{at}: api_key_env and secret_env go together")
    return problems


def group_policies(topology: Topology) -> dict[str, GroupPolicy]:
    """The effective supervision of every group: its table, else ``[supervision]``'s
    defaults, else the group's built-in policy (raises ValueError naming the key)."""
    return {name: group_policy(topology, name) for name in GROUPS}


def group_problems(topology: Topology) -> list[str]:
    """What is wrong with the supervision of each group, once per key at fault.

    A bad default in ``[supervision]`` is reported there, once, not in every group that
    inherits it.
    """
    problems: list[str] = []
    inherited = msgspec.structs.replace(
        topology,
        supervision=msgspec.structs.replace(
            topology.supervision,
            **{name: type(getattr(topology.supervision, name))() for name in GROUPS},
        ),
    )
    for name in GROUPS:
        for source in (inherited, topology):
            try:
                group_policy(source, name)
            except ValueError as exc:
                where = str(exc) if source is topology else str(exc).replace(f".{name}.", ".", 1)
                if where not in problems:
                    problems.append(where)
                break
    return problems


def group_policy(topology: Topology, name: str) -> GroupPolicy:
    """The effective supervision of group ``name`` (see ``group_policies``)."""
    sup = topology.supervision
    section: ActorGroupSection = getattr(sup, name)
    builtin = DEFAULT_GROUPS[name]
    at = f"supervision.{name}"
    backoff_fields = {
        key: _first(
            getattr(section.backoff, key), getattr(sup.backoff, key), getattr(builtin.backoff, key)
        )
        for key in ("initial", "maximum", "multiplier", "jitter", "reset_after")
    }
    try:
        backoff = Backoff(**backoff_fields)
    except ValueError as exc:
        raise ValueError(f"{at}.{exc}") from None
    grace = _first(section.shutdown_grace, sup.shutdown_grace, builtin.shutdown_grace)
    if not 0 <= grace < math.inf:
        raise ValueError(f"{at}.shutdown_grace: must be a finite number >= 0 seconds")
    if not isinstance(section, GroupSection):
        return GroupPolicy(backoff, grace, builtin.max_restarts, builtin.within, builtin.give_up)
    max_restarts = _first(section.max_restarts, builtin.max_restarts)
    within = _first(section.within, builtin.within)
    if max_restarts < 0:
        raise ValueError(f"{at}.max_restarts: must be >= 0")
    if not 0 < within < math.inf:
        raise ValueError(f"{at}.within: must be a finite number > 0 seconds")
    give_up = GiveUp(section.give_up) if section.give_up else builtin.give_up
    return GroupPolicy(backoff, grace, max_restarts, within, give_up)


GROUPS = (*SINGLE_ACTOR_GROUPS, *SUPERVISED_GROUPS)


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)
