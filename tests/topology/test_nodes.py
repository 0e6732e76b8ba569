"""``[nodes]``: placing the desk's groups on processes, checked before anything starts."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from actors.topology.build import build
from actors.topology.load import ConfigError, load, parse
from actors.topology.nodes import node_plan

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
