"""Static files: whitenoise's compressed, hashed storage, usable before collectstatic.

Hashed names come from the manifest `collectstatic` writes (Heroku's build runs it, as
does `make run`). Django's manifest storage fails every page that links a file missing
from the manifest, and every page when there is no manifest at all (the test suite, a
fresh checkout). This one falls back to the plain name instead, which `runserver` and
the test server still serve; when a manifest exists but lacks a file that exists, it
also logs that collectstatic is due, once per file.
"""

import logging

from django.contrib.staticfiles import finders
from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger("altar.static")


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._reported: set[str] = set()

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            if self.hashed_files and name not in self._reported:
                self._reported.add(name)
                # Whitenoise asks for names that exist nowhere (`jquery.init.js` read as a
                # hashed `jquery.js`): only a real file missing from the manifest means
                # collectstatic is due.
                if finders.find(name):
                    logger.warning("Static file %s is not in the manifest: run collectstatic", name)
            return name
