"""How far a moment is from now, in words a person reads at a glance: seconds under a
minute (a 15 s job's runs would all be "0 minutes" ago), Django's wording beyond."""

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

register = template.Library()


@register.filter
def until(moment) -> str:
    seconds = (moment - timezone.now()).total_seconds()
    if seconds < 1:
        return "due now"
    if seconds < 60:
        return f"in {seconds:.0f} s"
    return f"in {timeuntil(moment)}"


@register.filter
def ago(moment) -> str:
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 60:
        return f"{max(seconds, 0):.0f} s ago"
    return f"{timesince(moment)} ago"
