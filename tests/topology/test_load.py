"""Topology files: the shipped ones load; every kind of bad input names the file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from actors.topology.load import ConfigError, load, parse

CONFIG = Path(__file__).resolve().parents[2] / "config"


def minimal(**sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"venues": [{"name": "sim", "symbols": ["BTC/USDT"]}]}
    data.update(sections)
    return data


@pytest.mark.parametrize("name", ["paper.toml", "exchange.example.toml"])
def test_shipped_topologies_load(name: str) -> None:
    topology = load(CONFIG / name)
    assert topology.venues and topology.strategies


def test_paper_topology_has_two_embedded_venues() -> None:
    topology = load(CONFIG / "paper.toml")
    assert [(v.name, v.kind, v.embedded.protocol) for v in topology.venues] == [
        ("sim-a", "embedded", "binance"),
        ("sim-b", "embedded", "okx"),
    ]
    assert str(topology.risk.for_symbol("BTC/USDT").max_position) == "0.2"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file"):
        load(tmp_path / "nope.toml")


def test_broken_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[desk]\nname = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML: .*line 2"):
        load(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, r"venues: required, not set"),
        (minimal(desk={"nmae": "x"}), r"desk\.nmae: unknown key"),
        (
            {"venues": [{"name": "sim", "symbols": ["BTC/USDT"], "embedded": {"port": "80"}}]},
            r'venues\[0\]\.embedded\.port: expected an integer, got "80"',
        ),
        (
            {"venues": [{"name": "sim", "symbols": ["BTC/USDT"], "kind": "paper"}]},
            r"venues\[0\]\.kind: invalid enum value 'paper'",
        ),
        (minimal(risk={"max_positon": 1}), r"risk\.max_positon: unknown key"),
        (minimal(journal={"sync": "off"}), r"journal\.sync: invalid enum value 'off'"),
        (minimal(journal={"id_block": 0}), r"journal\.id_block: expected an integer >= 1, got 0"),
        (
            minimal(journal={"id_block": 5000}),
            r"journal\.id_block: expected an integer <= 4096, got 5000",
        ),
        (minimal(journal={"id_block": 1.5}), r"journal\.id_block: expected an integer, got 1.5"),
        (
            minimal(risk={"symbols": {"BTC/USDT": {"max_open_orders": 1}}}),
            r'risk\.symbols\."BTC/USDT"\.max_open_orders: unknown key',
        ),
        (minimal(risk={"max_position": -1}), r"risk.max_position: expected a number > 0, got -1"),
        (
            minimal(risk={"max_open_orders": "x"}),
            r'risk\.max_open_orders: expected an integer or nothing, got "x"',
        ),
    ],
)
def test_type_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^my\.toml: {message}"):
        parse(data, source="my.toml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"venues": []}, "venues: at least one venue is required"),
        (
            {"venues": [{"name": "a/b", "symbols": ["BTC/USDT"]}]},
            r"venues\[0\]\.name: 'a/b' must be 1-64 of",
        ),
        (
            {"venues": [{"name": "x", "symbols": ["BTC/USDT"]}] * 2},
            r"venues\[1\]\.name: duplicate venue name 'x'",
        ),
        (
            {"venues": [{"name": "x", "symbols": ["btcusdt"]}]},
            r"venues\[0\]\.symbols\[0\]: 'btcusdt' is not BASE/QUOTE",
        ),
        (
            {"venues": [{"name": "x", "symbols": ["BTC/USDT", "BTC/USDT"]}]},
            r"venues\[0\]\.symbols\[1\]: 'BTC/USDT' is listed twice",
        ),
        (
            {"venues": [{"name": "x", "symbols": ["BTC/USDT"], "stall_after": 0}]},
            r"venues\[0\]\.stall_after: expected a number > 0, got 0",
        ),
        (
            {
                "venues": [
                    {"name": "a", "symbols": ["BTC/USDT"], "embedded": {"port": 9000}},
                    {"name": "b", "symbols": ["BTC/USDT"], "embedded": {"port": 9000}},
                ]
            },
            r"venues\[1\]\.embedded\.port: 9000 is also used by 'a'",
        ),
        (
            {"venues": [{"name": "x", "symbols": ["BTC/USDT"], "embedded": {"port": 70000}}]},
            r"venues\[0\]\.embedded\.port: expected an integer <= 65535, got 70000",
        ),
        (
            {
                "venues": [
                    {"name": "x", "symbols": ["BTC/USDT"], "kind": "exchange", "exchange": "nope"}
                ]
            },
            r"venues\[0\]\.exchange: ccxt\.pro has no exchange 'nope'",
        ),
        (
            {
                "venues": [
                    {
                        "name": "x",
                        "symbols": ["BTC/USDT"],
                        "kind": "exchange",
                        "api_key_env": "K",
                    }
                ]
            },
            r"venues\[0\]: api_key_env and secret_env go together",
        ),
        (
            minimal(risk={"symbols": {"DOGE/USDT": {"max_position": 1}}}),
            r'risk\.symbols\."DOGE/USDT": no venue trades DOGE/USDT',
        ),
        (
            minimal(strategies=[{"name": "s", "class": "m:C", "venues": ["other"]}]),
            r"strategies\[0\]\.venues\[0\]: no venue is named 'other'",
        ),
        (
            minimal(strategies=[{"name": "s", "class": "m:C", "symbols": ["ETH/USDT"]}]),
            r"strategies\[0\]\.symbols\[0\]: 'ETH/USDT' is not traded on \['sim'\]",
        ),
        (
            minimal(strategies=[{"name": "s", "class": "not a path"}]),
            r"strategies\[0\]\.class: 'not a path' is neither a dotted path",
        ),
        (
            minimal(strategies=[{"name": "s", "class": "m:C"}, {"name": "s", "class": "m:C"}]),
            r"strategies\[1\]\.name: duplicate strategy name 's'",
        ),
        (
            minimal(supervision={"within": 0}),
            r"supervision\.within: expected a number > 0, got 0",
        ),
        (
            minimal(supervision={"within": float("nan")}),
            r"supervision\.within: expected a number > 0, got nan",
        ),
        (
            minimal(supervision={"blocked_after": -1.0}),
            r"supervision\.blocked_after: expected a finite number >= 0",
        ),
        (
            minimal(supervision={"shutdown_grace": float("inf")}),
            r"supervision\.shutdown_grace: expected a number <= 3600, got inf",
        ),
        (
            minimal(supervision={"backoff": {"initial": float("nan")}}),
            r"supervision\.backoff\.initial: expected a number >= 0, got nan",
        ),
        (
            minimal(supervision={"strategies": {"within": float("inf")}}),
            r"supervision\.strategies\.within: expected a number <= 86400, got inf",
        ),
        (
            minimal(supervision={"market": {"max_restarts": -2}}),
            r"supervision\.market\.max_restarts: expected an integer >= 0, got -2",
        ),
        (
            minimal(supervision={"books": {"backoff": {"maximum": 0.01, "initial": 1.0}}}),
            r"supervision\.books\.backoff\.maximum \(0\.01\) must be >= backoff\.initial",
        ),
        (
            minimal(supervision={"router": {"max_restarts": 3}}),
            r"supervision\.router\.max_restarts: unknown key",
        ),
        (
            minimal(supervision={"market": {"give_up": "shrug"}}),
            r"supervision\.market\.give_up: invalid enum value 'shrug'",
        ),
        (
            minimal(supervision={"backoff": {"jitter": 2}}),
            r"supervision\.backoff\.jitter: expected a number < 1, got 2",
        ),
        (
            minimal(observe={"metrics_port": -1}),
            r"observe\.metrics_port: expected an integer >= 0, got -1",
        ),
    ],
)
def test_semantic_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=rf"my\.toml: {message}"):
        parse(data, source="my.toml")


def test_every_problem_is_reported_at_once() -> None:
    data = minimal(
        risk={"symbols": {"DOGE/USDT": {"max_position": 1}}},
        strategies=[
            {"name": "s", "class": "m:C", "venues": ["zz"]},
            {"name": "s", "class": "m:C"},
        ],
    )
    with pytest.raises(ConfigError) as info:
        parse(data, source="my.toml")
    assert len(info.value.problems) == 3
    assert all(line.startswith("my.toml: ") for line in str(info.value).splitlines())


def test_example_file_parses_as_toml() -> None:
    # The documented real-exchange example keeps keys out of the file.
    text = (CONFIG / "exchange.example.toml").read_text()
    binance, okx = tomllib.loads(text)["venues"]
    assert binance["api_key_env"] == "BINANCE_TESTNET_KEY" and "apiKey" not in text
    assert okx["password_env"] == "OKX_DEMO_PASSPHRASE" and okx["sandbox"] is True


def test_real_exchanges_get_sandbox_and_passphrase_from_the_environment() -> None:
    from actors.topology.build import build

    topology = load(CONFIG / "exchange.example.toml")
    env = {"BINANCE_TESTNET_KEY": "k", "BINANCE_TESTNET_SECRET": "s", "OKX_DEMO_KEY": "ok",
           "OKX_DEMO_SECRET": "os", "OKX_DEMO_PASSPHRASE": "pp"}  # fmt: skip
    binance, okx = build(topology, env=env).venues
    assert (binance.exchange, binance.sandbox, binance.ccxt) == (
        "binance", True, {"apiKey": "k", "secret": "s"}
    )  # fmt: skip
    assert (okx.exchange, okx.sandbox, okx.ccxt["password"]) == ("okx", True, "pp")
    del env["OKX_DEMO_PASSPHRASE"]
    with pytest.raises(ConfigError, match=r"venues\[1\]\.password_env: environment variable "
                       "OKX_DEMO_PASSPHRASE is not set"):  # fmt: skip
        build(topology, env=env, source="x.toml")


def test_an_embedded_venue_names_its_protocol_not_an_exchange() -> None:
    data = minimal()
    data["venues"][0].update({"exchange": "okx", "sandbox": True})
    with pytest.raises(ConfigError) as info:
        parse(data, source="my.toml")
    assert info.value.problems == [
        "venues[0].exchange: an embedded venue speaks its embedded.protocol ('binance'); "
        "set embedded.protocol = 'okx' instead",
        'venues[0].sandbox: only for kind = "exchange"',
    ]
    data["venues"][0] = {"name": "sim", "symbols": ["BTC/USDT"], "exchange": "okx",
                         "embedded": {"protocol": "okx"}}  # fmt: skip
    assert parse(data).venues[0].embedded.protocol == "okx"


def test_venue_knobs_reach_the_desk(tmp_path: Path) -> None:
    from actors.topology.build import build

    data = minimal()
    data["venues"][0].update(
        {"watch_tickers": True, "user_streams": False, "liveness_interval": 3.0, "rate": 5.0}
    )
    plan = build(parse(data), pick_port=lambda: 1234)
    assert plan.endpoints == {"sim": "http://127.0.0.1:1234"}
    (venue,) = plan.venues
    assert (venue.watch_tickers, venue.user_streams, venue.liveness_interval, venue.rate) == (
        True,
        False,
        3.0,
        5.0,
    )
    # Credentials of an embedded venue are made for this run, never a published default.
    assert venue.ccxt["apiKey"] == plan.embedded["sim"].api_key != "sim-api-key"
    assert len(venue.ccxt["apiKey"]) >= 32
    assert venue.ccxt["urls"]["api"]["public"].startswith("http://127.0.0.1:1234/")
    assert plan.specs[0].name == "venues"


def test_journal_knobs_reach_the_journal_and_the_strategies() -> None:
    from actors.topology.build import build

    data = minimal(journal={"sync": "full", "id_block": 64})
    mm = "actors.trading.strategies.market_maker:MarketMaker"
    params = {"venue": "sim", "symbol": "BTC/USDT", "amount": "0.001"}
    data["strategies"] = [{"name": "mm", "class": mm, "params": params}]
    plan = build(parse(data), pick_port=lambda: 1234)
    journal = next(s for s in plan.specs if s.name == "journal").factory()
    assert journal.sync == "full" and journal.run
    strategies = next(s for s in plan.specs if s.name == "strategies")
    assert strategies.children[0].factory().client_ids.block == 64


def test_bad_venue_knob_names_the_venue() -> None:
    from actors.topology.build import build

    data = minimal()
    data["venues"][0]["submit_timeout"] = 0
    with pytest.raises(
        ConfigError, match=r"my\.toml: venues\[0\]\.submit_timeout: expected a number > 0, got 0"
    ):
        build(parse(data, source="my.toml"), source="my.toml", pick_port=lambda: 1234)


@pytest.mark.parametrize(("entry", "expected"), [(None, "ws"), ("ws", "ws"), ("rest", "rest")])
def test_order_entry_reaches_the_session(entry: str | None, expected: str) -> None:
    from actors.topology.build import build

    data = minimal()
    if entry is not None:
        data["venues"][0]["order_entry"] = entry
    (venue,) = build(parse(data), pick_port=lambda: 1234).venues
    assert venue.order_entry == expected


@pytest.mark.parametrize(
    ("venue", "message"),
    [
        ({"order_entry": "tcp"}, r"venues\[0\]\.order_entry: invalid enum value 'tcp'"),
        (
            {"kind": "exchange", "exchange": "coinbase", "order_entry": "ws"},
            r"venues\[0\]\.order_entry: \"ws\", but ccxt's coinbase has no websocket order entry",
        ),
    ],
)
def test_order_entry_a_venue_cannot_do_is_refused(venue: dict[str, Any], message: str) -> None:
    data = minimal()
    data["venues"][0].update(venue)
    with pytest.raises(ConfigError, match=rf"my\.toml: {message}"):
        parse(data, source="my.toml")
