"""What the Heroku tests share: the Procfile's commands, the production environment a
dyno gets, and plain-HTTP requests made the way Heroku's router makes them."""

from __future__ import annotations

import http.client
import os
import sys
from pathlib import Path

from tests import support

VENV_BIN = str(Path(sys.executable).parent)


def production_env(**extra: str) -> dict[str, str]:
    """A dyno's environment: production defaults (DEBUG off, https only, the scheduler in
    the web process), the test database, and the virtualenv first on PATH, as the
    buildpack puts its Python first."""
    env = support.subprocess_env(**extra)
    for test_only in ("SECURE_SSL_REDIRECT", "SCHEDULER_AUTOSTART"):
        if test_only not in extra:
            env.pop(test_only, None)
    env["DEBUG"] = "false"
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def get(port: int, path: str, https: bool = True, **headers: str):
    """GET from loopback as Heroku's router does (it ends TLS and says so in
    X-Forwarded-Proto); redirects are returned, not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if https:
        headers["X-Forwarded-Proto"] = "https"
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return response, body


def answers(port: int) -> bool:
    try:
        return get(port, "/admin/login/")[0].status == 200
    except OSError:
        return False
