"""A dead scheduler is mailed to the admins once, by the first web request that notices.

When the scheduler dies nothing of its own can say so; the web processes can. Each looks
at most every `CHECK_EVERY` seconds, as part of whatever request it is answering (an
uptime monitor's `/healthz` probe is enough), and the first to see the outage claims it
with a conditional update keyed on the dead holder's last heartbeat: one mail per outage,
whatever the number of processes. A hub that gets no requests at all is noticed only by
whoever monitors `/healthz`.
"""

from __future__ import annotations

import logging
import time

from ..models import SchedulerState
from ..runs import alerts

logger = logging.getLogger("scheduler")

CHECK_EVERY = 5.0  # seconds between one process's looks


class OutageWatch:
    def __init__(self, get_response):
        self.get_response = get_response
        self.looked_at = float("-inf")

    def __call__(self, request):
        now = time.monotonic()
        if now - self.looked_at >= CHECK_EVERY:
            self.looked_at = now
            try:
                notice()
            except Exception:  # the watch never fails the request it rides on
                logger.exception("Could not check whether a scheduler runs")
        return self.get_response(request)


def notice() -> bool:
    """Mail the outage if a scheduler that ran is dead and nobody mailed it yet; True
    when this call sent it."""
    state = SchedulerState.get()
    outage = state.outage()
    if outage is None or state.holder_seen_at is None:
        return False  # running, or none ever ran (a fresh hub is not an outage)
    claimed = (
        SchedulerState.objects.filter(pk=1, holder_seen_at=state.holder_seen_at)
        .exclude(outage_alerted_for=state.holder_seen_at)
        .update(outage_alerted_for=state.holder_seen_at)
    )
    if claimed:
        alerts.no_scheduler(outage)
    return bool(claimed)
