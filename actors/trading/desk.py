"""One wiring of a desk: the supervision tree of every trading actor, as ``ChildSpec``s.

Tests and the topology builder share :func:`desk_specs`::

    /journal                      JournalActor          block mailbox
    /risk                         RiskActor             conflating (tops by venue+symbol)
    /consolidated/<BASE-QUOTE>    ConsolidatedActor     conflating
    /books/<venue>/<BASE-QUOTE>   OrderBookActor        conflating (latest snapshot)
    /exec/<venue>                 PrivateSession        block (orders are never dropped)
    /router                       Router                block
    /shutdown                     Shutdown              (drains the router when the desk stops)
    /strategies/<name>            Strategy subclasses   conflating (market data only)
    /market/<venue>               MarketDataConnection  block

Start order is that list, so shutdown (reverse) stops market data first, then strategies,
then drains the router (cancels, and waits for their outcomes while the sessions still
deliver), then stops the router, the sessions, and the journal last. How each group is
supervised (backoff, grace, restart intensity, what happens when it gives up) is a
:class:`GroupPolicy` per group in ``DeskOptions.groups``; by default
feeds and sessions are retried for as long as a venue is down, and a strategy that
crash-loops is stopped on its own while the rest of the desk goes on.

>>> from decimal import Decimal
>>> from actors.trading.risk import RiskLimits
>>> specs = desk_specs([VenueSpec("sim", {}, ("BTC/USDT",))], [], RiskLimits(),
...     DeskOptions(journal_path=":memory:"))
>>> [s.name for s in specs][5:]
['router', 'shutdown', 'strategies', 'market']
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from actors.runtime import ChildSpec, MailboxSpec, Overflow, supervisor_spec
from actors.trading.book_actor import OrderBookActor, market_data_key
from actors.trading.ccxt_bridge import LoadedMarkets
from actors.trading.config import (
    RISK,
    DeskOptions,
    StrategySpec,
    VenueSpec,
    consolidated_path,
    strategy_path,
    symbol_tag,
)
from actors.trading.consolidated import ConsolidatedActor
from actors.trading.dialects import dialect_for, strictest
from actors.trading.ids import ClientIdFormat
from actors.trading.journal_actor import JournalActor
from actors.trading.journal_session import identify_for
from actors.trading.market_data import MarketDataConnection
from actors.trading.messages import BookSnapshot
from actors.trading.private import PrivateSession
from actors.trading.ratelimit import VenueBudget
from actors.trading.risk import RiskLimits
from actors.trading.risk_actor import RiskActor
from actors.trading.router import Router
from actors.trading.shutdown import Shutdown, ShutdownReport
from actors.trading.strategy import load_strategy

CONFLATED = MailboxSpec(capacity=4096, overflow=Overflow.CONFLATE, key=market_data_key)
"""Market data conflated per (kind, venue, symbol); orders, fills and asks are never dropped:
once 4096 of them wait, their senders wait too (backpressure), while market data keeps only
the latest value per key."""


def _book_key(message: object) -> object:
    return "snapshot" if type(message) is BookSnapshot else None


def desk_specs(
    venues: Sequence[VenueSpec],
    strategies: Sequence[StrategySpec],
    limits: RiskLimits,
    options: DeskOptions,
    *,
    budgets: dict[str, VenueBudget] | None = None,
    report: ShutdownReport | None = None,
) -> list[ChildSpec]:
    """The top-level ``ChildSpec``s of a desk (pass them to ``open_system``/``System``).

    ``budgets`` (one :class:`VenueBudget` per venue name) are made when not given; pass them
    to inspect rate-limit pauses and malformed-frame counts; ``report`` is filled in when
    the router stops (the orders it leaves behind).
    """
    names = [v.name for v in venues]
    if len(set(names)) != len(names):
        raise ValueError(f"venue names must be unique, got {names}")
    budgets = budgets if budgets is not None else {}
    for v in venues:
        budgets.setdefault(v.name, VenueBudget(v.name, v.rate, v.burst))
    all_symbols = sorted({s for v in venues for s in v.symbols})
    strategy_paths = tuple(strategy_path(s.name) for s in strategies)
    markets = {v.name: v.symbols for v in venues}
    client_ids = client_id_format(
        venues, strategies, options.client_id_prefix, block=options.client_id_block
    )
    # One name per run of the desk (kept across restarts of the journal actor): the leases
    # of other runs are the ones looked up at the venues when the router starts.
    run = uuid.uuid4().hex

    def leaf(group: str, name: str, factory: Any, **spec: Any) -> ChildSpec:
        """An actor of ``group``, with that group's backoff and grace."""
        policy = options.policy(group)
        return ChildSpec(
            name, factory, backoff=policy.backoff, shutdown_grace=policy.shutdown_grace, **spec
        )

    def group(name: str, children: list[ChildSpec], policy_of: str | None = None) -> ChildSpec:
        """A supervisor with the intensity of group ``policy_of`` (default: ``name``)."""
        policy = options.policy(policy_of or name)
        return supervisor_spec(
            name,
            children,
            max_restarts=policy.max_restarts,
            within=policy.within,
            give_up=policy.give_up,
        )

    identify = identify_for(venues)
    journal = leaf(
        "journal",
        "journal",
        lambda: JournalActor(
            options.journal_path,
            options.journal_flush_interval,
            desk=options.desk_name,
            identify=identify,
            resume=options.resume,
            snapshot_every=options.snapshot_every,
            retention=options.retention,
            retain_orders=options.retain_orders,
            sync=options.journal_sync,
            run=run,
        ),
        mailbox=MailboxSpec(capacity=4096),
    )
    risk = leaf(
        "risk",
        "risk",
        lambda: RiskActor(limits, unknown_grace=options.unknown_grace),
        mailbox=CONFLATED,
    )
    consolidated = group(
        "consolidated",
        [
            leaf(
                "consolidated",
                symbol_tag(symbol),
                _consolidated_factory(symbol, strategy_paths),
                mailbox=CONFLATED,
            )
            for symbol in all_symbols
        ],
    )
    books = group(
        "books",
        [
            group(
                v.name,
                [
                    leaf(
                        "books",
                        symbol_tag(symbol),
                        _book_factory(v.name, symbol, options, strategy_paths),
                        mailbox=MailboxSpec(
                            capacity=4096, overflow=Overflow.CONFLATE, key=_book_key
                        ),
                    )
                    for symbol in v.symbols
                ],
                policy_of="books",
            )
            for v in venues
        ],
    )
    sessions = group(
        "exec",
        [
            leaf(
                "exec",
                v.name,
                _session_factory(v, budgets[v.name], strategy_paths),
                mailbox=MailboxSpec(capacity=4096),
                start_timeout=30.0,
            )
            for v in venues
        ],
    )
    router = leaf(
        "router",
        "router",
        lambda: Router(
            tuple(names),
            {v.name: v.symbols for v in venues},
            options,
            polled=frozenset(v.name for v in venues if not v.user_streams),
            submit_timeouts={v.name: v.submit_timeout for v in venues},
            report=report,
            strategy_names=tuple(s.name for s in strategies),
        ),
        mailbox=MailboxSpec(capacity=8192),
        start_timeout=60.0,
    )
    strategy_specs = group(
        "strategies",
        [
            leaf(
                "strategies",
                s.name,
                load_strategy(s.path, s.name, s.params, markets=markets, client_ids=client_ids),
                mailbox=CONFLATED,
            )
            for s in strategies
        ],
    )
    market = group(
        "market",
        [
            leaf(
                "market",
                v.name,
                _feed_factory(v, budgets[v.name], options.book_depth, strategy_paths),
                start_timeout=30.0,
            )
            for v in venues
        ],
    )
    # Between the router and the strategies: stopped after every strategy, before the router,
    # it drains the router within the router's own grace period (actors/trading/shutdown.py).
    shutdown = ChildSpec(
        "shutdown",
        lambda: Shutdown(
            tuple(names), cancel=options.cancel_on_shutdown, grace=router.shutdown_grace
        ),
        backoff=options.policy("router").backoff,
        shutdown_grace=router.shutdown_grace,
    )
    return [
        journal, risk, consolidated, books, sessions, router, shutdown, strategy_specs, market
    ]  # fmt: skip


