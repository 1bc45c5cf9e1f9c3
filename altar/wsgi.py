"""WSGI entry point. It also starts the in-web scheduler (the guide's "tutto nel web dyno").

The scheduler starts here, not in `AppConfig.ready()`, so `migrate`, `shell`, tests and the
autoreloader's parent never start one: only a process that serves the web does.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "altar.settings")

application = get_wsgi_application()

from scheduler.backends import autostart_in_web  # noqa: E402  (needs apps loaded)

autostart_in_web()
