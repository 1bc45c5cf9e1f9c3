"""Login throttling with django-axes, on its database handler so every process (every
dyno) counts the same failures.

A login is refused, the right password too, after LOGIN_FAILURE_LIMIT failures for one
(username, address) pair, or LOGIN_ADDRESS_FAILURE_LIMIT failures from one address over
any usernames, until LOGIN_LOCKOUT_SECONDS pass without another try. Never per username
alone: that would let anyone lock another user out from anywhere. The admin login, the
status pages' login and the API's bearer tokens all count (see `scheduler.web.http`).
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.http import JsonResponse
from django.shortcuts import render


def client_address(request) -> str:
    """The caller's address. On a Heroku dyno the router appends the address it saw to
    X-Forwarded-For, so the last entry is the only one a client cannot forge; anywhere
    else the header is the client's own word, and the socket's address counts."""
    if settings.BEHIND_HEROKU_ROUTER:
        last = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "")


class PairOrAddressHandler(AxesDatabaseHandler):
    """Two limits: axes compares one count with one limit (AXES_FAILURE_LIMIT, the pair's),
    so an address over its own, higher limit counts as the pair's limit reached."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        pair, address = (
            attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(pair, settings.AXES_FAILURE_LIMIT)
        return pair


def retry_after() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def locked_out(request, original_response=None, credentials=None):
    """The answer to a locked-out login: 429 with Retry-After, as a page or, for the API,
    as JSON."""
    seconds = retry_after()
    wait = f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"
    message = (
        f"Too many failed logins: try again in {wait}, "
        "or ask an administrator to unlock the account."
    )
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": message}, status=429)
    else:
        response = render(request, "scheduler/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after())
    return response
