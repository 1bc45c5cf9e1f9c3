"""Dedicated PostgreSQL connections, outside Django's per-thread pool, for the scheduler
lock and change notifications: autocommit, with TCP keepalives so that a connection cut
off from the server is noticed by both ends within seconds."""

from __future__ import annotations

import os

import psycopg2
from django.db import connection

from ..runs.heartbeat import owner_name


def dedicated_connection(purpose: str, keepalives_idle: int = 2):
    db = connection.settings_dict
    options = db.get("OPTIONS", {})
    conn = psycopg2.connect(
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        # host:pid, and on Heroku the dyno ("web.1"), for `heroku pg:ps` and the budget.
        application_name=_application_name(purpose),
        connect_timeout=5,
        keepalives=1,
        keepalives_idle=keepalives_idle,
        keepalives_interval=1,
        keepalives_count=2,
        # Unacknowledged data (a ping sent into a partition) fails after 3 s, instead of
        # the kernel's retransmissions of a quarter of an hour.
        tcp_user_timeout=3000,
        **({"sslmode": options["sslmode"]} if "sslmode" in options else {}),
    )
    conn.autocommit = True
    return conn


def _application_name(purpose: str) -> str:
    dyno = os.environ.get("DYNO")
    return f"altar-{purpose} {owner_name()}{f' ({dyno})' if dyno else ''}"[:63]
