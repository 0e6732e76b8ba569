"""OKX's request signing: REST headers and the websocket ``login``.

REST: ``OK-ACCESS-SIGN`` is base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath +
body)), the request path including its query string; ``OK-ACCESS-TIMESTAMP`` is ISO 8601
with milliseconds and must be within 30 s of the server's clock. Websocket login signs
``timestamp + "GET" + "/users/self/verify"`` with the timestamp in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from actors.venues.accounts import Account, Accounts
from actors.venues.okx import errors

MAX_SKEW_MS = 30_000
LOGIN_PATH = "/users/self/verify"


def sign(secret: str, payload: str) -> str:
    """Base64 HMAC-SHA256 of ``payload`` with ``secret``."""
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _iso_ms(value: str) -> int | None:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return int(when.timestamp() * 1000)


def verify_rest(
    accounts: Accounts,
    headers: Mapping[str, str],
    method: str,
    request_path: str,
    body: str,
    server_ms: int,
) -> Account:
    """Authenticate a private REST call or raise the OKX error (HTTP 401) saying why."""
    key = headers.get("ok-access-key")
    passphrase = headers.get("ok-access-passphrase")
    signature = headers.get("ok-access-sign")
    timestamp = headers.get("ok-access-timestamp")
    if not key:
        raise errors.auth("50103", 'Request header "OK-ACCESS-KEY" can not be empty.')
    if not passphrase:
        raise errors.auth("50104", 'Request header "OK-ACCESS-PASSPHRASE" can not be empty.')
    if not signature:
        raise errors.auth("50106", 'Request header "OK-ACCESS-SIGN" can not be empty.')
    if not timestamp:
        raise errors.auth("50107", 'Request header "OK-ACCESS-TIMESTAMP" can not be empty.')
    ts = _iso_ms(timestamp)
    if ts is None:
        raise errors.auth("50112", 'Invalid "OK-ACCESS-TIMESTAMP"')
    if abs(server_ms - ts) > MAX_SKEW_MS:
        raise errors.auth("50102", "Timestamp request expired")
    account = accounts.find(key)
    if account is None:
        raise errors.auth("50111", "Invalid OK-ACCESS-KEY")
    if not hmac.compare_digest(passphrase, account.passphrase):
        raise errors.auth("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.')
    expected = sign(account.secret, timestamp + method.upper() + request_path + body)
    if not hmac.compare_digest(expected, signature):
        raise errors.auth("50113", "Invalid Sign")
    return account


class LoginError(Exception):
    """A websocket login failure: OKX's ``code`` and ``msg``."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


def verify_login(accounts: Accounts, args: Any, server_ms: int) -> Account:
    """Authenticate a websocket ``login`` op's first argument, or ``LoginError``."""
    if not isinstance(args, list) or not args or not isinstance(args[0], dict):
        raise LoginError("60013", "Invalid args")
    arg = args[0]
    for name, code in (("apiKey", "60001"), ("sign", "60002"), ("passphrase", "60003")):
        if not isinstance(arg.get(name), str) or not arg[name]:
            raise LoginError(code, f'"{name}" can not be empty')
    try:
        ts_s = int(str(arg.get("timestamp")))
    except ValueError:
        raise LoginError("60004", "Invalid timestamp") from None
    if abs(server_ms - ts_s * 1000) > MAX_SKEW_MS:
        raise LoginError("60006", "Timestamp request expired")
    account = accounts.find(arg["apiKey"])
    if account is None:
        raise LoginError("60005", "Invalid OK-ACCESS-KEY")
    if not hmac.compare_digest(arg["passphrase"], account.passphrase):
        raise LoginError("60024", "Wrong passphrase")
    expected = sign(account.secret, f"{arg['timestamp']}GET{LOGIN_PATH}")
    if not hmac.compare_digest(expected, arg["sign"]):
        raise LoginError("60007", "Invalid sign")
    return account
