"""Per-user API tokens: issued once, stored as a SHA-256 digest, sent as a bearer token.

A token is `altar_` and 32 random bytes (URL-safe base64): far too many to guess, so a
fast hash is as safe as a slow one here, and lets every API call be looked up by digest
(unique index) instead of checking a slow hash against each token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from ..models import ApiToken

PREFIX = "altar_"
# `last_used_at` is written at most this often per token, not on every call.
TOUCH_EVERY = timedelta(minutes=1)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(user, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; return the row and the token, which is never stored."""
    token = ApiToken(user=user, name=name)
    raw = fill(token)
    token.save()
    return token, raw


def fill(token: ApiToken) -> str:
    """Give an unsaved `token` (admin's add form) a fresh secret; return the secret."""
    raw = PREFIX + secrets.token_urlsafe(32)
    token.prefix, token.digest = raw[:12], digest(raw)
    return raw


TOKEN_SCHEMES = ("bearer", "token")


def is_token_header(header: str) -> bool:
    return header.strip().partition(" ")[0].lower() in TOKEN_SCHEMES


def user_for(header: str):
    """The active user whose token is in an `Authorization: Bearer <token>` header, or
    None. Also accepts the `Token <token>` scheme some clients send."""
    scheme, _, raw = header.strip().partition(" ")
    if scheme.lower() not in TOKEN_SCHEMES or not raw.strip():
        return None
    token = ApiToken.objects.select_related("user").filter(digest=digest(raw.strip())).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
