"""A strategy's market is checked when it is saved: a symbol the exchange does not list is
a field error naming it, with close matches, in admin and the API."""

import pytest
from django.core.exceptions import ValidationError

from market_data import listing
from market_data.models import Exchange, Symbol
from strategies.models import Strategy
from strategies.tests.test_admin_owners import form

pytestmark = pytest.mark.django_db


def test_an_unlisted_symbol_is_refused_in_admin_with_close_matches(staff_client):
    response = staff_client.post("/admin/strategies/strategy/add/", form(symbol="BTC/USTD"))
    errors = response.context["adminform"].form.errors
    assert errors["symbol"] == [
        "simulated does not list BTC/USTD; did you mean BTC/USDT, LTC/USDT, ETC/USDT?"
    ]
    assert not Strategy.objects.exists()
    response = staff_client.post("/admin/strategies/strategy/add/", form(symbol="NOPE/XYZ"))
    assert response.context["adminform"].form.errors["symbol"] == [
        "simulated does not list NOPE/XYZ."
    ]
    assert staff_client.post("/admin/strategies/strategy/add/", form()).status_code == 302


def test_the_stored_listing_counts_and_a_typed_symbols_row_does_not(db):
    exchange = Exchange.objects.create(ccxt_id="simulated")
    # A row a strategy's run made for what someone typed: not a listing.
    Symbol.objects.create(exchange=exchange, symbol="NOPE/USDT")
    assert listing.unlisted("simulated", "NOPE/USDT").startswith("simulated does not list")
    # What update_exchange_symbols stored wins over the provider's own list.
    from market_data.providers.base import Market
    from market_data.symbols import store_markets

    store_markets(exchange, [Market("ONLY/USDT", "ONLY", "USDT")])
    assert listing.unlisted("simulated", "ONLY/USDT") is None
    assert listing.unlisted("simulated", "BTC/USDT") == "simulated does not list BTC/USDT."


def test_the_api_start_with_a_changed_market_is_checked_too(strategy):
    strategy.symbol = "ETH/USTD"
    with pytest.raises(ValidationError) as caught:
        strategy.full_clean()
    assert "did you mean ETH/USDT" in caught.value.message_dict["symbol"][0]


def test_an_exchange_that_cannot_answer_does_not_hold_the_save_up(settings):
    """The list cannot be had (the provider fails): the symbol is let through, and the
    run will say what is wrong."""
    settings.MARKET_DATA_PROVIDER = "replay"
    settings.MARKET_DATA_REPLAY_DIR = "/nonexistent"
    assert listing.unlisted("binance", "BTC/USDT") is None
