"""Validators of the schedule's fields, named by the migrations (`scheduler.models.…`)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

from .. import registry
from ..slots import CronError, parse_cron_field, zone


def validate_task_name(value: str) -> None:
    try:
        registry.declaration(value)
    except ValueError as exc:
        raise ValidationError(str(exc).capitalize() + ".") from None


def validate_timezone(value: str) -> None:
    try:
        zone(value)
    except ValueError as exc:
        raise ValidationError(str(exc).capitalize() + ".") from None


def queue_names() -> list[str]:
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


def validate_queue(value: str) -> None:
    """Only a declared queue: a message sent to any other would wait for a worker that
    never comes (a plain `celery -A altar worker` consumes the declared ones)."""
    if value not in queue_names():
        raise ValidationError(
            f"Unknown queue {value!r}; choose one of: {', '.join(queue_names())}."
        )


@deconstructible
class CronFieldValidator:
    """Refuses a cron field that does not parse or is out of range for its position."""

    def __init__(self, field: str):
        self.field = field

    def __call__(self, value: str) -> None:
        try:
            parse_cron_field(value, self.field)
        except CronError as exc:
            raise ValidationError(str(exc).capitalize() + ".") from None

    def __eq__(self, other) -> bool:
        return isinstance(other, CronFieldValidator) and other.field == self.field
