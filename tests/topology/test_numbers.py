"""Every number of a topology is finite and in range; bad files end in a located message."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from actors.cli import main
from actors.topology.build import build
from actors.topology.load import ConfigError, load, parse
from tests.topology.toml_writer import dumps

NAN, INF = float("nan"), float("inf")
MM = "actors.trading.strategies.market_maker:MarketMaker"
ARB = "actors.trading.strategies.arbitrage:TakerArbitrage"


def minimal(**sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"venues": [{"name": "sim", "symbols": ["BTC/USDT"]}]}
    data.update(sections)
    return data


def venue(**knobs: Any) -> dict[str, Any]:
    return {"venues": [{"name": "sim", "symbols": ["BTC/USDT"], **knobs}]}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (minimal(risk={"max_book_age": NAN}), "risk.max_book_age"),
        (minimal(risk={"max_book_age": INF}), "risk.max_book_age"),
        (minimal(risk={"max_daily_loss": NAN}), "risk.max_daily_loss"),
        (minimal(risk={"symbols": {"BTC/USDT": {"max_book_age": NAN}}}), "risk"),
        (venue(rate=NAN), "venues[0].rate"),
        (venue(rate=INF), "venues[0].rate"),
        (venue(submit_timeout=NAN), "venues[0].submit_timeout"),
        (venue(liveness_interval=INF), "venues[0].liveness_interval"),
        (venue(stall_after=-1.0), "venues[0].stall_after"),
        (venue(burst=0), "venues[0].burst"),
        (venue(embedded={"rate_hz": NAN}), "venues[0].embedded.rate_hz"),
        (venue(embedded={"balances": {"USDT": -5}}), "venues[0].embedded.balances.USDT"),
        (venue(embedded={"balances": {"USDT": NAN}}), "venues[0].embedded.balances.USDT"),
        (venue(embedded={"balances": {"BTC": INF}}), "venues[0].embedded.balances.BTC"),
        (minimal(supervision={"backoff": {"initial": NAN}}), "supervision.backoff.initial"),
        (minimal(supervision={"backoff": {"maximum": INF}}), "supervision.backoff.maximum"),
        (minimal(supervision={"shutdown_grace": INF}), "supervision.shutdown_grace"),
        (minimal(supervision={"within": NAN}), "supervision.within"),
        (minimal(supervision={"max_restarts": -1}), "supervision.max_restarts"),
        (minimal(observe={"status_interval": NAN}), "observe.status_interval"),
        (minimal(observe={"status_interval": -1.0}), "observe.status_interval"),
    ],
)
def test_nan_inf_and_negatives_are_refused_with_the_key(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(data, source="t.toml")
    assert any(p.startswith(where) for p in info.value.problems), info.value.problems


def test_a_number_without_declared_bounds_gets_the_default_range() -> None:
    # Numbers of any section, even one this check never names, are finite and >= 0.
    import msgspec

    from actors.topology.numbers import number_problems

    class Later(msgspec.Struct):
        knob: float = 1.0
        count: int = 1
        limits: dict[str, float] = {}

    assert number_problems(Later()) == []
    assert number_problems(Later(knob=-0.5, count=-1, limits={"x": NAN}), "new") == [
        "new.knob: expected a finite number >= 0 and <= 1000000000000, got -0.5",
        "new.count: expected an integer >= 0 and <= 1000000000000, got -1",
        "new.limits.x: expected a finite number >= 0 and <= 1000000000000, got nan",
    ]


@pytest.mark.parametrize("shape", ["table", "array"])
def test_a_deeply_nested_file_is_refused_in_one_line(
    tmp_path: Path, shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.toml"
    nested = "{a=" * 5000 + "1" + "}" * 5000 if shape == "table" else "[" * 5000 + "]" * 5000
    path.write_text(
        f'[[venues]]\nname = "sim"\nsymbols = ["BTC/USDT"]\noptions = {{x = {nested}}}\n'
    )
    with pytest.raises(ConfigError, match="nest too deeply"):
        load(path)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "nest too deeply" in err and "Traceback" not in err


def test_moderately_deep_data_names_the_key() -> None:
    options: dict[str, Any] = {}
    inner = options
    for _ in range(40):
        inner["k"] = {}
        inner = inner["k"]
    with pytest.raises(ConfigError, match=r"venues\[0\]\.options\.k\.k.*nested deeper than 32"):
        parse(venue(options=options))


# --- the journal --------------------------------------------------------------------------


def check(tmp_path: Path, journal: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "desk.toml"
    path.write_text(dumps({"desk": {"journal": journal}, **minimal()}))
    code = main(["check", str(path)])
    return code, capsys.readouterr().err


def test_check_accepts_a_journal_whose_directory_can_be_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = check(tmp_path, str(tmp_path / "var" / "deep" / "j.sqlite"), capsys)
    assert (code, err) == (0, "")
    assert not (tmp_path / "var").exists()  # the check proves it, it does not create it


def test_check_refuses_a_journal_below_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x")
    code, err = check(tmp_path, str(tmp_path / "afile" / "j.sqlite"), capsys)
    assert code == 2
    assert f"desk.journal: cannot create {tmp_path / 'afile'}: " in err
    assert "is not a directory" in err


def test_check_refuses_a_journal_in_a_read_only_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # /sys refuses new files even to root (a chmod'ed directory does not stop root).
    code, err = check(tmp_path, "/sys/actors-journal.sqlite", capsys)
    assert code == 2
    assert "desk.journal: cannot write in /sys: " in err


def test_check_refuses_a_file_that_is_not_a_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    code, err = check(tmp_path, str(other), capsys)
    assert code == 2 and f"desk.journal: {other} is not a journal" in err
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not sqlite at all, just bytes" * 100)
    code, err = check(tmp_path, str(garbage), capsys)
    assert code == 2 and f"desk.journal: {garbage} cannot be read as a journal" in err


# --- strategy parameters --------------------------------------------------------------------


def strategies(*entries: dict[str, Any]) -> dict[str, Any]:
    data = {"venues": [{"name": "a", "symbols": ["BTC/USDT", "ETH/USDT"]}]}
    data["venues"].append({"name": "b", "symbols": ["BTC/USDT"]})
    return {**data, "strategies": list(entries)}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"name": "mm", "class": MM, "symbols": ["BTC/USDT"], "venues": ["a"],
             "params": {"amount": 0.01, "spread_bps": "wide"}},
            'strategies[0].params.spread_bps: expected a number, got "wide"',
        ),
        (
            {"name": "mm", "class": MM, "symbols": ["BTC/USDT"], "venues": ["a"],
             "params": {"amount": 0.01, "spread_bps": -3}},
            "strategies[0].params.spread_bps: expected a number > 0, got -3",
        ),
        (
            # two symbols: the market maker has no single symbol to quote
            {"name": "mm", "class": MM, "symbols": ["BTC/USDT", "ETH/USDT"], "venues": ["a"],
             "params": {"amount": 0.01}},
            "strategies[0].params.symbol: required, not set",
        ),
        (
            {"name": "mm", "class": MM, "symbols": ["BTC/USDT"], "venues": ["a"],
             "params": {"amount": "nan"}},
            "strategies[0].params.amount: expected a number > 0, got NaN",
        ),
        (
            {"name": "mm", "class": MM, "symbols": ["BTC/USDT"], "venues": ["a"],
             "params": {"amount": 1, "sprad_bps": 3}},
            "strategies[0].params.sprad_bps: unknown key",
        ),
        (
            {"name": "arb", "class": ARB, "symbols": ["BTC/USDT"], "venues": ["a"],
             "params": {"max_amount": 1}},
            "strategies[0].params.venues: an arbitrage needs two venues, got ['a']",
        ),
        (
            {"name": "arb", "class": ARB, "symbols": ["BTC/USDT"],
             "params": {"max_amount": 1, "cooldown": NAN}},
            "strategies[0].params.cooldown: expected a number >= 0, got nan",
        ),
    ],
)  # fmt: skip
def test_strategy_params_are_checked_with_their_key(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(parse(strategies(entry)), pick_port=lambda: 0)
    assert problem in info.value.problems, info.value.problems


def test_shipped_strategies_read_typed_params() -> None:
    from decimal import Decimal

    from actors.trading.strategies.market_maker import MarketMaker

    entry = {"name": "mm", "class": MM, "symbols": ["ETH/USDT"], "venues": ["a"],
             "params": {"amount": 0.05, "spread_bps": 12}}  # fmt: skip
    plan = build(parse(strategies(entry)), pick_port=lambda: 0)
    (group,) = [s for s in plan.specs if s.name == "strategies"]
    strategy = group.children[0].factory()
    assert isinstance(strategy, MarketMaker)
    assert strategy.p.spread_bps == 12.0
    assert (strategy.p.symbol, strategy.p.venue, strategy.p.amount) == (
        "ETH/USDT", "a", Decimal("0.05"),
    )  # fmt: skip
