"""The fault report's rows: each fault test tallies its slots on the probe ledger and
records them; `bench/faults_report.py` collects the rows (through FAULTS_REPORT) into its
table. The `fault_report` fixture (root conftest.py) hands one to a test, so a test of a
fault built by an earlier issue, outside this folder, can record its figures too."""

import json
import os

from django.db import connection

from tests import support

from .catalogue import FAULTS


class FaultReport:
    """Collects one test's figures from the probe ledger. With `FAULTS_REPORT` set (by
    `bench/faults_report.py`) the rows are appended to that file as JSON lines."""

    def __init__(self, test: str):
        self.test = test
        self.rows: list[dict] = []

    def check_ledger(
        self,
        fault: int,
        job_ids: list[str],
        start,
        end,
        recovery: float | None = None,
        note: str = "",
        using: str = "default",
        context=None,
    ) -> dict:
        """Tally `job_ids` over [start, end], record the row, assert that no slot executed
        twice and none was lost, and return the row (for a test's own checks of its
        figures). The row is recorded first, so a failing test still shows in the report.
        `using` is the database alias holding the ledger (a hub on a private cluster);
        `context()`, if given, is added to a failure (the hub's output, say)."""
        totals = {"expected": 0, "ran": 0, "missed": 0}
        lost = []
        for job_id in job_ids:
            figures = support.tally(job_id, start, end, using)
            for key in totals:
                totals[key] += figures[key]
            lost += [
                f"{job_id} {slot.isoformat()}" for slot in support.lost(job_id, start, end, using)
            ]
        row = dict(totals, duplicates=support.duplicates(job_ids, using), lost=lost)
        self.record(fault, recovery=recovery, note=note, **row)
        detail = f"\n{context()}" if context and (row["duplicates"] or lost) else ""
        assert row["duplicates"] == [], f"slots executed twice: {row['duplicates']}{detail}"
        assert lost == [], f"slots lost: {lost}{detail}"
        return row

    def record(self, fault: int, recovery: float | None = None, note: str = "", **figures):
        """Record a row by hand (for faults measured by something other than slots)."""
        assert fault in FAULTS, f"unknown fault {fault}"
        self.rows.append(
            dict(
                fault=fault,
                database=connection.vendor,  # the test's: the suite runs on both
                test=self.test,
                recovery=recovery,
                note=note,
                **figures,
            )
        )

    def save(self) -> None:
        """Append the rows to FAULTS_REPORT, when the report asked for them."""
        path = os.environ.get("FAULTS_REPORT")
        if path and self.rows:
            with open(path, "a") as out:
                for row in self.rows:
                    out.write(json.dumps(row, default=str) + "\n")
