from django.apps import AppConfig


class MarketDataConfig(AppConfig):
    name = "market_data"
    verbose_name = "Market data"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
