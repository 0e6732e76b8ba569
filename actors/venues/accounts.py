"""Per-account credentials and balances (free and locked) in exact decimals, for every protocol."""

from __future__ import annotations

import secrets
from collections import defaultdict
from decimal import Decimal

from actors.venues.rejects import Reason, Rejected

ZERO = Decimal(0)


class Account:
    """One venue account: its credentials, free and locked balances per asset.

    ``passphrase`` is OKX's third credential (ccxt's ``password``); Binance ignores it.

    Example: ``acct = Account("key", "secret", {"USDT": Decimal(1000)}); acct.lock("USDT", x)``
    """

    def __init__(
        self, api_key: str, secret: str, balances: dict[str, Decimal], passphrase: str = ""
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.passphrase = passphrase
        self.free: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.locked: defaultdict[str, Decimal] = defaultdict(Decimal)
        for asset, amount in balances.items():
            self.free[asset] = Decimal(amount)
        self.update_ms = 0
        # Binance's account ``uid``; new at every start of the venue, so a client can tell a
        # fresh exchange (books, balances, orders started over) from the one it knew.
        self.uid = secrets.randbits(48)

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked, or refuse with INSUFFICIENT_FUNDS."""
        if amount > self.free[asset]:
            raise Rejected(Reason.INSUFFICIENT_FUNDS, asset)
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

    def assets(self) -> list[str]:
        """Every asset this account ever held, sorted."""
        return sorted(set(self.free) | set(self.locked))


class Accounts:
    """The venue's accounts by API key."""

    def __init__(self) -> None:
        self.by_key: dict[str, Account] = {}

    def add(self, account: Account) -> None:
        """Register an account."""
        self.by_key[account.api_key] = account

    def find(self, api_key: str | None) -> Account | None:
        """The account of ``api_key``, or None (each protocol words the refusal)."""
        if not api_key:
            return None
        return self.by_key.get(api_key)
