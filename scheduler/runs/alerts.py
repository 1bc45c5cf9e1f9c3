"""Alerts: one mail to the admins (`ADMINS`, Django's `mail_admins`) per change of a
job's health. Nothing is sent while `ADMINS` is empty; with addresses set, the default
console backend prints the mails to the log, and an SMTP `EMAIL_BACKEND` sends them."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import mail_admins

logger = logging.getLogger("scheduler")


# Mails one look for late jobs sends one by one; past this, the rest go in one summary,
# so an outage that makes ten thousand strategies late is not ten thousand sends from the
# scheduler's health thread.
SEPARATE_MAILS_PER_LOOK = 10


def state_changed(job_id: str, old: str, new: str, reason: str) -> None:
    """Tell the admins that `job_id` went from `old` to `new`. A mail failure is logged:
    it must never fail the run or the bookkeeping that noticed the change."""
    _log(job_id, old, new, reason)
    subject = f"Job {job_id} is {new}" + (" again" if new == "ok" else "")
    _mail(subject, f"Job {job_id} changed from {old} to {new}.\n\n{reason}\n")


def states_changed(changes: list[tuple[str, str, str, str]]) -> None:
    """The changes one look found, as (job id, old, new, reason): a mail each, up to
    `SEPARATE_MAILS_PER_LOOK`, then one mail listing the others."""
    for change in changes[:SEPARATE_MAILS_PER_LOOK]:
        state_changed(*change)
    rest = changes[SEPARATE_MAILS_PER_LOOK:]
    if not rest:
        return
    for change in rest:
        _log(*change)
    lines = "\n".join(f"{job_id}: {old} -> {new}: {reason}" for job_id, old, new, reason in rest)
    _mail(f"{len(rest)} more jobs changed health", f"{lines}\n")


def no_scheduler(outage: str) -> None:
    """Tell the admins that no scheduler runs (once per outage: see `web/outage.py`)."""
    logger.error("%s", outage)
    _mail("No scheduler is running", f"{outage}\n")


def _log(job_id: str, old: str, new: str, reason: str) -> None:
    log = logger.info if new == "ok" else logger.warning
    log("Job %s is %s (was %s): %s", job_id, new, old, reason)


def _mail(subject: str, body: str) -> None:
    if not settings.SCHEDULER_ALERTS:
        return
    try:
        mail_admins(subject, body, fail_silently=False)
    except Exception:
        logger.exception("Could not mail the admins: %s", subject)
