"""Exclusive leases on JetStream key-value: one holder at a time, taken over after its TTL."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
import trio

from actors.remote import LeaseHeld, LeaseLost, NatsServer
from actors.remote.subjects import lease_key
from actors.runtime import open_system
from actors.runtime.cell import unwrap
from tests.remote.helpers import node, start_node_process

ACCOUNT = "account/sim-a"


async def test_a_second_claimant_is_refused_until_the_holder_releases(
    nats_server: NatsServer,
) -> None:
    async with (
        open_system([]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/a"], lease_ttl=2.0) as na,
        node(b, nats_server.url, "b", ["/b"], lease_ttl=2.0) as nb,
    ):
        lease = await na.acquire(ACCOUNT)
        lease.check()
        with pytest.raises(LeaseHeld) as caught:
            await nb.acquire(ACCOUNT)
        assert caught.value.holder == "a" and caught.value.name == ACCOUNT
        assert await nb.leases.holder(ACCOUNT) == "a"
        await lease.release()
        with pytest.raises(LeaseLost, match="released"):
            lease.check()
        taken = await nb.acquire(ACCOUNT)  # at once: no TTL to wait out
        assert taken.valid and await na.leases.holder(ACCOUNT) == "b"


async def test_a_holder_whose_key_was_overwritten_finds_out_and_stops(
    nats_server: NatsServer,
) -> None:
    lost: list[Any] = []
    async with (
        open_system([]) as a,
        node(a, nats_server.url, "a", ["/a"], lease_ttl=1.0) as na,
    ):
        lease = await na.acquire(ACCOUNT)
        lease.on_lost(lost.append)
        # Someone writes the key without compare-and-set: the next renewal is refused.
        kv = await na.leases.bucket()
        await na.bus.call(kv.put, lease_key(ACCOUNT), b'{"node":"rogue","incarnation":"x"}')
        with trio.fail_after(10):
            await lease.lost.wait()
        assert lost == [lease] and "taken over" in (lease.reason or "")
        with pytest.raises(LeaseLost):
            lease.check()


async def test_a_stalled_holder_loses_the_lease_to_the_next_claimant_after_its_ttl(
    nats_server: NatsServer,
) -> None:
    async with (
        open_system([]) as b,
        node(b, nats_server.url, "b", ["/b"], lease_ttl=1.0) as nb,
        trio.open_nursery() as nursery,
    ):
        holder = await start_node_process(
            nursery, nats_server.url, "exec1", "/exec1", "--lease", ACCOUNT, "--lease-ttl", "1"
        )
        with pytest.raises(LeaseHeld, match="exec1"):
            await nb.acquire(ACCOUNT)
        os.kill(holder.proc.pid, signal.SIGSTOP)  # alive, but renewing nothing
        try:
            lease = await nb.acquire(ACCOUNT, wait=20)
            assert lease.valid and await nb.leases.holder(ACCOUNT) == "b"
        finally:
            os.kill(holder.proc.pid, signal.SIGCONT)
        # Woken up, the old holder sees its lease is gone, and says so; ours stays.
        await holder.wait_line(f"LOST {ACCOUNT}", timeout=20)
        lease.check()
        assert await nb.leases.holder(ACCOUNT) == "b"
        await holder.kill()


async def test_a_node_that_must_hold_a_lease_waits_for_a_dead_holders_to_expire(
    nats_server: NatsServer,
) -> None:
    async with open_system([]) as b, trio.open_nursery() as nursery:
        holder = await start_node_process(
            nursery, nats_server.url, "exec", "/exec", "--lease", ACCOUNT, "--lease-ttl", "1"
        )
        # Alive and renewing: a node claiming the account gives up after its wait.
        with pytest.raises(BaseExceptionGroup) as caught:
            async with node(b, nats_server.url, "exec2", ["/x"], claims=[ACCOUNT], claim_wait=0.3):
                pass
        refused = unwrap(caught.value)
        assert isinstance(refused, LeaseHeld) and refused.holder == "exec"
        await holder.kill()  # SIGKILL: its key stays until the TTL runs out
        # Its restart claims the account at once and gets it once the dead holder's expires.
        async with node(b, nats_server.url, "exec", ["/exec"], claims=[ACCOUNT]) as restarted:
            assert restarted.leases.held()[ACCOUNT].valid
            assert await restarted.leases.holder(ACCOUNT) == "exec"
