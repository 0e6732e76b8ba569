"""The pure parts of what the operator sees: snapshot lines, events, summary, log fields, view."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import msgspec
import pytest
from rich.console import Console

from actors.cli import main, parser
from actors.observe.collect import (
    BookLine,
    DeskSnapshot,
    OrderFigures,
    book_line,
    changes,
    readiness,
    strategy_lines,
)
from actors.observe.lines import trading_status
from actors.observe.logs import JsonFormatter, configure_logging
from actors.observe.summary import (
    TradingFigures,
    figures_from_journal,
    figures_from_snapshot,
    latency_summary,
    trading_lines,
)
from actors.observe.view import render
from actors.trading.messages import (
    BookSnapshot,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SubmitOrder,
    TradingState,
    TradingStateChanged,
)
from actors.trading.protocol import BookView, LatencyHistogram, OrderView, RiskView

SYM = "BTC/USDT"


def order(cid: str, status: OrderStatus, filled: str = "0", side: str = "buy") -> OrderView:
    return OrderView(
        client_order_id=cid,
        strategy="mm" if cid.startswith("m") else "arb",
        venue="sim",
        symbol=SYM,
        side=side,  # type: ignore[arg-type]
        amount=D("0.01"),
        price=D("100"),
        status=status,
        filled=D(filled),
        venue_order_id=None,
    )


def risk(rejected: dict[str, int], state: TradingState = TradingState.ACTIVE) -> RiskView:
    return RiskView(
        state=state,
        reason="",
        positions={SYM: D("0.01")},
        open_orders=1,
        approved=3,
        rejected=rejected,
        total_pnl=D("1.5"),
    )


def snapshot(orders: tuple[OrderView, ...], view: RiskView, books: list[BookLine]) -> DeskSnapshot:
    return DeskSnapshot(
        at=10.0,
        wall=1000.0,
        actors=[],
        books=books,
        risk=view,
        orders=orders,
        strategies=strategy_lines(orders),
        sessions={"sim": "running"},
        problems=readiness(books, {"sim": "running"}),
    )


def test_book_lines_strategies_and_readiness() -> None:
    snap = BookSnapshot(
        venue="sim", symbol=SYM, bids=((99.0, 1.0),), asks=((101.0, 2.0),), received_at=7.0
    )
    view = BookView(snapshot=snap, stale=False, stale_reason=None, updates=1, rejected=0)
    line = book_line("sim", SYM, view, 9.5, "")
    assert (line.bid, line.ask, line.spread, line.mid, line.age) == (99.0, 101.0, 2.0, 100.0, 2.5)
    assert not line.stale
    missing = book_line("sim", "ETH/USDT", None, 9.5, "AskTimeout")
    assert missing.stale and missing.reason == "AskTimeout"
    assert readiness([line, missing], {"sim": "restarting"}) == [
        "book sim ETH/USDT stale: AskTimeout",
        "session sim restarting",
    ]
    lines = strategy_lines(
        [
            order("m1", OrderStatus.FILLED, "0.01"),
            order("m2", OrderStatus.OPEN),
            order("m3", OrderStatus.PARTIALLY_FILLED, "0.004", side="sell"),
            order("a1", OrderStatus.REJECTED),
        ]
    )
    by_name = {s.name: s for s in lines}
    assert by_name["mm"].positions == {SYM: D("0.006")}
    assert by_name["mm"].volume == {SYM: D("0.014")}
    assert (by_name["mm"].open_orders, by_name["mm"].orders, by_name["mm"].filled_orders) == (
        2,
        3,
        2,
    )
    assert by_name["arb"].open_orders == 0 and by_name["arb"].positions == {}


def test_changes_name_fills_rejections_state_and_books() -> None:
    fresh = BookLine("sim", SYM, 99.0, 101.0, 0.1, False, "")
    stale = BookLine("sim", SYM, 99.0, 101.0, 4.0, True, "no update for 3s")
    old = snapshot((order("m1", OrderStatus.OPEN),), risk({"RATE_LIMIT_SECOND": 2}), [fresh])
    new = snapshot(
        (order("m1", OrderStatus.FILLED, "0.01"), order("a1", OrderStatus.REJECTED)),
        risk({"RATE_LIMIT_SECOND": 5, "HALTED": 1}, TradingState.HALTED),
        [stale],
    )
    texts = [(e.kind, e.text) for e in changes(old, new)]
    assert ("fill", "mm buy 0.01 BTC/USDT on sim (0.01/0.01 limit 100, m1)") in texts
    assert ("order", "arb a1 REJECTED") in texts
    assert ("reject", "risk rejected 3 orders: RATE_LIMIT_SECOND") in texts
    assert ("reject", "risk rejected 1 order: HALTED") in texts
    assert ("state", "trading ACTIVE -> HALTED: ") in texts
    assert ("book", "book sim BTC/USDT stale: no update for 3s") in texts
    assert changes(None, new) == []


def intent(cid: str, strategy: str) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        strategy=strategy,
        venue="sim",
        symbol=SYM,
        side="buy",
        order_type="limit",
        amount=D("1"),
        price=D("100"),
        created_at=0.0,
    )


def fill(cid: str, side: str, price: str, trade: str, fee: str = "0") -> Fill:
    return Fill(
        client_order_id=cid,
        venue="sim",
        symbol=SYM,
        side=side,  # type: ignore[arg-type]
        price=D(price),
        amount=D("1"),
        fee=D(fee),
        trade_id=trade,
    )


def test_summary_from_the_journal_counts_this_run_and_values_positions() -> None:
    old, new, rejected = intent("o1", "mm"), intent("n1", "arb"), intent("n2", "arb")

    def placed(i: OrderIntent) -> list[object]:
        return [i, RiskApproved(intent=i), SubmitOrder(intent=i, venue="sim")]

    def filled(cid: str, price: str, trade: str, side: str = "buy", fee: str = "0") -> list:  # type: ignore[type-arg]
        update = OrderUpdate(
            client_order_id=cid,
            venue="sim",
            venue_order_id="v" + cid,
            status=OrderStatus.FILLED,
            filled=D("1"),
            remaining=D("0"),
        )
        return [fill(cid, side, price, trade, fee), update]

    events = [(1.0, m) for m in [*placed(old), *filled("o1", "100", "t1")]]
    events += [(5.0, m) for m in [*placed(new), *filled("n1", "110", "t2", "sell", "0.5")]]
    events += [
        (5.0, rejected),
        (5.0, RiskRejected(intent=rejected, reason=RejectReason.HALTED, detail="halted")),
        (
            6.0,
            TradingStateChanged(
                state=TradingState.HALTED, previous=TradingState.ACTIVE, reason="ctl"
            ),
        ),
    ]
    figures = figures_from_journal(events, since=2.0, marks={("sim", SYM): 120.0})
    # This run: one order (filled) and one rejection; the older order is not counted.
    assert figures.orders_by_state == {"FILLED": 1}
    assert figures.rejections == {"HALTED": 1}
    assert figures.fills == 1 and figures.volume == {SYM: D("1")}
    # Positions and PnL over the whole journal: bought 100, sold 110, flat, fee 0.5.
    assert figures.by_symbol[SYM].position == {SYM: D("0")}
    assert figures.by_symbol[SYM].realized == D("10")
    assert figures.total_pnl == D("9.5")
    # Per strategy: mm holds 1 bought at 100 (marked 120), arb is short 1 sold at 110.
    assert figures.by_strategy["mm"].position == {SYM: D("1")}
    assert figures.by_strategy["mm"].total == D("20")
    assert figures.by_strategy["arb"].total == D("-10.5")
    assert figures.trading_state == "HALTED"
    assert figures.open_orders == []
    text = "\n".join(trading_lines(figures))
    assert "orders: 1 (FILLED 1)" in text and "risk rejections: 1 (HALTED 1)" in text
    assert "PnL: +9.50 (trading state HALTED)" in text
    assert "strategy mm: BTC/USDT 1, PnL +20.00" in text
    assert json.loads(json.dumps(figures.as_dict()))["total_pnl"] == "9.5"


def test_summary_and_status_line_from_a_snapshot() -> None:
    snap = snapshot(
        (order("m1", OrderStatus.OPEN), order("m2", OrderStatus.FILLED, "0.01")),
        risk({"PRICE_BAND": 2}),
        [BookLine("sim", SYM, 99.0, 101.0, 0.1, False, "")],
    )
    figures = figures_from_snapshot(snap)
    assert figures.orders_by_state == {"OPEN": 1, "FILLED": 1}
    assert figures.open_orders == ["m1"] and figures.total_pnl == D("1.5")
    text, fields = trading_status(snap)
    assert text.startswith("trading ACTIVE | ready | open orders 1 | filled orders 1 | PnL +1.50")
    assert text.endswith("| books fresh 1/1 | mm fills 0 PnL +0.00")
    assert fields["strategies"]["mm"]["open_orders"] == 1
    assert fields["rejected"] == {"PRICE_BAND": 2} and fields["books_fresh"] == 1
    record = logging.LogRecord("actors.x", logging.INFO, __file__, 1, text, (), None)
    record.__dict__.update(fields)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["trading_state"] == "ACTIVE" and entry["positions"] == {SYM: "0.01"}


def test_the_view_renders_books_strategies_and_events() -> None:
    snap = snapshot(
        (order("m1", OrderStatus.OPEN),),
        risk({}),
        [BookLine("sim", SYM, 99.0, 101.0, 0.25, False, "")],
    )
    console = Console(file=io.StringIO(), width=140, record=True)
    console.print(render(snap, "paper", 0.0, [(1000.0, "actors.x: careful")]))
    out = console.export_text()
    assert "actors · paper" in out and "trading ACTIVE" in out and "PnL +1.50" in out
    assert "99.00" in out and "101.00" in out and "fresh" in out
    assert "mm" in out and "careful" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["ctl", "--log-level", "debug", "status", "--log-format", "json"],
        ["--log-format", "json", "ctl", "status", "--log-level", "DEBUG"],
        ["verify", "c.toml", "--log-level", "DEBUG", "--log-format", "json"],
        ["sim-exchange", "--port", "0", "--log-level", "DEBUG", "--log-format", "json"],
        ["--log-level", "DEBUG", "run", "c.toml", "--log-format", "json"],
    ],
)
def test_global_options_work_before_or_after_any_command(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    assert (args.log_level, args.log_format) == ("DEBUG", "json")


def test_global_options_go_anywhere_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["run", "x.toml", "--duration", "5", "--log-format", "json"])
    assert (args.log_format, args.duration, args.log_level) == ("json", 5.0, "INFO")
    args = parser().parse_args(["--log-level", "debug", "check", "x.toml"])
    assert args.log_level == "DEBUG"
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("actors ")
    with pytest.raises(SystemExit) as exit_:
        main(["check", "x.toml", "--log-level", "LOUD"])
    assert exit_.value.code == 2
    assert "'LOUD' is not one of DEBUG" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "Run a crypto trading desk" in help_text and "Exit status" in help_text


def test_log_file_rotates(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "actors.log"
    try:
        configure_logging("INFO", "json", file=path, max_bytes=2000, backups=2)
        for i in range(100):
            logging.getLogger("actors.test").info("line %d", i, extra={"n": i})
        assert path.exists() and (tmp_path / "logs" / "actors.log.1").exists()
        assert not (tmp_path / "logs" / "actors.log.3").exists()
        last = json.loads(path.read_text().splitlines()[-1])
        assert last["message"] == "line 99" and last["n"] == 99
    finally:
        configure_logging("INFO", "text")


@pytest.mark.parametrize(
    ("observe", "message"),
    [
        ({"poll_interval": float("nan")}, "observe.poll_interval: expected a number > 0, got nan"),
        ({"poll_interval": 0}, "observe.poll_interval: expected a number > 0, got 0"),
        ({"status_interval": float("inf")}, "observe.status_interval: expected a number <= 86400"),
        ({"control": "yes"}, 'observe.control: expected true or false, got "yes"'),
    ],
)
def test_bad_observe_settings_name_the_key(observe: dict[str, object], message: str) -> None:
    from actors.topology.load import ConfigError, parse

    data = {"venues": [{"name": "sim", "symbols": [SYM]}], "observe": observe}
    with pytest.raises(ConfigError) as error:
        parse(data, source="desk.toml")
    assert f"desk.toml: {message}" in str(error.value)


def test_an_unwritable_log_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["check", "x.toml", "--log-file", str(blocker / "actors.log")]) == 2
    assert f"actors: --log-file {blocker / 'actors.log'}:" in capsys.readouterr().err


def test_ctl_explains_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    off = tmp_path / "off.toml"
    off.write_text('[[venues]]\nname = "sim"\nsymbols = ["BTC/USDT"]\n[observe]\ncontrol = false\n')
    assert main(["ctl", "status", "--config", str(off)]) == 2
    assert "turns the control endpoint off" in capsys.readouterr().err
    on = tmp_path / "on.toml"
    on.write_text(f'[desk]\njournal = "{tmp_path}/j.sqlite"\n[[venues]]\nname = "sim"\n'
                  'symbols = ["BTC/USDT"]\n')  # fmt: skip
    assert main(["ctl", "halt", "--config", str(on)]) == 1
    err = capsys.readouterr().err
    assert f"no control file at {tmp_path}/j.sqlite.control.json: is the desk running?" in err
    assert main(["ctl", "status"]) == 2
    assert "give --config TOPOLOGY or --control FILE" in capsys.readouterr().err


def test_order_figures_fold_changes_into_fills_and_pnl_per_strategy() -> None:
    def view(cid: str, side: str, filled: str, avg: str | None, fills: int, at: float) -> OrderView:
        return msgspec.structs.replace(
            order(cid, OrderStatus.FILLED if filled == "1" else OrderStatus.OPEN, filled, side),
            amount=D("1"),
            average_price=None if avg is None else D(avg),
            fills=fills,
            updated_at=at,
        )

    figures = OrderFigures()
    changed = figures.apply([view("m1", "buy", "0", None, 0, 1.0)])
    assert [(before, after.client_order_id) for before, after in changed] == [(None, "m1")]
    figures.apply([view("m1", "buy", "0.5", "100", 1, 2.0)])
    figures.apply([view("m1", "buy", "0.5", "100", 1, 2.0)])  # unchanged: nothing counted
    figures.apply([view("m1", "buy", "1", "101", 2, 3.0)])  # the second half at 102
    figures.apply([view("m2", "sell", "1", "110", 1, 4.0), view("m3", "buy", "0", None, 0, 4.5)])
    assert figures.since == 4.5
    (mm,) = figures.lines(["mm"], {("sim", SYM): 105.0})
    assert (mm.orders, mm.open_orders, mm.filled_orders, mm.fills) == (3, 1, 2, 3)
    assert mm.positions == {} and mm.volume == {SYM: D("2")}
    assert mm.realised == D("9") and mm.unrealised == 0 and mm.pnl == D("9")  # 110 - 101
    figures.apply([view("m3", "buy", "1", "100", 1, 5.0)])
    (mm,) = figures.lines([], {("sim", SYM): 105.0})
    assert mm.positions == {SYM: D("1")} and mm.unrealised == D("5") and mm.pnl == D("14")
    snap = snapshot(tuple(figures.views.values()), risk({}), [])
    snap = replace(snap, strategies=[mm])
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(render(snap, "paper", 0.0, []))
    out = console.export_text()
    assert "realised" in out and "+9.00" in out and "+5.00" in out


def test_the_summary_tells_the_tick_to_order_latency() -> None:
    hist = LatencyHistogram(
        bounds=(0.001, 0.002, 0.005), buckets=(50, 40, 9, 1), count=100, sum=0.2
    )
    latency = latency_summary(hist)
    assert latency == {"count": 100, "mean": 0.002, "p50": 0.001, "p90": 0.002, "p99": 0.005}
    assert latency_summary(msgspec.structs.replace(hist, buckets=(0, 0, 0, 0), count=0)) is None
    beyond = latency_summary(msgspec.structs.replace(hist, buckets=(0, 0, 0, 100)))
    assert beyond is not None and beyond["p50"] == float("inf")
    figures = TradingFigures(source="journal", tick_to_order=latency)
    assert "tick-to-order: 100 orders answered a book, mean 2 ms, p50 <= 1 ms, p99 <= 5 ms" in (
        trading_lines(figures)
    )
    assert figures.as_dict()["tick_to_order"]["p99"] == 0.005
