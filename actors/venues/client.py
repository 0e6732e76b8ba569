"""ccxt constructor options that point ccxt's own exchange classes at an embedded venue.

One function for every protocol: ``protocol="binance"`` gives options for ``ccxt.binance`` /
``ccxt.pro.binance``, ``protocol="okx"`` for ``ccxt.okx`` / ``ccxt.pro.okx``; only hosts,
schemes and credentials change, the classes run unmodified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from actors.venues.binance import client as binance_client
from actors.venues.config import PROTOCOLS
from actors.venues.okx import client as okx_client

if TYPE_CHECKING:
    from actors.venues.server import Venue


def ccxt_config(
    venue_url_or_port: str | int,
    api_key: str | None = None,
    secret: str | None = None,
    *,
    protocol: str = "binance",
    password: str | None = None,
    cafile: str | None = None,
) -> dict[str, Any]:
    """Options for ccxt's ``protocol`` class talking to the venue at a URL or loopback port.

    An ``https://`` URL means a TLS venue: URLs become https/wss and ``cafile`` (the venue's
    certificate, ``venue.certificate.cert_path``) is what ccxt trusts.

    Example::

        ex = ccxt.pro.binance(ccxt_config(venue.port, "sim-api-key", "sim-secret"))
        ex = ccxt.pro.okx(ccxt_config(venue.url, key, secret, protocol="okx", password=pp))
    """
    if isinstance(venue_url_or_port, int):
        netloc, tls = f"127.0.0.1:{venue_url_or_port}", False
    else:
        url = venue_url_or_port if "://" in venue_url_or_port else f"http://{venue_url_or_port}"
        parts = urlsplit(url)
        netloc, tls = parts.netloc, parts.scheme in ("https", "wss")
    host = netloc.rsplit(":", 1)[0].strip("[]")
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"the embedded venue is loopback only, not {host!r}")
    if protocol == "binance":
        config = binance_client.ccxt_config(netloc, api_key, secret, tls=tls)
    elif protocol == "okx":
        config = okx_client.ccxt_config(netloc, api_key, secret, password, tls=tls)
    else:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    if cafile is not None:
        config["cafile"] = cafile
    return config


def venue_ccxt_config(venue: Venue) -> dict[str, Any]:
    """The complete ccxt options of a running venue: URLs, credentials, trusted certificate.

    Example: ``ex = getattr(ccxt.pro, venue.config.protocol)(venue_ccxt_config(venue))``
    """
    cfg = venue.config
    return ccxt_config(
        venue.url,
        cfg.api_key,
        cfg.secret,
        protocol=cfg.protocol,
        password=cfg.passphrase,
        cafile=venue.certificate.cert_path if venue.certificate is not None else None,
    )
