"""``[nodes]``: placing the desk's groups on processes, checked before anything starts."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from actors.cli import main
from actors.topology.build import build
from actors.topology.load import ConfigError, load, parse
from actors.topology.nodes import node_plan
from tests.topology.toml_writer import dumps

SPLIT = Path(__file__).resolve().parents[2] / "config" / "split.example.toml"


def split(**changes: Any) -> dict[str, Any]:
    """The shipped split desk as data, with top-level sections replaced."""
    data = tomllib.loads(SPLIT.read_text())
    data.update(copy.deepcopy(changes))
    return data


def test_the_shipped_split_desk_places_every_group_once() -> None:
    topology = load(SPLIT)
    plan = node_plan(topology, "md", source="split.toml")
    assert plan.serve == ("/market", "/books", "/consolidated")
    assert plan.peers["exec"] == ("/venues", "/journal", "/risk", "/router", "/shutdown", "/exec")
    assert plan.accounts == () and plan.feeds == {"md": (("sim-a", "ETH/USDT"),)}
    assert node_plan(topology, "exec", source="s").accounts == ("sim-a",)
    whole = build(topology, source="s")
    assert whole.node is None and {s.name for s in whole.specs} >= {"router", "market"}
    share = build(topology, source="s", node="exec")
    assert [s.name for s in share.specs] == [
        "venues",
        "journal",
        "risk",
        "exec",
        "router",
        "shutdown",
    ]
    assert share.node is not None and share.node.cluster == "split"


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        (
            {"a": {"groups": ["venues", "journal", "risk", "router", "exec", "market", "books"]}},
            r"nodes: groups on no node: consolidated, strategies",
        ),
        (
            {"a": {"groups": ["venues", "journal", "risk", "router", "exec", "market"]},
             "b": {"groups": ["books", "consolidated", "strategies", "market"]}},
            r"nodes\.b\.groups\[3\]: 'market' is already on node 'a'",
        ),
        (
            {"a": {"groups": ["venues", "journal", "risk", "router", "exec", "feeds"]}},
            r"nodes\.a\.groups\[5\]: no group 'feeds'",
        ),
        (
            {"a": {"groups": ["venues", "journal", "risk", "market", "books", "consolidated"]},
             "b": {"groups": ["router", "exec", "strategies"]}},
            r"nodes: journal, risk, router, exec must share one node",
        ),
        ({"a b": {"groups": []}}, r"nodes\.a b: node name 'a b'"),
    ],
)  # fmt: skip
def test_a_bad_placement_is_refused_naming_the_key(nodes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=rf"my\.toml: {message}"):
        parse(split(nodes=nodes), source="my.toml")


def test_a_split_desk_needs_fixed_venue_ports_and_credentials_and_a_nats_url() -> None:
    data = split(cluster={"servers": ["http://127.0.0.1:4222"], "heartbeat": 9.0})
    data["venues"][0]["embedded"] = {"port": 0}
    with pytest.raises(ConfigError) as caught:
        parse(data, source="my.toml")
    problems = "\n".join(caught.value.problems)
    assert "venues[0].embedded.port: a split desk needs a fixed port" in problems
    assert "venues[0].embedded: a split desk needs a fixed api_key and secret" in problems
    assert "cluster.servers[0]: 'http://127.0.0.1:4222' is not a nats:// or tls:// URL" in problems
    assert "cluster.heartbeat: must be less than cluster.node_timeout" in problems


def test_running_a_node_needs_nodes_and_one_of_them() -> None:
    with pytest.raises(ConfigError, match=r"--node md: this topology declares no \[nodes\]"):
        build(parse(split(nodes={})), source="s", node="md")
    with pytest.raises(ConfigError, match=r"--node nope: no such node"):
        build(load(SPLIT), source="s", node="nope")


def two_venues(nodes: dict[str, Any]) -> dict[str, Any]:
    """The shipped split desk on two embedded venues, with ``nodes``."""
    data = split(nodes=nodes)
    second = copy.deepcopy(data["venues"][0])
    second["name"] = "sim-b"
    second["embedded"]["port"] += 1
    data["venues"].append(second)
    return data


PER_VENUE = {
    "exec": {"groups": ["venues", "journal", "risk", "router", "exec", "consolidated"]},
    "md-a": {"market_data": ["sim-a"]},
    "md-b": {"market_data": ["sim-b"]},
    "strategies": {"groups": ["strategies"]},
}


def test_each_venue_market_data_runs_on_its_own_node_and_the_others_resolve_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = parse(two_venues(PER_VENUE), source="my.toml")
    md_a = build(topology, source="s", node="md-a")
    assert md_a.node is not None and md_a.node.serve == ("/market/sim-a", "/books/sim-a")
    # Only sim-a's feed and books: the market and books supervisors cut down to that venue.
    [books, market] = md_a.specs
    assert [c.name for c in books.children] == ["sim-a"]
    assert [c.name for c in market.children] == ["sim-a"]
    assert books.supervision is not None and books.supervision.max_restarts == 10
    # Each md node feeds its own venue's books (and only those go stale when it is gone).
    assert md_a.node.feeds == {"md-a": (("sim-a", "ETH/USDT"),), "md-b": (("sim-b", "ETH/USDT"),)}
    exec_share = node_plan(topology, "exec", source="s")
    assert exec_share.peers["md-b"] == ("/market/sim-b", "/books/sim-b")
    assert exec_share.accounts == ("sim-a", "sim-b")
    assert "market" not in {s.name for s in build(topology, source="s", node="exec").specs}
    # The operator sees the placement in ``actors check``.
    path = tmp_path / "my.toml"
    path.write_text(dumps(two_venues(PER_VENUE)))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "node md-b: market data of sim-b; serves /market/sim-b, /books/sim-b\n" in out


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        (
            {**PER_VENUE, "md-b": {"market_data": ["sim-c"]}},
            r"nodes\.md-b\.market_data\[0\]: no venue 'sim-c' \(venues: \['sim-a', 'sim-b'\]\)",
        ),
        (
            {**PER_VENUE, "md-b": {"market_data": ["sim-b", "sim-a"]}},
            r"nodes\.md-b\.market_data\[1\]: the market data of 'sim-a' is already on node 'md-a'",
        ),
        (
            {**PER_VENUE, "md-b": {"groups": ["strategies"]}, "strategies": {"groups": []}},
            r"nodes: the market data of sim-b is on no node",
        ),
        (
            {**PER_VENUE, "md-b": {"groups": ["books"], "market_data": ["sim-b"]}},
            r"nodes\.md-a\.market_data\[0\]: 'sim-a' cannot run apart from the whole group "
            r"'books' on node 'md-b'",
        ),
    ],
)  # fmt: skip
def test_a_bad_market_data_placement_is_refused_naming_the_key(
    nodes: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=rf"my\.toml: {message}"):
        parse(two_venues(nodes), source="my.toml")
    # The operator's check says the same and exits 2.
    path = tmp_path / "my.toml"
    path.write_text(dumps(two_venues(nodes)))
    assert main(["check", str(path)]) == 2
    assert re.search(rf"my\.toml: {message}", capsys.readouterr().err)
