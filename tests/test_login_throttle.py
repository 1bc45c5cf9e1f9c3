"""Login throttling, tried against a real gunicorn with two workers (the failures are
counted in the database, so both workers see the same counts)."""

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.conf import global_settings
from django.test import RequestFactory

from altar.login_throttle import client_address
from scheduler.web import tokens
from tests import support

pytestmark = pytest.mark.subprocess

PASSWORD = "right-password-for-tests"
LOCKOUT = 4  # seconds


@pytest.fixture
def hub(transactional_db):
    started = []

    def start(**env):
        process, url = support.gunicorn(
            2, support.subprocess_env(LOGIN_LOCKOUT_SECONDS=str(LOCKOUT), **env)
        )
        started.append(process)
        process.wait_for_line(r"Booting worker", timeout=30)
        return url

    yield start
    for process in started:
        process.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def log_in(url: str, username: str, password: str, path: str = "/accounts/login/", headers=None):
    """One login through the page's form, as a browser does; returns (status, headers, body)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), NoRedirect, urllib.request.HTTPErrorProcessor
    )
    page = opener.open(f"{url}{path}", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/"}
    ).encode()
    request = urllib.request.Request(
        f"{url}{path}", data=data, headers={"Referer": f"{url}{path}", **(headers or {})}
    )
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def api_get(url: str, token: str):
    request = urllib.request.Request(
        f"{url}/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


@pytest.fixture
def users(django_user_model, settings):
    # Hashed as production hashes them, so the gunicorn's own settings can check them.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return {
        name: django_user_model.objects.create_user(name, password=PASSWORD, is_staff=True)
        for name in ("alice", "bob", "carol")
    }


def test_wrong_passwords_lock_the_pair_out_until_the_lockout_ends(hub, users):
    url = hub()
    for _ in range(4):
        status, _, body = log_in(url, "alice", "wrong")
        assert status == 200 and "didn't match" in body
    assert log_in(url, "alice", "wrong")[0] == 429  # the fifth failure locks the pair out
    # Now even the right password is refused, on the admin's login too, with a reason.
    status, headers, body = log_in(url, "alice", PASSWORD)
    assert status == 429
    assert headers["Retry-After"] == str(LOCKOUT)
    assert "Too many failed logins" in body
    assert log_in(url, "alice", PASSWORD, path="/admin/login/")[0] == 429
    # Another user from the same address is not locked out by alice's failures.
    status, _, body = log_in(url, "bob", PASSWORD)
    assert status == 302, body
    # The lockout ends LOCKOUT seconds after the last try: time is what is awaited here.
    time.sleep(LOCKOUT + 0.5)
    assert log_in(url, "alice", PASSWORD)[0] == 302


def test_failures_over_many_usernames_lock_the_address_out(hub, users):
    url = hub(LOGIN_ADDRESS_FAILURE_LIMIT="8")
    for _ in range(4):  # under the pair's limit of 5 each
        assert log_in(url, "alice", "wrong")[0] == 200
    for _ in range(3):
        assert log_in(url, "bob", "wrong")[0] == 200
    assert log_in(url, "bob", "wrong")[0] == 429  # the address's eighth failure
    status, headers, _ = log_in(url, "carol", PASSWORD)
    assert status == 429 and headers["Retry-After"] == str(LOCKOUT)


def test_a_forged_forwarded_for_header_does_not_dodge_the_limit(hub, users):
    """Off Heroku the socket's address counts; X-Forwarded-For is the client's own word."""
    url = hub()
    for n in range(4):
        assert log_in(url, "alice", "wrong", headers={"X-Forwarded-For": f"10.0.0.{n}"})[0] == 200
    assert log_in(url, "alice", "wrong", headers={"X-Forwarded-For": "10.9.9.9"})[0] == 429


def test_invalid_api_tokens_are_throttled_like_passwords(hub, users):
    url = hub()
    _, valid = tokens.issue(users["alice"], "script")
    for n in range(4):
        status, headers, body = api_get(url, f"altar_not-a-token-{n}")
        assert status == 401, body
    assert api_get(url, "altar_not-a-token-5")[0] == 429
    status, headers, body = api_get(url, valid)
    assert status == 429
    assert headers["Retry-After"] == str(LOCKOUT)
    assert "too many" in body.lower()


def test_on_a_heroku_dyno_the_routers_last_forwarded_entry_is_the_address(settings):
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7", REMOTE_ADDR="10.1.1.1"
    )
    settings.BEHIND_HEROKU_ROUTER = False
    assert client_address(request) == "10.1.1.1"
    settings.BEHIND_HEROKU_ROUTER = True
    assert client_address(request) == "203.0.113.7"
