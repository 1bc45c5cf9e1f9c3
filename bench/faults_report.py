"""The fault report: run the fault suite (tests/faults) and print, per fault, the slots
expected, run, missed by policy, duplicated and lost, and the recovery time.

Each fault test records its figures from the probe ledger (the `fault_report` fixture,
through FAULTS_REPORT). The suite runs twice, as `make test` does: on PostgreSQL (every
fault but SQLite's) and on SQLite (fault 16). Faults whose behaviour an earlier issue built
are tested where it was built (`tests/faults/catalogue.py`); those tests run too, and
record their figures where they count slots.

    .venv/bin/python bench/faults_report.py [--format table|json] \\
        [--database-url postgres://postgres@127.0.0.1:5432/altar_faults]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.faults.catalogue import FAULTS, TESTED_ELSEWHERE  # noqa: E402


def run_pytest(database_url: str, targets: list[str], rows_file: str, junit: str) -> None:
    """Run `targets` with the fault rows appended to `rows_file`; failures show in the
    table, so the exit status is not checked here."""
    env = dict(os.environ, DATABASE_URL=database_url, FAULTS_REPORT=rows_file)
    env.setdefault("SECRET_KEY", "tests-only-not-a-secret")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += [f"--junitxml={junit}", *targets]
    subprocess.run(command, cwd=ROOT, env=env, stdout=sys.stderr, check=False)


def outcomes(junit: str) -> dict[str, str]:
    """{node id: passed | failed | skipped} from a JUnit XML report."""
    found = {}
    if not Path(junit).exists():
        return found
    for case in ET.parse(junit).iter("testcase"):
        node = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
        if case.find("failure") is not None or case.find("error") is not None:
            found[node] = "failed"
        elif case.find("skipped") is not None:
            found.setdefault(node, "skipped")
        else:
            found[node] = "passed"
    return found


DATABASES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
NOTES_SHOWN = 4  # more distinct notes than this (one per hostile case) are summed up


def summarise(rows: list[dict], results: dict[str, str], faults: list[int]) -> list[dict]:
    """One line per fault and database it ran on: its figures summed over its tests, the
    worst recovery time, and the tests' outcome (failed if any failed)."""
    groups = defaultdict(list)
    for row in rows:
        groups[(row["fault"], row.get("database", ""))].append(row)
    lines = []
    for fault in faults:
        databases = [db for db in DATABASES if (fault, db) in groups] or [""]
        for database in databases:
            lines.append(line(fault, database, groups.get((fault, database), []), results))
    return lines


def line(fault: int, database: str, recorded: list[dict], results: dict[str, str]) -> dict:
    tests = sorted({row["test"] for row in recorded} | set(TESTED_ELSEWHERE.get(fault, [])))
    recoveries = [row["recovery"] for row in recorded if row.get("recovery") is not None]
    notes = list(dict.fromkeys(row["note"] for row in recorded if row.get("note")))
    if len(notes) > NOTES_SHOWN:
        notes = [f"{len(notes)} cases, each its own row (--format json)"]
    return {
        "fault": fault,
        "name": FAULTS[fault] + (f" ({DATABASES[database]})" if database else ""),
        "expected": total(recorded, "expected"),
        "ran": total(recorded, "ran"),
        "missed": total(recorded, "missed"),
        "duplicates": sum(len(row.get("duplicates", [])) for row in recorded),
        "lost": sum(len(row.get("lost", [])) for row in recorded),
        "recovery_s": round(max(recoveries), 2) if recoveries else None,
        "result": result({results.get(node, "not run") for node in tests}),
        "tests": tests,
        "notes": "; ".join(notes),
    }


def result(states: set[str]) -> str:
    """A fault's result from its tests' outcomes: failed if any failed, not run if none
    ran (a collection error, or no test for it)."""
    if "failed" in states:
        return "failed"
    ran = states - {"not run"}
    return ", ".join(sorted(ran)) if ran else "not run"


def total(rows: list[dict], key: str) -> int | None:
    return sum(row.get(key, 0) for row in rows) if rows else None


def unrecorded_failures(rows: list[dict], results: dict[str, str]) -> list[str]:
    """Fault tests that failed before recording their figures (so no line names them)."""
    recorded = {row["test"] for row in rows}
    return sorted(
        node
        for node, state in results.items()
        if state == "failed" and node.startswith("tests/faults/") and node not in recorded
    )


def table(lines: list[dict]) -> str:
    def cell(value):
        return "—" if value is None else str(value)

    head = "| # | fault | runs expected | ran | missed by policy | duplicates | lost "
    head += "| recovery (s) | result | notes |\n|---|---|---|---|---|---|---|---|---|---|\n"
    body = ""
    for line in lines:
        notes = line["notes"] or (
            "tested in " + ", ".join(line["tests"]) if line["tests"] else "no test recorded"
        )
        body += (
            f"| {line['fault']} | {line['name']} | {cell(line['expected'])} | {cell(line['ran'])} "
            f"| {cell(line['missed'])} | {line['duplicates']} | {line['lost']} "
            f"| {cell(line['recovery_s'])} | {line['result']} | {notes} |\n"
        )
    return head + body


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--faults", type=int, nargs="*", default=sorted(FAULTS), help="lines to show"
    )
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/altar_faults")
    args = parser.parse_args()
    elsewhere = [node for f in args.faults for node in TESTED_ELSEWHERE.get(f, [])]
    with tempfile.TemporaryDirectory(prefix="altar-faults-") as scratch:
        rows_file = f"{scratch}/rows.jsonl"
        results = {}
        passes = ((args.database_url, elsewhere), ("", []))  # PostgreSQL, then SQLite
        for number, (database_url, extra) in enumerate(passes):
            junit = f"{scratch}/junit-{number}.xml"
            run_pytest(database_url, ["tests/faults", *extra], rows_file, junit)
            for node, state in outcomes(junit).items():
                if state == "failed" or results.get(node) in (None, "skipped"):
                    results[node] = state
        rows = []
        if Path(rows_file).exists():
            rows = [json.loads(line) for line in Path(rows_file).read_text().splitlines()]
    lines = summarise(rows, results, args.faults)
    failures = unrecorded_failures(rows, results)
    if args.format == "json":
        report = {"faults": lines, "rows": rows, "failed_before_recording": failures}
        print(json.dumps(report, indent=2))
    else:
        print(table(lines))
        for node in failures:
            print(f"failed before recording its figures: {node}")
    if any(line["result"] in ("failed", "not run") for line in lines) or failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
