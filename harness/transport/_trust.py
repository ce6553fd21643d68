"""Whom TLS trusts and who the client is: CA bundles, the system store, client certificates.

Trust, in order: a CA bundle given to flowload (``--ca-bundle``, ``[target] ca_bundle``, or the
``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` environment variables, resolved by the config), else
OpenSSL's default store (which honours ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``), else, where that
store holds nothing (slim containers without ``ca-certificates``), Mozilla's bundle from
``certifi``. A bundle file that holds no certificate is an error at start, not a failure of
every stream later.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from harness.errors import ConfigError

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


def load_trust(ctx: ssl.SSLContext, ca_bundle: str | None) -> None:
    """Make ``ctx`` verify servers against ``ca_bundle`` or the system's (certifi) CAs."""
    if ca_bundle:
        check_ca_bundle(ca_bundle)
        try:
            ctx.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"CA bundle {ca_bundle}: cannot load it ({exc})") from None
        return
    ctx.load_default_certs()
    if default_store_is_empty():
        import certifi  # noqa: PLC0415 - only where the system has no CA store

        ctx.load_verify_locations(cafile=certifi.where())


def check_ca_bundle(path: str) -> None:
    """ConfigError unless ``path`` is a readable PEM file with at least one certificate."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"CA bundle {path}: {exc.strerror or exc}; give a PEM file of CA certificates"
        ) from None
    if _PEM_CERT not in data:
        raise ConfigError(
            f"CA bundle {path} holds no PEM certificate (no '-----BEGIN CERTIFICATE-----'); "
            "give the CA certificates that signed the server's certificate"
        )


def default_store_is_empty() -> bool:
    """True when OpenSSL's default CA file and directory hold nothing."""
    paths = ssl.get_default_verify_paths()
    if paths.cafile and Path(paths.cafile).is_file():
        return False
    capath = paths.capath
    return not (capath and Path(capath).is_dir() and any(os.scandir(capath)))


def load_client_cert(ctx: ssl.SSLContext, cert: str, key: str | None) -> None:
    """Present ``cert`` (with ``key``) to servers that ask; ConfigError naming the problem."""
    for label, path in (("client certificate", cert), ("client key", key)):
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"{label} {path} is not a file; give a PEM file")
    try:
        # An encrypted key would make OpenSSL prompt on the terminal: answer with no password.
        ctx.load_cert_chain(cert, key, password=lambda: b"")
    except ssl.SSLError as exc:
        raise ConfigError(
            f"client certificate {cert} / key {key or cert}: cannot use them ({exc.reason}); "
            "give an unencrypted PEM key that matches the certificate"
        ) from None
    except OSError as exc:
        raise ConfigError(f"client certificate {cert}: {exc.strerror or exc}") from None
