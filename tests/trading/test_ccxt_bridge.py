"""How the desk builds its ccxt.pro instances."""

from __future__ import annotations

import ssl

from actors.trading.ccxt_bridge import make_exchange


def test_instances_share_one_ssl_context_per_ca_file() -> None:
    # ccxt would parse the CA bundle again for each instance, on every session restart,
    # with the event loop blocked meanwhile.
    first = make_exchange("binance", {}, None)
    second = make_exchange("okx", {}, None)
    assert isinstance(first.ssl_context, ssl.SSLContext)
    assert first.ssl_context is second.ssl_context
    assert first.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_an_instance_that_does_not_verify_or_adds_os_certificates_is_left_to_ccxt() -> None:
    assert make_exchange("binance", {"verify": False}, None).ssl_context is None
    options = {"options": {"include_OS_certificates": True}}
    assert make_exchange("binance", options, None).ssl_context is None
