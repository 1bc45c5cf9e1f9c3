import pytest
from asgiref.sync import async_to_sync

from market_data.jobs import update_exchange_symbols
from market_data.models import Candle, Exchange, Symbol

from .offline import install, load_markets

pytestmark = pytest.mark.django_db
update = async_to_sync(update_exchange_symbols)


def test_recorded_markets_are_upserted_and_a_delisted_one_kept_inactive(
    monkeypatch, shared_data, settings
):
    """Kraken's recorded markets, then the same list without LTC/USDT (synthetic: the
    delisting is ours)."""
    responses = shared_data / "exchange_responses"
    settings.MARKET_DATA_PROVIDER = "ccxt"
    kraken = Exchange.objects.create(ccxt_id="kraken")
    markets = load_markets(responses, "kraken")
    install(monkeypatch, responses, "kraken", lambda url: pytest.fail(url), markets=markets)
    assert update() == "1 exchange, 4 symbols, 0 delisted, 0 errors"
    assert set(kraken.symbols.values_list("symbol", flat=True)) == {
        "BTC/USDT",
        "BTC/USD",
        "ETH/USDT",
        "LTC/USDT",
    }
    ltc = kraken.symbols.get(symbol="LTC/USDT")
    ltc.tracked = True
    ltc.save()
    Candle.objects.upsert_many(ltc, "1h", [(3_600_000, 1, 2, 1, 1, 5)])

    del markets["LTC/USDT"]
    install(monkeypatch, responses, "kraken", lambda url: pytest.fail(url), markets=markets)
    assert update() == "1 exchange, 3 symbols, 1 delisted, 0 errors"
    ltc.refresh_from_db()
    assert not ltc.active and ltc.tracked  # delisted: no longer collected, history kept
    assert ltc.candles.count() == 1
    assert Symbol.objects.collectable().filter(pk=ltc.pk).count() == 0


def test_the_simulated_exchange_lists_its_markets_and_a_second_run_changes_nothing(simulated):
    first = update()
    assert first.startswith("1 exchange, ") and first.endswith(" 0 delisted, 0 errors")
    count = Symbol.objects.count()
    assert count >= 100
    assert update() == first
    assert Symbol.objects.count() == count


def test_a_symbol_is_checked_against_kraken_recorded_markets(monkeypatch, shared_data, settings):
    """No stored listing yet: the provider's market list (ccxt, answering from the recorded
    Kraken markets) says whether a typed symbol exists; once `update_exchange_symbols`
    stored the list, the stored one answers (a delisted symbol is then refused)."""
    from market_data import listing

    responses = shared_data / "exchange_responses"
    settings.MARKET_DATA_PROVIDER = "ccxt"
    markets = load_markets(responses, "kraken")
    install(monkeypatch, responses, "kraken", lambda url: pytest.fail(url), markets=markets)
    assert listing.unlisted("kraken", "ETH/USDT") is None
    assert listing.unlisted("kraken", "ETH/USTD") == (
        "kraken does not list ETH/USTD; did you mean ETH/USDT, BTC/USD, LTC/USDT?"
    )
    Exchange.objects.create(ccxt_id="kraken")
    del markets["LTC/USDT"]
    install(monkeypatch, responses, "kraken", lambda url: pytest.fail(url), markets=markets)
    update()
    assert listing.unlisted("kraken", "LTC/USDT").startswith("kraken does not list LTC/USDT")
