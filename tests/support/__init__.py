"""What the tests, the fault suite and the benchmarks share, kept out of the product (no
production module imports it): the probe ledger's checks, bounded waits, real
subprocesses pointed at the test database, and private Redis and PostgreSQL servers.

Everything is importable from here: `from tests import support`, then `support.manage(...)`.
"""

from .ledger import duplicates, lost, probe_rows, probe_slots, tally, wait_for_run
from .processes import (
    BASE_DIR,
    Process,
    database_url,
    manage,
    procfile_command,
    subprocess_env,
)
from .servers import PrivatePostgres, RedisServer, celery_worker, free_port, gunicorn
from .waits import in_thread, race, wait_until

__all__ = [
    "BASE_DIR",
    "PrivatePostgres",
    "Process",
    "RedisServer",
    "celery_worker",
    "database_url",
    "duplicates",
    "free_port",
    "gunicorn",
    "in_thread",
    "lost",
    "manage",
    "probe_rows",
    "probe_slots",
    "procfile_command",
    "race",
    "subprocess_env",
    "tally",
    "wait_for_run",
    "wait_until",
]
