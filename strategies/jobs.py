"""The job every `strategy_<id>` schedule runs, and what a finished run leaves behind."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from scheduler import registry

from . import autostop, trading
from .models import Strategy


def run_strategy(strategy_id: int, job_id: str) -> str:
    """One run of a strategy: fresh candles, a signal per new closed candle, paper fills
    (see `trading.run`). Returns the one-line summary the run record keeps; a failure
    (bad parameters, candles that cannot be fetched) raises, so the run is recorded failed.

    Only under the strategy's own job id: a row edited behind the forms' back to run
    someone else's strategy fails instead of trading on their account."""
    if job_id != registry.strategy_job_id(strategy_id):
        raise PermissionError(f"job {job_id} may not run strategy {strategy_id}")
    strategy = Strategy.objects.get(pk=strategy_id)
    return f"{strategy.name}: {trading.run(strategy)}"


def run_finished_receiver(
    sender, job_id: str, slot: datetime, status: str, summary: str, **kwargs
) -> None:
    """`scheduler.signals.run_finished` → the strategy's run outcome and failure count."""
    strategy_id = registry.strategy_id_of(job_id)
    if strategy_id is not None:
        autostop.record_outcome(strategy_id, status, summary, timezone.now())
