"""Who changed what, in admin's history (`LogEntry`): every start, stop, pause, resume and
"Run now" by a person, whichever surface it came through (admin, status page, API)."""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry


def log_action(user, obj, message: str) -> None:
    """One `LogEntry` (admin → history) for `obj`, by `user`; nothing without a user
    (the guide's Python API, an auto-stop: those are in the log)."""
    if user is None or not user.is_authenticated:
        return
    LogEntry.objects.log_actions(
        user.pk,
        [obj],
        CHANGE,
        change_message=message,
        single_object=True,
    )
