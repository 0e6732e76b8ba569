"""A desk as a separate process, for the SIGKILL test: ``python -m tests.trading.desk_process``.

``--mode trade`` runs a market maker against the venue on ``--port`` and prints ``READY``;
``--mode recover`` runs no strategy: once start-up reconciliation is done and no order or
cancel is in flight it prints ``LEASES <json: leased ids looked up, orders adopted>`` and
``RECOVERED <json of the router's active orders>`` and keeps running.
"""

from __future__ import annotations

import argparse
import json
import logging

import trio

from actors.topology.build import Plan
from actors.topology.run import open_plan
from actors.trading.config import DeskOptions, StrategySpec, VenueSpec
from actors.trading.desk import desk_specs
from actors.trading.messages import OrderStatus
from actors.trading.protocol import GetOrders, ReconcileVenue
from actors.trading.risk import RiskLimits
from actors.trading.shutdown import ShutdownReport
from actors.venues import ccxt_config

MM = "actors.trading.strategies.market_maker:MarketMaker"


async def main(port: int, journal: str, mode: str, cancel_on_shutdown: bool = False) -> None:
    """Run the desk until killed."""
    venue = VenueSpec(
        "sim",
        ccxt_config(port, "sim-api-key", "sim-secret"),
        ("BTC/USDT",),
        stall_after=3.0,
        submit_timeout=8.0,
        rate=500.0,
        burst=50,
        identity="session",  # the same venue across kills: the journal is kept
    )
    strategies = []
    if mode == "trade":
        params = {
            "venue": "sim",
            "symbol": "BTC/USDT",
            "amount": "0.001",
            "spread_bps": 6,
            "tolerance_bps": 0.5,
            "min_requote_interval": 0.05,
        }
        strategies.append(StrategySpec("mm", MM, params))
    options = DeskOptions(
        journal_path=journal,
        unknown_grace=1.5,
        unknown_retry=0.2,
        cancel_on_shutdown=cancel_on_shutdown,
    )
    report = ShutdownReport()
    specs = desk_specs([venue], strategies, RiskLimits(), options, report=report)
    async with open_plan(Plan(specs, max_restarts=20, within=30), handle_signals=True) as system:
        print("READY", flush=True)
        if mode == "recover":
            router = system.lookup("/router")
            assert router is not None
            # The start-up reconciliation runs when the session is up; asking for one
            # returns once a whole pass is done (orders the journal thinks open included).
            await router.ask(ReconcileVenue(), timeout=60.0)
            while True:
                views = await router.ask(GetOrders(active_only=True))
                if not any(
                    v.status
                    in (OrderStatus.SUBMITTING, OrderStatus.UNKNOWN, OrderStatus.CANCELLING)
                    for v in views
                ):
                    break
                await trio.sleep(0.2)
            payload = {v.client_order_id: v.status.value for v in views}
            leases = {"lookups": report.lease_lookups, "adopted": report.lease_adopted}
            print("LEASES " + json.dumps(leases), flush=True)
            print("RECOVERED " + json.dumps(payload), flush=True)
        await system.stopped.wait()  # SIGINT/SIGTERM: a graceful stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--mode", choices=("trade", "recover"), required=True)
    parser.add_argument("--cancel-on-shutdown", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    trio.run(main, args.port, args.journal, args.mode, args.cancel_on_shutdown)
