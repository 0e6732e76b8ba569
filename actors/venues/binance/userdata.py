"""Binance's REST user-data streams: listen keys (``/api/v3/userDataStream``) and their sockets.

Deprecated by Binance in favour of the ws-api subscription but still documented and still used
(NautilusTrader's adapter, python-binance): ``POST`` returns a key valid for 60 minutes,
``PUT`` keeps it alive, ``DELETE`` closes it; ``/ws/<listenKey>`` (or a combined stream naming
it) then carries the account's events as they are, without the ws-api's wrapper.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import trio

from actors.venues.accounts import Account
from actors.venues.binance import errors

VALIDITY_S = 3600.0


@dataclass(slots=True)
class _Key:
    account: Account
    expires: float


class ListenKeys:
    """Live listen keys, one per account at a time, as on Binance.

    Example: ``key = keys.create(account); keys.keepalive(key, account); keys.close(...)``
    """

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}

    def create(self, account: Account) -> str:
        """The account's live key (its validity extended), or a new one."""
        now = trio.current_time()
        for key, entry in self._keys.items():
            if entry.account is account and entry.expires > now:
                entry.expires = now + VALIDITY_S
                return key
        key = secrets.token_urlsafe(45)[:60]
        self._keys[key] = _Key(account, now + VALIDITY_S)
        return key

    def account_of(self, key: str) -> Account | None:
        """The account of a live key, or None."""
        entry = self._keys.get(key)
        if entry is None or entry.expires <= trio.current_time():
            return None
        return entry.account

    def _owned(self, key: str | None, account: Account) -> _Key:
        if not key:
            raise errors.mandatory_param("listenKey")
        entry = self._keys.get(key)
        if entry is None or entry.account is not account or entry.expires <= trio.current_time():
            raise errors.unknown_listen_key()
        return entry

    def keepalive(self, key: str | None, account: Account) -> None:
        """Extend a key by 60 minutes, or -1125."""
        self._owned(key, account).expires = trio.current_time() + VALIDITY_S

    def close(self, key: str | None, account: Account) -> str:
        """Invalidate a key (its sockets are closed by the caller), or -1125."""
        self._owned(key, account)
        assert key is not None
        del self._keys[key]
        return key
