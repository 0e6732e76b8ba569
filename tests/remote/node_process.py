"""A node in its own OS process: ``python -m tests.remote.node_process --url ... --name ...``.

Serves a ``Recorder`` at ``--serve``/echo under the prefix ``--serve``, optionally claims a
lease (``--lease NAME``), prints ``READY`` once up and ``LOST <name>`` if the lease is lost,
then runs until killed.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import trio

from actors.runtime import ChildSpec, open_system
from tests.remote.helpers import Recorder, node


async def main(args: argparse.Namespace) -> None:
    """Run the node until killed."""
    seen: list[Any] = []
    prefix = args.serve
    async with (
        open_system([ChildSpec(prefix.strip("/"), lambda: Recorder(seen))]) as system,
        node(
            system,
            args.url,
            args.name,
            [prefix],
            heartbeat=args.heartbeat,
            node_timeout=args.timeout,
            lease_ttl=args.lease_ttl,
        ) as running,
    ):
        if args.lease:
            lease = await running.acquire(args.lease)
            lease.on_lost(lambda lost: print(f"LOST {lost.name}", flush=True))
        print("READY", flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--serve", required=True)
    parser.add_argument("--heartbeat", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--lease")
    parser.add_argument("--lease-ttl", type=float, default=1.0)
    logging.basicConfig(level=logging.WARNING)
    trio.run(main, parser.parse_args())
