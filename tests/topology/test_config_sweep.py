"""Generated topologies through the real ``actors check``: exit 0, or exit 2 with key paths.

Each example starts from a full desk (two venues, both shipped strategies, risk with symbol
overrides) and breaks it: values replaced by NaN, inf, negatives, huge numbers, strings,
lists, tables or deep nesting; keys deleted or invented. Whatever the file holds, ``check``
never raises and never prints a traceback: it accepts the file, or refuses it with lines
``<file>: <key path>: <problem>``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.cli import main
from tests.topology.toml_writer import Deep, dumps

BASE: dict[str, Any] = {
    "desk": {"name": "sweep", "journal": "JOURNAL", "cancel_on_shutdown": True},
    "supervision": {
        "max_restarts": 10,
        "within": 60.0,
        "shutdown_grace": 5.0,
        "backoff": {"initial": 0.2, "maximum": 10.0, "multiplier": 2.0, "jitter": 0.2},
    },
    "venues": [
        {
            "name": "sim-a",
            "symbols": ["BTC/USDT", "ETH/USDT"],
            "stall_after": 10.0,
            "rate": 20.0,
            "burst": 10,
            "submit_timeout": 5.0,
            "liveness_interval": 10.0,
            "embedded": {"port": 0, "seed": 7, "rate_hz": 20.0, "balances": {"USDT": 1000}},
        },
        {
            "name": "sim-b",
            "symbols": ["BTC/USDT"],
            "book_depth": 20,
            "embedded": {"protocol": "okx"},
        },
    ],
    "risk": {
        "max_order_amount": 1.0,
        "max_open_orders": 20,
        "max_book_age": 5.0,
        "price_band": 0.02,
        "symbols": {"BTC/USDT": {"max_position": 0.2}},
    },
    "strategies": [
        {
            "name": "arb",
            "class": "actors.trading.strategies.arbitrage:TakerArbitrage",
            "symbols": ["BTC/USDT"],
            "venues": ["sim-a", "sim-b"],
            "params": {"threshold_bps": 2.0, "max_amount": 0.002, "cooldown": 2.0},
        },
        {
            "name": "mm",
            "class": "actors.trading.strategies.market_maker:MarketMaker",
            "symbols": ["ETH/USDT"],
            "venues": ["sim-a"],
            "params": {"amount": 0.05, "spread_bps": 20.0},
        },
    ],
    "observe": {"status_interval": 10.0},
}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of ``value`` (tables and lists), leaves and inner nodes."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += paths(item, (*prefix, i))
    return out


PATHS = paths(BASE)

scalars = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -1.0, 0.0, 1e300, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=8),
    st.booleans(),
    st.sampled_from(["nan", "inf", "-1", "0.0001", "BTC/USDT", "wide", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def mutations(draw: st.DrawFn) -> list[tuple[str, tuple[Any, ...], Any]]:
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["set", "set", "set", "delete", "add", "nest"]))
        path = draw(st.sampled_from(PATHS))
        if kind == "add":
            out.append((kind, path, (draw(st.text(min_size=1, max_size=6)), draw(values))))
        elif kind == "nest":
            out.append((kind, path, draw(st.integers(min_value=30, max_value=3000))))
        else:
            out.append((kind, path, draw(values)))
    return out


def apply(data: dict[str, Any], mutation: tuple[str, tuple[Any, ...], Any]) -> None:
    kind, path, value = mutation
    parent: Any = data
    for key in path[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation changed the shape: nothing to do
    last = path[-1]
    if not isinstance(parent, (dict, list)):
        return
    if isinstance(parent, list) and (not isinstance(last, int) or last >= len(parent)):
        return
    if isinstance(parent, dict) and (not isinstance(last, str) or last not in parent):
        return
    if kind == "set":
        parent[last] = value
    elif kind == "delete":
        del parent[last]
    elif kind == "add":
        target = parent[last]
        if isinstance(target, dict):
            target[value[0]] = value[1]
    elif kind == "nest":
        parent[last] = Deep(value)


LINE = re.compile(
    r'^(?P<file>[^:]+): (?P<where>\(top level\)|(?:[\w\[\]./-]|"(?:[^"\\]|\\.)*")+)[: ].+'
)
"""``<file>: <key path>: <problem>`` (or ``<key path> <problem>`` for a few older lines)."""


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutations())
def test_check_never_tracebacks_and_locates_every_problem(
    changes: list[tuple[str, tuple[Any, ...], Any]],
) -> None:
    data = copy.deepcopy(BASE)
    with tempfile.TemporaryDirectory() as tmp:
        data["desk"]["journal"] = str(Path(tmp) / "j.sqlite")
        for change in changes:
            apply(data, change)
        path = Path(tmp) / "desk.toml"
        path.write_text(dumps(data))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["check", str(path)])
    assert code in (0, 2), (code, err.getvalue())
    text = err.getvalue()
    assert "Traceback" not in text
    if code == 2:
        lines = text.rstrip("\n").split("\n")
        assert lines, "exit 2 without a message"
        for line in lines:
            match = LINE.match(line)
            assert match and match["file"] == str(path), line
    else:
        assert "ok:" in out.getvalue()
