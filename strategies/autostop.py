"""The auto-stop: each finished run's outcome is kept on the strategy's paper account with
the count of failed runs in a row, and the strategy stops itself when that count reaches its
`max_failures`.

Fed by the scheduler's `run_finished` signal (see apps.py and jobs.py), after the run's own
outcome is committed: the scheduler imports no other app.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from .models import PaperAccount, Strategy
from .trading import open_account

logger = logging.getLogger(__name__)


def record_outcome(strategy_id: int, status: str, summary: str, at: datetime) -> str | None:
    """Keep a finished run's outcome on the account and count failures in a row; stop the
    strategy when they reach its limit. Returns the reason it was stopped, or None."""
    failed = status in ("failed", "timed_out")
    if not failed:
        # The common case in one statement: a success clears the count.
        done = PaperAccount.objects.filter(strategy_id=strategy_id).update(
            last_run_at=at, last_run_status=status, consecutive_failures=0, updated_at=at
        )
        if done:
            return None
    strategy = Strategy.objects.filter(pk=strategy_id).first()
    if strategy is None:
        return None
    with transaction.atomic():
        account = open_account(strategy, lock=True)  # reopened if reset meanwhile
        account.last_run_at = at
        account.last_run_status = status
        account.consecutive_failures = account.consecutive_failures + 1 if failed else 0
        limit_reached = failed and account.consecutive_failures >= strategy.max_failures
        if limit_reached:
            # Counted afresh if the user starts it again; the reason stays on the strategy.
            account.consecutive_failures = 0
        account.save(
            update_fields=["last_run_at", "last_run_status", "consecutive_failures", "updated_at"]
        )
        if not (limit_reached and strategy.is_active):
            return None
        reason = (
            f"Stopped itself after {strategy.max_failures} failed run"
            f"{'s' if strategy.max_failures != 1 else ''} in a row "
            f"(at {at:%Y-%m-%d %H:%M:%S} UTC); last error: {summary}"
        )
        strategy.stop(via="auto-stop", reason=reason)
    logger.warning("Strategy %s stopped: %s", strategy_id, reason)
    return reason
