"""Binance's signed-request checks: API key, timestamp against recvWindow, HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from actors.venues.accounts import Account, Accounts
from actors.venues.binance import errors


def strip_signature(query: str) -> tuple[str, str | None]:
    """Split ``a=1&signature=x`` into (``a=1``, ``x``)."""
    kept: list[str] = []
    signature = None
    for part in query.split("&") if query else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def check_timestamp(params: Mapping[str, Any], server_ms: int) -> None:
    """Binance's rule: timestamp < server + 1000 and server - timestamp <= recvWindow."""
    raw_ts = params.get("timestamp")
    if raw_ts in (None, ""):
        raise errors.mandatory_param("timestamp")
    try:
        ts = int(str(raw_ts))
        recv_window = int(str(params.get("recvWindow", 5000)))
    except ValueError:
        raise errors.illegal_chars("timestamp") from None
    if recv_window > 60000:
        raise errors.bad_recv_window()
    if ts >= server_ms + 1000:
        raise errors.timestamp_ahead()
    if server_ms - ts > recv_window:
        raise errors.timestamp_outside_window()


def account_of(accounts: Accounts, api_key: str | None) -> Account:
    """The account of ``api_key`` or -2014 (missing) / -2015 (unknown)."""
    if not api_key:
        raise errors.bad_api_key_format()
    account = accounts.find(api_key)
    if account is None:
        raise errors.bad_api_key()
    return account


def verify_rest(
    accounts: Accounts,
    api_key: str | None,
    query: str,
    body: str,
    params: Mapping[str, Any],
    server_ms: int,
) -> Account:
    """Authenticate a signed REST call; the payload is query string then body, minus signature."""
    account = account_of(accounts, api_key)
    check_timestamp(params, server_ms)
    q, sig_q = strip_signature(query)
    b, sig_b = strip_signature(body)
    signature = sig_q or sig_b
    if not signature:
        raise errors.mandatory_param("signature")
    payload = q + b
    if not hmac.compare_digest(sign(account.secret, payload), signature.lower()):
        raise errors.bad_signature()
    return account


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def verify_wsapi(accounts: Accounts, params: Mapping[str, Any], server_ms: int) -> Account:
    """Authenticate a signed ws-api request: sorted ``k=v`` pairs except ``signature``."""
    account = account_of(accounts, params.get("apiKey"))
    check_timestamp(params, server_ms)
    signature = params.get("signature")
    if not isinstance(signature, str) or not signature:
        raise errors.mandatory_param("signature")
    payload = "&".join(f"{k}={_render(params[k])}" for k in sorted(params) if k != "signature")
    if not hmac.compare_digest(sign(account.secret, payload), signature.lower()):
        raise errors.bad_signature()
    return account
