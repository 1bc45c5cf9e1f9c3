"""Alerts: one mail to the admins (`ADMINS`, Django's `mail_admins`) per change of a
job's health. Nothing is sent while `ADMINS` is empty; with addresses set, the default
console backend prints the mails to the log, and an SMTP `EMAIL_BACKEND` sends them."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import mail_admins

logger = logging.getLogger("scheduler")


def state_changed(job_id: str, old: str, new: str, reason: str) -> None:
    """Tell the admins that `job_id` went from `old` to `new`. A mail failure is logged:
    it must never fail the run or the bookkeeping that noticed the change."""
    log = logger.info if new == "ok" else logger.warning
    log("Job %s is %s (was %s): %s", job_id, new, old, reason)
    if not settings.SCHEDULER_ALERTS:
        return
    subject = f"Job {job_id} is {new}" + (" again" if new == "ok" else "")
    body = f"Job {job_id} changed from {old} to {new}.\n\n{reason}\n"
    try:
        mail_admins(subject, body, fail_silently=False)
    except Exception:
        logger.exception("Could not mail the admins about %s", job_id)
