"""Per-account API keys and balances (free and locked) in exact decimals."""

from __future__ import annotations

import secrets
from collections import defaultdict
from decimal import Decimal

from actors.venues import errors

ZERO = Decimal(0)


class Account:
    """One venue account: its key pair, free and locked balances per asset.

    Example: ``acct = Account("key", "secret", {"USDT": Decimal(1000)}); acct.lock("USDT", x)``
    """

    def __init__(self, api_key: str, secret: str, balances: dict[str, Decimal]) -> None:
        self.api_key = api_key
        self.secret = secret
        self.free: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.locked: defaultdict[str, Decimal] = defaultdict(Decimal)
        for asset, amount in balances.items():
            self.free[asset] = Decimal(amount)
        self.update_ms = 0
        # Binance's account ``uid``; new at every start of the venue, so a client can tell a
        # fresh exchange (books, balances, orders started over) from the one it knew.
        self.uid = secrets.randbits(48)

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked, or raise -2010 insufficient balance."""
        if amount > self.free[asset]:
            raise errors.insufficient_balance()
        self.free[asset] -= amount
        self.locked[asset] += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from locked back to free."""
        amount = min(amount, self.locked[asset])
        self.locked[asset] -= amount
        self.free[asset] += amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        """Pay ``amount`` out of locked funds."""
        self.locked[asset] -= amount

    def spend_free(self, asset: str, amount: Decimal) -> None:
        """Pay ``amount`` out of free funds (checked by the caller beforehand)."""
        self.free[asset] -= amount

    def credit(self, asset: str, amount: Decimal) -> None:
        """Receive ``amount`` into free funds."""
        self.free[asset] += amount

    def balances(self) -> list[dict[str, str]]:
        """Binance ``balances`` array of every asset ever held."""
        assets = sorted(set(self.free) | set(self.locked))
        return [
            {"asset": a, "free": f"{self.free[a]:.8f}", "locked": f"{self.locked[a]:.8f}"}
            for a in assets
        ]

    def position_entries(self, assets: list[str]) -> list[dict[str, str]]:
        """``outboundAccountPosition`` ``B`` entries of the given assets."""
        return [{"a": a, "f": f"{self.free[a]:.8f}", "l": f"{self.locked[a]:.8f}"} for a in assets]


class Accounts:
    """The venue's accounts by API key; any other key is rejected with -2015."""

    def __init__(self) -> None:
        self.by_key: dict[str, Account] = {}

    def add(self, account: Account) -> None:
        """Register an account."""
        self.by_key[account.api_key] = account

    def get(self, api_key: str | None) -> Account:
        """The account of ``api_key`` or -2014/-2015."""
        if not api_key:
            raise errors.bad_api_key_format()
        account = self.by_key.get(api_key)
        if account is None:
            raise errors.bad_api_key()
        return account
