"""What Django's error reports (the mail to ADMINS, the debug page) show of the settings.

Django's filter hides the values of settings whose names look secret (KEY, SECRET,
PASS, TOKEN...). Connection URLs are named like anything else (REDIS_URL,
CELERY_BROKER_URL, a cache's LOCATION) yet carry passwords: this filter also masks the
password inside every URL it shows, whatever the setting's name.
"""

import re

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host -> scheme://user:********@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.I)


def mask_url_passwords(text: str) -> str:
    return _URL_PASSWORD.sub(rf"\g<head>{SafeExceptionReporterFilter.cleansed_substitute}", text)


class SecretsFilter(SafeExceptionReporterFilter):
    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if isinstance(value, str):
            return mask_url_passwords(str(value))
        return value
