"""Settings for Altar Trader Hub, read from the environment with django-environ.

With no environment at all the hub runs embedded: SQLite, the in-process APScheduler
backend and an offline market. Every variable is documented in `.env.example`.

`SCHEDULER_*` values are kept as typed so that `manage.py check` can refuse a malformed one
with an id and a hint (see `scheduler/checks.py`); any other malformed value stops start-up
here with a message naming the variable.
"""

import os
import secrets
import ssl
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _strict_bool(name: str, default: bool) -> bool:
    """A boolean variable; anything but a clear yes/no stops start-up (django-environ would
    silently read "ture" as False)."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _lenient_bool(name: str, default: bool) -> bool | str:
    """Like `_strict_bool`, but returns the raw text when malformed so a system check can
    report it with a hint instead of a traceback."""
    raw = env.str(name, default=str(default)).strip()
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    return raw


def _int(name: str, default: int) -> int:
    raw = env.str(name, default=str(default))
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def _lenient_int(name: str, default: int) -> int | str:
    """Like `_int`, but returns the raw text when malformed, for a system check to report."""
    raw = env.str(name, default=str(default)).strip()
    try:
        return int(raw)
    except ValueError:
        return raw


DEBUG = _strict_bool("DEBUG", False)


ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS (Heroku's router ends TLS and says so in X-Forwarded-Proto) ----------------------
# On by default with DEBUG=False; `make run` and other local runs behind no proxy set
# SECURE_SSL_REDIRECT=false, which also lets the session and CSRF cookies travel over http.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _strict_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
# HSTS: browsers remember to use https for a year; only sent on https responses.
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 31_536_000 if SECURE_SSL_REDIRECT else 0)
# Subdomains and the browsers' preload list only when switched on: on a shared parent
# domain they would force https on sites that are not ours, for a year, with no undo.
SECURE_HSTS_INCLUDE_SUBDOMAINS = _strict_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _strict_bool("SECURE_HSTS_PRELOAD", False)
# `check --deploy` would warn about both being off: that is the decision above, not an
# oversight.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SESSION_COOKIE_HTTPONLY = True
# Error reports mask passwords inside connection URLs too (altar/error_reports.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "altar.error_reports.SecretsFilter"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Every page, admin's included: our pages and Django's admin use no inline script or
# style (the status pages' look is a static file). `data:` images are admin's icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_apscheduler",
    "django_celery_beat",
    "axes",
    "scheduler.apps.SchedulerConfig",
    "market_data.apps.MarketDataConfig",
    "strategies.apps.StrategiesConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "altar.middleware.ContentSecurityPolicy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "altar.middleware.RefuseNulInQuery",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "scheduler.web.outage.OutageWatch",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a login the throttle refused.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "altar.urls"
WSGI_APPLICATION = "altar.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------
_LOCAL_HOSTS = {"", None, "localhost", "127.0.0.1", "::1"}
_conn_max_age = _int("CONN_MAX_AGE", 60)
_database_url = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # django-environ warns, then returns no engine
        _default_db = env.db_url_config(_database_url)
except (ValueError, KeyError, ImproperlyConfigured) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
if "." not in _default_db.get("ENGINE", ""):
    _scheme = _database_url.partition(":")[0]
    raise ImproperlyConfigured(
        f"DATABASE_URL has an unsupported scheme {_scheme!r}; use sqlite:/// or postgres://"
    )

if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, runscheduler, test subprocesses) share one file. IMMEDIATE
    # transactions take the write lock up front, so a writer waits for `timeout` instead
    # of failing with "database is locked" when it upgrades a read lock; WAL lets readers
    # go on while one process writes.
    _default_db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so subprocesses started by tests can open the test database.
    _default_db["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
else:
    _default_db["CONN_HEALTH_CHECKS"] = True
    _default_db["OPTIONS"] = {
        # Heroku Postgres takes TLS only; a server on this machine needs none.
        "sslmode": env.str(
            "DATABASE_SSLMODE",
            default="prefer" if _default_db.get("HOST") in _LOCAL_HOSTS else "require",
        ),
        # Who holds each connection, in pg_stat_activity and `heroku pg:ps` (DYNO is
        # Heroku's "web.1", "worker.2"...).
        "application_name": f"altar {os.environ.get('DYNO') or Path(sys.argv[0]).name}"[:63],
        **_default_db.get("OPTIONS", {}),
    }
# Persistent connections on both databases: outside requests (scheduler threads) Django
# would otherwise open a connection, and on SQLite run its PRAGMAs, for every job.
_default_db["CONN_MAX_AGE"] = _conn_max_age

DATABASES = {"default": _default_db}

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if _default_db["ENGINE"] != "django.db.backends.sqlite3":
        raise ImproperlyConfigured(
            "SECRET_KEY is not set; a hub on a shared database needs the same key everywhere"
        )
    # The embedded setup runs on one machine: keep a random key in a local file.
    _key_file = BASE_DIR / ".secret_key"
    try:
        # O_EXCL: of two processes starting together, one writes and both read its key.
        _fd = os.open(_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(_fd, "w") as _out:
            _out.write(secrets.token_urlsafe(50))
    SECRET_KEY = ""
    for _ in range(50):  # a concurrent creator may not have written it yet
        SECRET_KEY = _key_file.read_text().strip()
        if SECRET_KEY:
            break
        time.sleep(0.01)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise, so admin is styled with DEBUG=False) ------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed and hashed (cached forever by browsers); see altar/static_storage.py.
    "staticfiles": {"BACKEND": "altar.static_storage.HashedStaticFilesStorage"},
}

# The status pages' own login (admin's accepts staff only; /jobs/ is for every user).
LOGIN_URL = "login"

# --- Login throttling (django-axes; altar/login_throttle.py) --------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login outright
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = _int("LOGIN_FAILURE_LIMIT", 5)  # per (username, address)
LOGIN_ADDRESS_FAILURE_LIMIT = _int("LOGIN_ADDRESS_FAILURE_LIMIT", 20)  # per address
LOGIN_LOCKOUT_SECONDS = _int("LOGIN_LOCKOUT_SECONDS", 900)
# Heroku's router appends the client's address to X-Forwarded-For; elsewhere the socket's.
BEHIND_HEROKU_ROUTER = bool(os.environ.get("DYNO"))
AXES_HANDLER = "altar.login_throttle.PairOrAddressHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_SECONDS)
AXES_CLIENT_IP_CALLABLE = "altar.login_throttle.client_address"
AXES_LOCKOUT_CALLABLE = "altar.login_throttle.locked_out"
AXES_VERBOSE = False  # its log lines would carry usernames at every failure
LOGIN_REDIRECT_URL = "scheduler:jobs"
LOGOUT_REDIRECT_URL = "login"

# --- Scheduler -------------------------------------------------------------------------
SCHEDULER_BACKEND = env.str("SCHEDULER_BACKEND", default="apscheduler").strip().lower()
SCHEDULER_AUTOSTART = _lenient_bool("SCHEDULER_AUTOSTART", SCHEDULER_BACKEND == "apscheduler")
SCHEDULER_TIMEZONE = env.str("SCHEDULER_TIMEZONE", default="UTC").strip()
# Threads that run jobs in the scheduler process (the guide had 20). Each busy thread holds
# a database connection: 10 keeps one dyno of each type inside the smallest Heroku
# Postgres plan (20 connections; see the README's connection budget).
SCHEDULER_THREADS = _lenient_int("SCHEDULER_THREADS", 10)
# How long a stopping scheduler lets running jobs finish before recording them interrupted.
# 25 s: Heroku kills a dyno 30 s after SIGTERM, and gunicorn waits 28 (gunicorn.conf.py).
SCHEDULER_SHUTDOWN_GRACE = _lenient_int("SCHEDULER_SHUTDOWN_GRACE", 25)
# How often (seconds) the scheduler stamps its running claims; three missed beats make a
# claim stale, so another process may take it over.
SCHEDULER_HEARTBEAT_SECONDS = _lenient_int("SCHEDULER_HEARTBEAT_SECONDS", 5)
# How often (seconds) the scheduler process reads the change counter.
SCHEDULER_POLL_INTERVAL = 0.25
# The model the guide's strategy API starts and stops (like AUTH_USER_MODEL), so the
# scheduler app never imports the strategies app.
SCHEDULER_STRATEGY_MODEL = "strategies.Strategy"
# Diagnostic tasks (`probe`: sleeps, fails or kills its own process on demand) are offered
# only where this is on: the test suite, the fault suite and the benchmarks.
SCHEDULER_DIAGNOSTIC_TASKS = _strict_bool("SCHEDULER_DIAGNOSTIC_TASKS", False)

# --- Redis: Celery's broker and, when set, Django's cache -------------------------------
REDIS_URL = env.str("REDIS_URL", default="").strip()
# For rediss:// URLs: how the server's certificate is checked. Heroku Redis presents a
# self-signed certificate, so there is no safe default: `manage.py check` asks for one of
# required, optional or none (scheduler.E007).
REDIS_SSL_CERT_REQS = env.str("REDIS_SSL_CERT_REQS", default="").strip().lower()
_redis_ssl = None
if REDIS_URL.startswith("rediss://") and REDIS_SSL_CERT_REQS in {"required", "optional", "none"}:
    _redis_ssl = {
        "ssl_cert_reqs": {
            "required": ssl.CERT_REQUIRED,
            "optional": ssl.CERT_OPTIONAL,
            "none": ssl.CERT_NONE,
        }[REDIS_SSL_CERT_REQS]
    }
# Every Redis call from a web request is bounded: a Redis that is down or paused costs a
# request at most these seconds, never a hang.
REDIS_TIMEOUT = 3

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
                "health_check_interval": 30,
                **(_redis_ssl or {}),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery (SCHEDULER_BACKEND=celery): altar/celery.py reads the CELERY_* names ------------
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_USE_SSL = _redis_ssl
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
# No result backend: `JobRun` is the run history.
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Worker processes per `worker` dyno. Celery's default is the CPU count, which a Heroku
# dyno reports as 8: 16 database connections from one dyno (see the README's budget).
CELERY_WORKER_CONCURRENCY = _int("CELERY_WORKER_CONCURRENCY", 2)
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1000
# Heroku stops a dyno with SIGTERM to every process and SIGKILL 30 s later. The Procfile
# sets REMAP_SIGTERM=SIGQUIT, Celery's setting for this: pool processes ignore SIGTERM
# (they would die at once, mid-run), and the worker lets running tasks finish for the
# scheduler's grace, then cancels them (each run is recorded interrupted) and hands their
# messages back to Redis, where the new dyno's worker takes them over as the next attempt.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = (
    SCHEDULER_SHUTDOWN_GRACE if isinstance(SCHEDULER_SHUTDOWN_GRACE, int) else 25
)
# Celery's Django fixup closes every database connection around every task unless told to
# reuse them: a new PostgreSQL connection per run cost 10-30 ms and capped a worker at a
# few dozen runs a second. Connections are reused as in the other processes
# (`CONN_MAX_AGE`, and the execution path's health check); a worker child is replaced
# after 1000 tasks anyway.
CELERY_DB_REUSE_MAX = CELERY_WORKER_MAX_TASKS_PER_CHILD
# Each run message carries its schedule's timeout as its own soft limit (the run is then
# recorded as timed out); these are the ceilings for anything else.
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 29 * 60
# At-least-once delivery: a message is acknowledged after its run, and requeued when the
# worker process running it dies. The run's claim makes each slot complete at most once.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# All three queues are declared, so a plain `celery -A altar worker` consumes every one;
# split layouts start workers with -Q (see the README).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue("default"), Queue("market_data"), Queue("strategies")]
# Redis restores a message that was delivered but not acknowledged after this many
# seconds. It is what brings back the messages of a worker whose main process died, so it
# is kept short (5 minutes: inside the daily jobs' one-hour grace, so their slots still
# run). A run that outlasts it is delivered again while still going; that copy finds the
# claim alive (fresh heartbeat) and does nothing, so the short timeout costs a no-op, not
# a second run.
CELERY_VISIBILITY_TIMEOUT = _int("CELERY_VISIBILITY_TIMEOUT", 300)
REDIS_POLL_SECONDS = _int("REDIS_POLL_SECONDS", 5)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # How often a worker looks for messages past the visibility timeout: a tenth of it,
    # at most every 30 s. Kombu's own default looks every 100 s (10 s, throttled to one
    # look in 10), so a dead worker's messages came back up to 100 s after the timeout.
    "unacked_restore_interval": max(1, min(30, CELERY_VISIBILITY_TIMEOUT // 10)),
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": REDIS_TIMEOUT,
    # Bounds a publish or a ping to a Redis that accepts connections but does not answer
    # (paused, overloaded); a worker's blocking reads wait at most 1 s, well inside it.
    "socket_timeout": 10,
    "socket_keepalive": True,
    # Hosted Redis (Upstash, Heroku) drops idle connections: check before reuse.
    "health_check_interval": 25,
    "retry_on_timeout": True,
    # How long an idle worker's BRPOP waits before asking again. A message still arrives
    # at once; an idle worker sends 12 commands a minute instead of 60 (hosted Redis such
    # as Upstash bills per command). A stopping worker waits for it: kept short.
    "polling_interval": REDIS_POLL_SECONDS,
}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "scheduler.backends.celery.beat:HubScheduler"
# The hub's one task (`scheduler.run_job`); the apps' own `tasks.py` are autodiscovered.
CELERY_IMPORTS = ["scheduler.backends.celery.tasks"]
# Keep Django's LOGGING (one line per event, to stdout) in workers and beat.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False

# --- Logging: one line per event, to stdout (Heroku's log router reads it) ----------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").strip().upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s [%(name)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # APScheduler's own per-run lines duplicate ours ("Running job ...").
        # ccxt logs every request's headers (an exchange API key among them) at DEBUG.
        "ccxt": {"level": "WARNING"},
        "apscheduler.executors": {"level": "WARNING"},
        "apscheduler.scheduler": {"level": "WARNING"},
    },
}

# --- Market data -------------------------------------------------------------------------
# Where candles come from: `simulated` (offline, deterministic; the default), `replay` (CSV
# files in MARKET_DATA_REPLAY_DIR) or `ccxt` (the real exchanges enabled in admin).
MARKET_DATA_PROVIDER = env.str("MARKET_DATA_PROVIDER", default="simulated").strip().lower()
MARKET_DATA_REPLAY_DIR = env.str("MARKET_DATA_REPLAY_DIR", default=str(BASE_DIR / "replay"))
# Candles fetched for a symbol and timeframe that has none stored yet.
MARKET_DATA_LOOKBACK_CANDLES = _int("MARKET_DATA_LOOKBACK_CANDLES", 500)
# Symbols fetched at once per collection run (each exchange also applies its rate limit).
MARKET_DATA_CONCURRENCY = _int("MARKET_DATA_CONCURRENCY", 8)
# Network and rate-limit errors: tries per request, and the first backoff (doubled each time).
MARKET_DATA_RETRIES = _int("MARKET_DATA_RETRIES", 3)
# Seconds a strategy's save waits for an exchange's market list to check its symbol.
MARKET_DATA_LISTING_TIMEOUT = _int("MARKET_DATA_LISTING_TIMEOUT", 5)
try:
    MARKET_DATA_RETRY_BACKOFF = float(env.str("MARKET_DATA_RETRY_BACKOFF", default="1.0"))
except ValueError:
    raise ImproperlyConfigured("MARKET_DATA_RETRY_BACKOFF must be a number of seconds") from None
# Candles older than this are deleted by cleanup_old_data; run history after its own period.
MARKET_DATA_RETENTION_DAYS = _int("MARKET_DATA_RETENTION_DAYS", 365)
RUN_HISTORY_RETENTION_DAYS = _int("RUN_HISTORY_RETENTION_DAYS", 30)
# Rows deleted per transaction by cleanup_old_data.
CLEANUP_BATCH_SIZE = _int("CLEANUP_BATCH_SIZE", 5000)
# Keys for exchange credentials at rest (Fernet keys, comma-separated, newest first: the
# first encrypts, all decrypt, so a key can be rotated without losing stored credentials).
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])
# The recorded candles and exchange responses the tests replay (never shipped).
# By default the folder next to the checkout (../shared/data), else where the team's
# machines keep it (a clean clone elsewhere, as CI makes, still finds it).
_shared_data = [BASE_DIR.parent / "shared" / "data", Path("/work/shared/data")]
SHARED_DATA_DIR = env.str(
    "SHARED_DATA_DIR", default=str(next((p for p in _shared_data if p.is_dir()), _shared_data[0]))
)
# health_check calls a series stale when its newest candle closed more than two timeframes
# plus this many seconds ago (the collection interval, 10 minutes, plus slack).
MARKET_DATA_FRESHNESS_GRACE = _int("MARKET_DATA_FRESHNESS_GRACE", 900)

# --- Strategies --------------------------------------------------------------------------
# Closes an algorithm reads for each decision (the window ends at the candle judged; a live
# run and a backtest use the same window, so they decide alike).
STRATEGY_HISTORY_CANDLES = _int("STRATEGY_HISTORY_CANDLES", 500)
# Closed candles a run judges at most when it is behind (after downtime); older ones are
# left without a signal rather than traded late.
STRATEGY_CATCH_UP_CANDLES = _int("STRATEGY_CATCH_UP_CANDLES", 50)

# --- Job status pages, API tokens, /healthz, /metrics and alerts -------------------------
# The bearer token Prometheus sends to /metrics. Unset, /metrics refuses every scrape
# rather than exposing the figures to anyone.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# One `job_executions_total` series per strategy (job_name="strategy_<id>") instead of all
# strategies together under job_name="strategy": only for a handful of strategies, since
# every series costs Prometheus memory.
METRICS_PER_STRATEGY = _strict_bool("METRICS_PER_STRATEGY", False)
# A job is "failing" after this many failed (or timed out, or interrupted) runs in a row.
SCHEDULER_FAILING_AFTER = _int("SCHEDULER_FAILING_AFTER", 3)
# How often (seconds) the scheduler looks for late jobs.
SCHEDULER_HEALTH_EVERY = _int("SCHEDULER_HEALTH_EVERY", 30)
# Mail the admins (ADMINS: comma-separated addresses) once per change of a job's health.
SCHEDULER_ALERTS = _strict_bool("SCHEDULER_ALERTS", True)
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
SERVER_EMAIL = env.str("SERVER_EMAIL", default="altar@localhost")
# /jobs/ reloads itself this often (seconds).
SCHEDULER_PAGE_REFRESH = max(1, _int("SCHEDULER_PAGE_REFRESH", 10))
