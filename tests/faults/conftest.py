"""The fault suite's folder: every test here is marked `faults` (and `subprocess`). Each
records its figures with the `fault_report` fixture (root conftest.py)."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is marked `faults` (`pytest -m faults` runs the suite)."""
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.subprocess)
