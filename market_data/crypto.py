"""Exchange credentials at rest: JSON encrypted with the keys in FIELD_ENCRYPTION_KEY.

A `MultiFernet` over the listed keys: the first one encrypts, every one decrypts, so a new
key goes first and the old one stays listed until every row has been re-encrypted (the
exchange admin's "re-encrypt" action). Errors carry a readable message, never the secret;
callers catch `CredentialsError` per exchange, so one unreadable row stops no other work.
"""

import base64
import json
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsError(Exception):
    """The credentials cannot be encrypted or decrypted (missing, malformed or wrong key)."""


def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, str):
        keys = keys.split(",")
    keys = [k.strip() for k in keys if k and k.strip()]
    if not keys:
        raise CredentialsError(
            "FIELD_ENCRYPTION_KEY is not set; generate one with "
            '`python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`'
        )
    try:
        return MultiFernet([Fernet(_fernet_key(key)) for key in keys])
    except ValueError:
        raise CredentialsError(
            "FIELD_ENCRYPTION_KEY is malformed: each key must be 32 url-safe base64-encoded "
            "bytes, or 64 hexadecimal digits"
        ) from None


def _fernet_key(key: str) -> str | bytes:
    """A Fernet key as given, or the 32 bytes that 64 hexadecimal digits spell: the form of
    the secret Heroku generates for app.json's `"generator": "secret"`."""
    if re.fullmatch(r"[0-9a-fA-F]{64}", key):
        return base64.urlsafe_b64encode(bytes.fromhex(key))
    return key


def encrypt(credentials: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(credentials).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsError(
            "stored credentials cannot be decrypted with FIELD_ENCRYPTION_KEY "
            "(wrong key, or the key that encrypted them was removed)"
        ) from None


def rotate(token: str) -> str:
    """`token` re-encrypted with the first key (for key rotation)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsError(
            "stored credentials cannot be decrypted with FIELD_ENCRYPTION_KEY"
        ) from None
