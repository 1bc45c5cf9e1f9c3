"""The README's commands as typed: every `manage.py` command, bench script and `celery`
subcommand its shell blocks name exists in this checkout and answers `--help` through the
project's own environment (the first thing a newcomer's typo-free copy would hit)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import support

README = Path(__file__).resolve().parent.parent / "README.md"
ROOT = README.parent


def commands() -> list[list[str]]:
    """One `--help` call per distinct command the README's ```bash blocks run."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    found = {}
    for line in "\n".join(blocks).splitlines():
        line = line.split("#", 1)[0].strip()
        if match := re.match(r"\.venv/bin/python manage\.py (\w+)", line):
            found[match[0]] = [sys.executable, "manage.py", match[1], "--help"]
        elif match := re.match(r"\.venv/bin/python (bench/\w+\.py)", line):
            found[match[0]] = [sys.executable, match[1], "--help"]
        elif match := re.match(r"\.venv/bin/celery -A altar (\w+)", line):
            celery = str(Path(sys.executable).with_name("celery"))
            found[match[0]] = [celery, "-A", "altar", match[1], "--help"]
    return list(found.values())


def test_the_readme_names_its_commands_through_the_venv():
    """A bare `python manage.py` or `celery` in a shell block fails outside the venv."""
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", README.read_text(), re.S))
    bare = [
        line
        for line in blocks.splitlines()
        if re.match(r"\s*(python|celery) ", line) and "heroku" not in line
    ]
    assert bare == []
    assert len(commands()) >= 10


@pytest.mark.subprocess
@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c[1:-1]))
def test_each_readme_command_answers_help(command):
    result = subprocess.run(
        command, cwd=ROOT, env=support.subprocess_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage" in result.stdout.lower()
