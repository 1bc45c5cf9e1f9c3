"""System checks: a market-data setting that cannot work fails `manage.py check` with an id
and a hint, instead of every collection run failing later."""

from django.conf import settings
from django.core import checks

from .crypto import CredentialsError, _fernet
from .providers import PROVIDERS


@checks.register()
def check_market_data_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if settings.MARKET_DATA_PROVIDER not in PROVIDERS:
        errors.append(
            checks.Error(
                f"MARKET_DATA_PROVIDER is {settings.MARKET_DATA_PROVIDER!r}.",
                hint=f"Use one of: {', '.join(PROVIDERS)}.",
                id="market_data.E001",
            )
        )
    if settings.FIELD_ENCRYPTION_KEY:
        try:
            _fernet()
        except CredentialsError as exc:
            errors.append(
                checks.Error(
                    str(exc).capitalize() + ".",
                    hint="Generate a key with cryptography's Fernet.generate_key().",
                    id="market_data.E002",
                )
            )
    return errors
