"""`/metrics`: Prometheus figures read from the database, behind a bearer token.

On Heroku each scrape may reach a different dyno and dynos share no disk, so nothing is
counted in process memory: the figures are the per-job counters (`JobCounter`) every run
adds to, plus gauges read from the schedules and the scheduler state. Every process
answers with the same totals.

Labels stay bounded: built-in jobs by name; strategies together as
`job_name="strategy"`, unless `METRICS_PER_STRATEGY` asks for one series each.
"""

from __future__ import annotations

import hmac
import math
from collections import defaultdict

from django.conf import settings
from django.db.models import Case, CharField, F, Sum, Value, When
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .. import registry
from ..models import JobCounter, JobRun, Schedule, SchedulerState
from ..runs import counters

STRATEGY_LABEL = "strategy"
OTHER_LABEL = "other"


def job_name_expression():
    """The `job_name` label of a counter row, as SQL, from a bounded set: a built-in job
    by its name; every strategy's job as "strategy" (one series each only when
    `METRICS_PER_STRATEGY` asks); any other schedule (added in admin, probes) as
    "other", so a thousand probes never make a thousand series."""
    strategies = F("job_id") if settings.METRICS_PER_STRATEGY else Value(STRATEGY_LABEL)
    return Case(
        When(
            job_id__in=[builtin.job_id for builtin in registry.BUILTIN_SCHEDULES],
            then=F("job_id"),
        ),
        When(job_id__startswith=registry.STRATEGY_JOB_PREFIX, then=strategies),
        default=Value(OTHER_LABEL),
        output_field=CharField(),
    )


def _histogram(name: str, doc: str, bounds: tuple, per_job: dict) -> HistogramMetricFamily:
    """Cumulative buckets from the stored per-bucket rows; the sum is their totals'."""
    family = HistogramMetricFamily(name, doc, labels=["job_name"])
    for job, per_bucket in sorted(per_job.items()):
        cumulative, buckets = 0.0, []
        for bound in bounds:
            cumulative += per_bucket.get(counters.bucket_label(bound), (0.0, 0.0))[0]
            label = "+Inf" if bound == math.inf else str(float(bound))
            buckets.append((label, cumulative))
        total = sum(seconds for _, seconds in per_bucket.values())
        family.add_metric([job], buckets, sum_value=total)
    return family


class DatabaseCollector:
    """Builds every metric from a few queries at scrape time."""

    def collect(self):
        runs = defaultdict(float)
        missed_slots = defaultdict(float)
        duplicates = defaultdict(float)
        histograms = {counters.DURATION: defaultdict(dict), counters.LAG: defaultdict(dict)}
        # Folded into bounded label sets and summed by the database: ten thousand
        # strategies are one group of rows, not ten thousand.
        rows = (
            JobCounter.objects.annotate(job_name=job_name_expression())
            .values_list("job_name", "name", "label")
            .annotate(count=Sum("value"), seconds=Sum("total"))
            .order_by()
        )
        for job, name, label, count, seconds in rows:
            if name == counters.RUNS:
                runs[(job, label)] += count
            elif name == counters.MISSED_SLOTS:
                missed_slots[job] += count
            elif name == counters.DUPLICATES:
                duplicates[job] += count
            elif name in histograms:
                # label = the bucket's upper bound; (count, seconds) that fell in it
                histograms[name][job][label] = (count, seconds)

        executions = CounterMetricFamily(
            "job_executions",
            "Runs that ended, by job and status (missed records and skipped slots included).",
            labels=["job_name", "status"],
        )
        for (job, status), value in sorted(runs.items()):
            executions.add_metric([job, status], value)
        yield executions

        missed = CounterMetricFamily(
            "job_missed_slots",
            "Slots recorded missed (late, coalesced or while stopped).",
            labels=["job_name"],
        )
        for job, value in sorted(missed_slots.items()):
            missed.add_metric([job], value)
        yield missed

        suppressed = CounterMetricFamily(
            "job_duplicates_suppressed",
            "Slots fired again while already claimed: not run twice.",
            labels=["job_name"],
        )
        for job, value in sorted(duplicates.items()):
            suppressed.add_metric([job], value)
        yield suppressed

        yield _histogram(
            "job_duration_seconds",
            "How long runs took, by job.",
            counters.DURATION_BUCKETS,
            histograms[counters.DURATION],
        )
        yield _histogram(
            "job_start_lag_seconds",
            "From a slot's time to its run's start (first attempts).",
            counters.LAG_BUCKETS,
            histograms[counters.LAG],
        )

        active = GaugeMetricFamily(
            "scheduler_active_schedules", "Enabled schedules.", labels=["kind"]
        )
        enabled = Schedule.objects.filter(enabled=True)
        strategies = enabled.filter(job_id__startswith=registry.STRATEGY_JOB_PREFIX).count()
        active.add_metric(["strategy"], strategies)
        active.add_metric(["builtin"], enabled.count() - strategies)
        yield active

        running = GaugeMetricFamily("job_runs_in_progress", "Runs going right now.")
        running.add_metric([], JobRun.objects.filter(status=JobRun.RUNNING).count())
        yield running

        state = SchedulerState.get()
        alive = state.holder_alive()
        leader = GaugeMetricFamily(
            "scheduler_leader",
            "1 when a process holds the scheduler lock and its heartbeat is fresh.",
            labels=["backend"],
        )
        leader.add_metric([settings.SCHEDULER_BACKEND], 1 if alive else 0)
        yield leader
        if state.holder_seen_at:
            age = GaugeMetricFamily(
                "scheduler_leader_heartbeat_age_seconds",
                "Seconds since the lock holder's heartbeat.",
            )
            age.add_metric([], (timezone.now() - state.holder_seen_at).total_seconds())
            yield age


def _refuse(message: str, status: int) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@never_cache
def metrics(request):
    """The Prometheus text format; `Authorization: Bearer $METRICS_TOKEN` required. With
    no token configured the endpoint refuses every scrape rather than open up."""
    if request.method != "GET":
        return _refuse("GET only", 405)
    expected = settings.METRICS_TOKEN
    if not expected:
        return _refuse("metrics are disabled: set METRICS_TOKEN", 403)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        return _refuse("a valid bearer token is required", 401)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
