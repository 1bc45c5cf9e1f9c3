"""gunicorn settings, read from the working directory (`gunicorn altar.wsgi`).

Not preloaded: each worker imports the app itself, so the in-web scheduler's thread and
database connections are never shared across a fork.
"""

import os

# Heroku gives the port in PORT; locally, listen on loopback only.
bind = f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Heroku sends SIGKILL 30 s after SIGTERM. A worker's in-web scheduler gives running jobs
# SCHEDULER_SHUTDOWN_GRACE (25 s) and then records what it cut short; gunicorn waits a
# little longer than that before killing the worker, and still less than Heroku.
graceful_timeout = 28
# Heroku's router gives up on a request after 30 s.
timeout = 30
# Heroku's router is the proxy: trust its X-Forwarded-* headers (the dyno is not
# reachable any other way).
forwarded_allow_ips = "*" if os.environ.get("DYNO") else "127.0.0.1"
# One line per request to stdout, like the rest of the logs.
accesslog = "-"


def worker_exit(server, worker):
    """Stop the in-web scheduler while the worker can still record what it cut short."""
    from scheduler.backends import stop_in_web

    stop_in_web()
