"""The market-data provider registry: `MARKET_DATA_PROVIDER` names one of `PROVIDERS`.

Like Django's mail backends: a dict of name → dotted path, and one base class
(`base.MarketDataProvider`) whose methods document the contract.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .base import MarketDataProvider

PROVIDERS: dict[str, str] = {
    "simulated": "market_data.providers.simulated.SimulatedProvider",
    "replay": "market_data.providers.replay.ReplayProvider",
    "ccxt": "market_data.providers.ccxt.CcxtProvider",
}


def provider_class(name: str | None = None) -> type[MarketDataProvider]:
    name = name or settings.MARKET_DATA_PROVIDER
    if name not in PROVIDERS:
        raise ValueError(
            f"unknown market-data provider {name!r}; choose one of {', '.join(PROVIDERS)}"
        )
    return import_string(PROVIDERS[name])


def get_provider(
    exchange_id: str, credentials: dict[str, str] | None = None, name: str | None = None
) -> MarketDataProvider:
    """A provider for `exchange_id`, from the configured (or named) provider class."""
    return provider_class(name)(exchange_id, credentials or {})