def _consolidated_factory(symbol: str, subscribers: tuple[str, ...]) -> object:
    return lambda: ConsolidatedActor(symbol, subscribers=subscribers)


def _book_factory(
    venue: str, symbol: str, options: DeskOptions, strategies: tuple[str, ...]
) -> object:
    # The strategies first: the tick-to-order path starts there. Risk still has the top
    # before any intent it causes: every copy is queued before any subscriber runs.
    subscribers = (*strategies, RISK, consolidated_path(symbol))
    return lambda: OrderBookActor(
        venue,
        symbol,
        depth=options.book_depth,
        stale_after=options.book_stale_after,
        subscribers=subscribers,
        trade_subscribers=strategies,
    )


def client_id_format(
    venues: Sequence[VenueSpec], strategies: Sequence[StrategySpec], prefix: str, block: int = 16
) -> ClientIdFormat:
    """The client ids every venue of the desk accepts (its dialects' strictest rules);
    ValueError naming the strategy and venue when one cannot fit.

    >>> client_id_format([VenueSpec("a", {}, ("BTC/USDT",), exchange="okx")], [], "ax").max_len
    32
    """
    dialects = {v.name: dialect_for(v.exchange) for v in venues}
    fmt = ClientIdFormat(
        prefix=prefix, max_len=strictest(list(dialects.values())).max_len, block=block
    )
    for s in strategies:
        gen = fmt.generator(s.name)
        sample = gen.stem + "z" * (fmt.max_len - len(gen.stem))
        for venue, dialect in dialects.items():
            if not dialect.client_ids.accepts(sample):
                raise ValueError(
                    f"client ids of strategy {s.name!r} ({sample!r}) do not fit venue "
                    f"{venue!r} ({dialect.exchange}: {dialect.client_ids})"
                )
    return fmt


def _session_factory(
    venue: VenueSpec, budget: VenueBudget, strategies: tuple[str, ...] = ()
) -> object:
    markets = LoadedMarkets()  # kept across the session's restarts
    return lambda: PrivateSession(
        venue, budget, market_subscribers=strategies, loaded_markets=markets
    )


def _feed_factory(
    venue: VenueSpec, budget: VenueBudget, depth: int, strategies: tuple[str, ...] = ()
) -> object:
    markets = LoadedMarkets()  # one per venue, kept across the feed's restarts
    return lambda: MarketDataConnection(
        venue, budget, depth, ticker_subscribers=strategies, markets=markets
    )
