"""The JSON API's front door, shared by the scheduler's and the strategies' endpoints.

`api_view` answers the method, size, authentication and permission questions the same way
for every endpoint, with JSON errors: 405 for a wrong method, 413 for a body over
DATA_UPLOAD_MAX_MEMORY_SIZE, 401 without a session or a valid token, 403 for a failed
CSRF check or a missing permission. Browsers use their
session and must send the CSRF token; scripts send `Authorization: Bearer <token>`,
which needs no CSRF token (a browser never adds that header by itself).
"""

from __future__ import annotations

from functools import wraps

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found

from . import tokens
from .jsoninput import JSONInputError, loads


def error(message: str, status: int, fields: dict | None = None, **headers) -> JsonResponse:
    body = {"error": message}
    if fields:
        body["fields"] = fields
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def not_found(request, exception):
    """The site's 404 (`handler404`): JSON under /api/ (a malformed id such as
    /api/v1/strategies/abc/start matches no route), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return error(f"no such endpoint: {request.method} {request.path}", 404)
    return page_not_found(request, exception)


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, answering a failure in JSON instead of an HTML page."""

    def _reject(self, request, reason):
        return error(f"CSRF check failed: {reason}", 403)


def _csrf_failure(request):
    return _CsrfCheck(lambda r: None).process_view(request, None, (), {})


def _too_big(request) -> JsonResponse | None:
    """A 413 for a body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE, answered before
    anything reads it (Django's own answer is an HTML 400, and only once a view reads)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return error("bad Content-Length header", 400)
    if limit is not None and length > limit:
        return error(f"request body too large: at most {limit} bytes", 413)
    return None


# Failed tokens count against the caller's address with the logins' throttle (django-axes),
# under this one name: the pair limit and the address limit then both apply to guessing.
TOKEN_CREDENTIALS = {"username": "(API token)"}


def _token_user(request, header: str):
    """(user, None) for a valid token; (None, a 401 or a 429) otherwise."""
    if AxesProxyHandler.is_locked(request, TOKEN_CREDENTIALS):
        seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
        message = f"too many invalid API tokens from this address: try again in {seconds}s"
        return None, error(message, 429, Retry_After=str(seconds))
    user = tokens.user_for(header)
    if user is None:
        user_login_failed.send(__name__, credentials=TOKEN_CREDENTIALS, request=request)
        return None, error("invalid API token", 401, WWW_Authenticate="Bearer")
    return user, None


def api_view(methods: tuple[str, ...], permission: str | None = None, denied: str = ""):
    """Decorate a JSON endpoint: allowed `methods`, any authenticated user, and — when
    `permission` is given — staff holding it (else a 403 saying `denied`)."""
    denied = denied or f"staff with the {permission!r} permission only"

    def decorate(view):
        def checked(request, *args, **kwargs):
            header = request.headers.get("Authorization", "")
            # Only a token scheme takes the token path; any other header (Basic from a
            # proxy in front) leaves the caller a session caller, CSRF and all.
            if tokens.is_token_header(header):
                user, refusal = _token_user(request, header)
                if refusal is not None:
                    return refusal
                request.user = user
            elif not request.user.is_authenticated:
                return error(
                    "authentication required: log in, or send 'Authorization: Bearer <token>'",
                    401,
                    WWW_Authenticate="Bearer",
                )
            elif request.method not in ("GET", "HEAD", "OPTIONS"):
                failure = _csrf_failure(request)
                if failure is not None:
                    return failure
            if permission and not (request.user.is_staff and request.user.has_perm(permission)):
                return error(denied, 403)
            return view(request, *args, **kwargs)

        @csrf_exempt  # checked in `checked`, for session callers only
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                allowed = ", ".join(methods)
                return error(
                    f"method {request.method} not allowed; use {allowed}", 405, Allow=allowed
                )
            try:
                return _too_big(request) or checked(request, *args, **kwargs)
            # Bodies Django cannot parse: its own answer is an HTML 400. Every view here
            # reads its body before it acts, so a body refused here has changed nothing.
            except (TooManyFieldsSent, TooManyFilesSent) as exc:
                return error(str(exc), 400)
            except MultiPartParserError as exc:
                return error(f"unreadable multipart body: {exc}", 400)

        return wrapper

    return decorate


def json_body(request, allowed: dict[str, type]) -> tuple[dict, dict]:
    """Parse an optional JSON object body with the `allowed` fields and their types
    (none: the endpoint takes no body, though an empty one or `{}` is fine). Returns
    (values, field errors); a body that is not a JSON object is one error under the key
    `body`."""
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # An empty form post (a plain `fetch`, or curl -X POST) is "no body", and so is
        # one carrying only a form's CSRF token.
        if set(request.POST) - {"csrfmiddlewaretoken"}:
            return {}, {"body": ["send a JSON object (Content-Type: application/json)"]}
        return {}, {}
    if not request.body.strip():
        return {}, {}
    try:
        data = loads(request.body)
    except JSONInputError as exc:
        return {}, {"body": [str(exc)]}
    if not isinstance(data, dict):
        return {}, {"body": ["expected a JSON object"]}
    errors = {}
    values = {}
    for name, value in data.items():
        kind = allowed.get(name)
        if kind is None:
            errors[name] = [f"unknown field; allowed: {', '.join(allowed) or 'none'}"]
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            errors[name] = ["must be a whole number"]
        elif kind is bool and not isinstance(value, bool):
            errors[name] = ["must be true or false"]
        else:
            values[name] = value
    return values, errors
