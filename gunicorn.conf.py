"""gunicorn settings, read from the working directory (`gunicorn altar.wsgi`)."""

import os

# Heroku gives the port in PORT; locally, listen on loopback only.
bind = f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Heroku sends SIGKILL 30 s after SIGTERM: finish well inside it.
graceful_timeout = 25


def worker_exit(server, worker):
    """Stop the in-web scheduler while the worker can still record what it cut short."""
    from scheduler.runner import stop_in_web

    stop_in_web()
