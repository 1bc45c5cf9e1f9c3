"""Signals other apps listen to, so the scheduler never imports them.

`run_finished` is sent once per run that ended with an outcome (succeeded, failed or
timed out, after its last attempt), after the outcome is committed. Receivers get
`job_id`, `task`, `slot`, `status` and `summary`; an error in one is logged, never the
run's.
"""

from django.dispatch import Signal

run_finished = Signal()
