"""The contract every scheduler engine fulfils."""

from __future__ import annotations


class SchedulerBackend:
    """Runs the `Schedule` rows on one engine, in the one process that owns the engine.

    The engine only fires: every run goes through `scheduler.execution.run_job(job_id,
    slot=...)` with a slot computed by `scheduler.slots`.
    """

    name = ""

    def __init__(self, guard=None):
        """`guard()` says whether this process still holds the scheduler lock; an engine
        asks it before each dispatch."""
        self.guard = guard

    def start(self) -> None:
        """Start firing jobs, after projecting every enabled schedule into the engine."""
        raise NotImplementedError

    def reconcile(self, full: bool = True) -> list[str]:
        """Make the engine match the `Schedule` rows (all of them, or those changed since
        the last reconcile); return one line per change made."""
        raise NotImplementedError

    def stop_firing(self) -> None:
        """Stop dispatching at once (the lock was lost); running jobs carry on."""
        raise NotImplementedError

    def housekeeping(self) -> None:
        """Periodic upkeep of the engine's own state; the runner calls it every turn."""

    def redeliver(self, job_id: str, slot) -> None:
        """Run (job, slot) again through `run_job`, which takes over the claim as the next
        attempt when its owner died (the reaper calls this)."""
        raise NotImplementedError

    def shutdown(self, grace: float) -> int:
        """Stop firing, give running jobs `grace` seconds to finish; return how many
        were still running when the grace ran out."""
        raise NotImplementedError
