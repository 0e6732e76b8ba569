"""A self-signed certificate for serving https/wss on loopback (``VenueConfig(tls=True)``).

Some clients only accept ``wss://`` addresses (cryptofeed, for one). The certificate is made
with ``cryptography`` at start-up for ``127.0.0.1`` and ``localhost``, valid for a day, and its
PEM file is written to a private temporary directory so a client can trust exactly it (ccxt:
``cafile``; Python's ``ssl``: ``load_verify_locations``). Nothing is kept after the venue stops.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class SelfSignedCertificate:
    """A key and certificate on disk: ``cert_path`` is what clients trust.

    Example::

        cert = SelfSignedCertificate.generate()
        client = ssl.create_default_context(cafile=cert.cert_path)
    """

    directory: str
    cert_path: str
    key_path: str

    @classmethod
    def generate(cls) -> SelfSignedCertificate:
        """A fresh EC key and a certificate for 127.0.0.1/localhost, valid for one day."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "actors embedded venue")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        directory = tempfile.mkdtemp(prefix="actors-venue-tls-")
        cert_path = os.path.join(directory, "venue-cert.pem")
        key_path = os.path.join(directory, "venue-key.pem")
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return cls(directory, cert_path, key_path)

    def server_context(self) -> ssl.SSLContext:
        """A server-side context serving this certificate (HTTP/1.1 over ALPN)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        context.set_alpn_protocols(["http/1.1"])
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side context that trusts exactly this certificate."""
        return ssl.create_default_context(cafile=self.cert_path)

    def remove(self) -> None:
        """Delete the key and certificate files."""
        shutil.rmtree(self.directory, ignore_errors=True)
