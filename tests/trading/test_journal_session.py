"""A journal belongs to venue sessions and accounts: kept, moved aside for a fresh one, refused.

Fresh embedded venues get a fresh journal (the old one renamed, never deleted) unless the run
resumes; a journal of another real account is refused with exit 2 before anything starts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.cli import main
from actors.trading.ccxt_bridge import open_loop
from actors.trading.config import VenueSpec
from actors.trading.journal import Header, Journal, VenueStamp, archive_path_of
from actors.trading.journal_session import (
    JournalOwnerMismatch,
    VenueIdentity,
    account_identity,
    judge,
    open_journal,
    read_session,
)
from actors.trading.journal_state import Replay
from actors.trading.messages import (
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    SetTradingState,
    SubmitOrder,
    TradingState,
)
from actors.venues import Venue, VenueConfig, open_venue, venue_ccxt_config
from tests.trading.e2e_helpers import FROZEN, running_desk

A, B = VenueIdentity("session", "111"), VenueIdentity("session", "222")
KEY1, KEY2 = account_identity("key-1"), account_identity("key-2")


def header(**venues: VenueIdentity) -> Header:
    return Header("desk", {n: VenueStamp(i.kind, i.value, 0.0) for n, i in venues.items()})


def test_judge_keeps_the_same_venues_rotates_new_sessions_and_refuses_other_accounts() -> None:
    assert judge(None, {"sim": A}).action == "keep"  # a new (or older, unstamped) journal
    assert judge(header(sim=A), {"sim": A}).action == "keep"
    assert judge(header(sim=A), {"sim": A, "new": B}).action == "keep"  # a venue added
    assert judge(header(sim=A, gone=B), {"sim": A}).action == "keep"  # a venue left
    verdict = judge(header(sim=A, bn=KEY1), {"sim": B, "bn": KEY1})
    assert verdict.action == "rotate"
    assert verdict.changed == ["sim: session 111 -> now session 222"]
    refused = judge(header(sim=A, bn=KEY1), {"sim": B, "bn": KEY2})
    assert refused.action == "refuse" and refused.changed == [
        f"bn: account (key sha256:{KEY1.value}) -> now account (key sha256:{KEY2.value})"
    ]
    # An embedded venue turned real (or back) is another account, not a fresh session.
    assert judge(header(v=A), {"v": KEY1}).action == "refuse"
    assert judge(header(v=KEY1), {"v": A}).action == "refuse"
    assert "key-1" not in str(KEY1) and len(KEY1.value) == 16  # the key is never stored


def halted_journal(path: Path) -> None:
    """A journal of session A: one open order, an archive, and the kill switch on."""
    intent = OrderIntent(
        client_order_id="o1", strategy="s", venue="sim", symbol="BTC/USDT", side="buy",
        order_type="limit", amount=Decimal(1), price=Decimal(100), created_at=0.0,
    )  # fmt: skip
    ack = OrderUpdate(
        client_order_id="o1", venue="sim", venue_order_id="1", status=OrderStatus.OPEN,
        filled=Decimal(0), remaining=Decimal(1),
    )  # fmt: skip
    opened = open_journal(str(path), desk="paper", identities={"sim": A})
    with opened.journal as j:
        j.append_message(SetTradingState(state=TradingState.HALTED, reason="demo"))
        j.append_message(intent)
        j.append_message(SubmitOrder(intent=intent, venue="sim"))
        j.checkpoint(Replay(), retention=0.0)  # the trading-state record goes to the archive
        j.append_message(ack)
    assert Path(archive_path_of(path)).exists()


def test_a_journal_of_other_sessions_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path,
) -> None:
    path = tmp_path / "paper.sqlite"
    halted_journal(path)
    opened = open_journal(str(path), desk="paper", identities={"sim": B}, wall_clock=lambda: 0.0)
    with opened.journal as fresh:
        recovery = fresh.recover()
        assert len(recovery.table) == 0 and recovery.trading_state is None
        assert fresh.header().venues["sim"].identity == "222"
    aside = f"{path}.19700101T000000Z"
    assert opened.rotated_to == aside
    level, line = opened.notes[0]
    assert level == "warning" and line.startswith(
        f"journal {path} belongs to other venue sessions (sim: session 111 -> now session 222): "
        f"started a fresh journal; the old one is kept as {aside}"
    )
    assert not Path(archive_path_of(path)).exists()  # the archive went with its journal
    with Journal(aside) as old:  # nothing lost: the old journal, archive and all
        recovery = old.recover(snapshots=False)
        assert recovery.trading_state is TradingState.HALTED
        assert recovery.table["o1"].status is OrderStatus.OPEN
        assert old.header().venues["sim"].identity == "111"
    # A second rotation within the same second gets a name of its own.
    again = open_journal(str(path), desk="paper", identities={"sim": A}, wall_clock=lambda: 0.0)
    again.journal.close()
    assert again.rotated_to == f"{aside}-1" and Path(aside).exists()


def test_resume_or_a_restart_within_the_run_keeps_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "paper.sqlite"
    halted_journal(path)
    opened = open_journal(str(path), desk="paper", identities={"sim": B}, resume=True)
    with opened.journal as j:
        assert opened.rotated_to is None
        assert opened.notes == [
            ("info", f"journal {path}: resumed although venue sessions changed "
             "(sim: session 111 -> now session 222)")
        ]  # fmt: skip
        assert j.recover().trading_state is TradingState.HALTED
        assert j.header().venues["sim"].identity == "222"  # it belongs to B from now on
    opened = open_journal(str(path), desk="other", identities={"sim": A}, may_rotate=False)
    with opened.journal as j:
        assert opened.rotated_to is None and j.recover().table["o1"].status is OrderStatus.OPEN
        assert [level for level, _ in opened.notes] == ["warning", "warning"]
        assert "was written by desk 'paper', now 'other'" in opened.notes[1][1]


def test_a_journal_of_another_account_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    open_journal(str(path), desk="live", identities={"bn": KEY1}).journal.close()
    with pytest.raises(JournalOwnerMismatch, match="belongs to another account"):
        open_journal(str(path), desk="live", identities={"bn": KEY2}, resume=True)
    with Journal(path) as j:  # untouched
        assert j.header().venues["bn"].identity == KEY1.value


def test_actors_run_and_check_refuse_another_accounts_journal_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "live.sqlite"
    open_journal(str(journal), desk="live", identities={"bn": KEY1}).journal.close()
    config = tmp_path / "live.toml"
    config.write_text(
        f'[desk]\nname = "live"\njournal = "{journal}"\n'
        '[[venues]]\nname = "bn"\nkind = "exchange"\nsymbols = ["BTC/USDT"]\n'
        'api_key_env = "ACTORS_TEST_KEY"\nsecret_env = "ACTORS_TEST_SECRET"\n'
    )
    monkeypatch.setenv("ACTORS_TEST_SECRET", "s")
    monkeypatch.setenv("ACTORS_TEST_KEY", "key-2")
    for argv in (["check", str(config)], ["run", str(config), "--resume"]):
        assert main(argv) == 2, argv  # nothing started; --resume never mixes accounts
        err = capsys.readouterr().err
        assert f"desk.journal: journal {journal} belongs to another account (bn: account " in err
        assert "key-2" not in err and "key-1" not in err
    monkeypatch.setenv("ACTORS_TEST_KEY", "key-1")
    assert main(["check", str(config)]) == 0


def rotated(directory: Path, name: str) -> list[Path]:
    """The journals moved aside in ``directory`` (``<name>.<UTC timestamp>``)."""
    pattern = re.escape(name) + r"\.\d{8}T\d{6}Z"
    return [p for p in directory.iterdir() if re.fullmatch(pattern, p.name)]


async def halt(desk_journal: str, venue: Venue, **options: Any) -> TradingState:
    """Run a desk on ``venue``: the trading state it started in (then it halts trading)."""
    settings = FROZEN(desk_journal, **options)
    settings["venue_overrides"]["identity"] = "session"  # what the topology says of embedded
    async with running_desk([venue], desk_journal, strategies=[], **settings) as desk:
        state = (await desk.risk()).state
        await desk.ref("/risk").ask(SetTradingState(state=TradingState.HALTED, reason="demo"))
        return state


@pytest.mark.e2e
async def test_a_desk_on_fresh_embedded_venues_starts_a_fresh_journal_unless_resumed(
    tmp_path: Path,
) -> None:
    journal = str(tmp_path / "paper.sqlite")
    config = VenueConfig(symbols=("BTC/USDT",), rate_hz=0.0)
    async with open_venue(config) as first:
        assert await halt(journal, first) is TradingState.ACTIVE
        uid = first.account(config.api_key).uid
    with Journal(journal) as j:
        assert j.header().venues["sim"].identity == str(uid)  # read from the venue by ccxt
    async with open_venue(config) as second:  # a fresh venue, resumed: the state carries on
        assert await halt(journal, second, resume=True) is TradingState.HALTED
        uid = second.account(config.api_key).uid
    async with open_venue(config) as third:  # a fresh venue again: a fresh journal
        assert await halt(journal, third) is TradingState.ACTIVE
    (aside,) = rotated(tmp_path, "paper.sqlite")
    with Journal(aside) as old:
        assert old.recover().trading_state is TradingState.HALTED
        assert old.header().venues["sim"].identity == str(uid)


@pytest.mark.e2e
async def test_every_start_of_an_embedded_okx_venue_is_a_session_of_its_own() -> None:
    # (Binance's: the desk test above reads the uid each venue start made.)
    protocol = "okx"
    config = VenueConfig(protocol=protocol, symbols=("BTC/USDT",), rate_hz=0.0)
    sessions = []
    async with open_loop():
        for _ in range(2):
            async with open_venue(config) as venue:
                spec = VenueSpec(
                    "v", venue_ccxt_config(venue), ("BTC/USDT",), exchange=protocol,
                    identity="session",
                )  # fmt: skip
                first = await read_session(spec)
                assert await read_session(spec) == first  # the same venue: the same session
                sessions.append(first)
    assert sessions[0] != sessions[1] and {s.kind for s in sessions} == {"session"}
