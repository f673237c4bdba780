"""The key that signs access tokens, and its public half as a JSON Web Key Set.

``OAUTH_JWT_PRIVATE_KEY`` (a PEM: RSA signs RS256, Ed25519 signs EdDSA) when set. Otherwise an RSA key is
generated on first use and kept in the database (``OAuthSigningKey``), so every worker and every restart
signs with the same key and a demo works with no configuration.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings
from django.db import IntegrityError, transaction

from portal.models import OAuthSigningKey

GENERATED_KEY_NAME = "access-tokens"


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    algorithm: str  # "RS256" or "EdDSA"
    kid: str  # the RFC 7638 thumbprint of the public key
    public_jwk: dict

    @property
    def public_key(self):
        return self.private_key.public_key()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _signing_key(private_key) -> SigningKey:
    if isinstance(private_key, rsa.RSAPrivateKey):
        numbers = private_key.public_key().public_numbers()
        required = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
        algorithm = "RS256"
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        required = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
        algorithm = "EdDSA"
    else:
        raise ValueError("OAUTH_JWT_PRIVATE_KEY must be an RSA or Ed25519 private key (PEM).")
    # RFC 7638: the SHA-256 of the required members, sorted, without whitespace
    kid = _b64(hashlib.sha256(json.dumps(required, sort_keys=True, separators=(",", ":")).encode()).digest())
    return SigningKey(private_key, algorithm, kid, {**required, "use": "sig", "alg": algorithm, "kid": kid})


def _generated_pem() -> str:
    existing = OAuthSigningKey.objects.filter(name=GENERATED_KEY_NAME).values_list("private_key_pem", flat=True).first()
    if existing:
        return existing
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    try:
        with transaction.atomic():
            OAuthSigningKey.objects.create(name=GENERATED_KEY_NAME, private_key_pem=pem)
    except IntegrityError:  # another worker made it first: use theirs
        return OAuthSigningKey.objects.get(name=GENERATED_KEY_NAME).private_key_pem
    return pem


_loaded: SigningKey | None = None
_lock = threading.Lock()


def signing_key() -> SigningKey:
    """The key access tokens are signed with (loaded once per process)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                pem = settings.OAUTH_JWT_PRIVATE_KEY or _generated_pem()
                _loaded = _signing_key(serialization.load_pem_private_key(pem.encode(), password=None))
    return _loaded


def signing_key_forget() -> None:
    """Load the key again on next use (tests that change the setting or empty the database)."""
    global _loaded
    _loaded = None


def jwks() -> dict:
    """The JSON Web Key Set that verifies access tokens."""
    return {"keys": [signing_key().public_jwk]}
