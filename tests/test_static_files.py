"""Static files after `collectstatic`: no false "run collectstatic" warning when
whitenoise probes names that exist nowhere (as `make run` used to print right after
collecting), and the warning still comes for a real file missing from the manifest."""

import logging

import pytest
from django.core.management import call_command

from altar.static_storage import HashedStaticFilesStorage


@pytest.fixture
def collected(tmp_path, settings):
    settings.STATIC_ROOT = str(tmp_path)
    call_command("collectstatic", "--noinput", verbosity=0)
    storage = HashedStaticFilesStorage(location=str(tmp_path))
    storage.hashed_files = {
        name: hashed for name, hashed in storage.hashed_files.items() if "pages.css" not in name
    }
    return storage


def test_only_real_files_missing_from_the_manifest_are_reported(collected, caplog):
    with caplog.at_level(logging.WARNING, logger="altar.static"):
        assert collected.stored_name("admin/js/jquery.js") == "admin/js/jquery.js"
        assert collected.stored_name("scheduler/pages.css") == "scheduler/pages.css"
        assert collected.stored_name("admin/css/base.css") != "admin/css/base.css"  # hashed
    assert [record.getMessage() for record in caplog.records] == [
        "Static file scheduler/pages.css is not in the manifest: run collectstatic"
    ]
