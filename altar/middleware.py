"""Site-wide request and response rules that belong to no one app."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse

NUL_REFUSED = "NUL characters are not accepted in a query"


class RefuseNulInQuery:
    """A NUL character in a query string (a search, an admin list filter) is a 400.

    No value of ours holds one, and PostgreSQL refuses one in any query (Django raises
    a ValueError: a 500), so refusing it here, once, keeps every list, filter and search
    of every app (third-party admins included) from answering 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Read raw, not parsed: parsing a query of too many fields is the view's own
        # 400 to give. A NUL arrives as %00 (or, from a broken client, as itself).
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            if request.path.startswith("/api/"):
                return JsonResponse({"error": NUL_REFUSED}, status=400)
            return HttpResponseBadRequest(NUL_REFUSED, content_type="text/plain")
        return self.get_response(request)


class ContentSecurityPolicy:
    """Sends CONTENT_SECURITY_POLICY on every response (Django 5.2 has none built in; a
    view that sets its own keeps it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
