import logging

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from market_data.crypto import CredentialsError
from market_data.models import Candle, Exchange, Symbol

pytestmark = pytest.mark.django_db
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def add_exchange(client, **fields):
    data = {"ccxt_id": "binance", "name": "", "enabled": "on", "api_key": "", "api_secret": ""}
    data.update(fields)
    return client.post(reverse("admin:market_data_exchange_add"), data)


def test_credentials_are_write_only_and_encrypted_at_rest(staff_client, settings, caplog):
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    caplog.set_level(logging.DEBUG)
    response = add_exchange(staff_client, api_key="my-api-key", api_secret="my-api-secret")
    assert response.status_code == 302
    exchange = Exchange.objects.get(ccxt_id="binance")
    assert "my-api-secret" not in exchange.credentials_encrypted
    assert exchange.credentials() == {"apiKey": "my-api-key", "secret": "my-api-secret"}

    page = staff_client.get(reverse("admin:market_data_exchange_change", args=[exchange.pk]))
    assert b"my-api-key" not in page.content and b"my-api-secret" not in page.content
    assert b"my-api-secret" not in caplog.text.encode()

    # Saving with the fields blank keeps them; a new key first in the list rotates.
    url = reverse("admin:market_data_exchange_change", args=[exchange.pk])
    staff_client.post(url, {"ccxt_id": "binance", "name": "Binance", "enabled": "on"})
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY, OLD_KEY]
    changelist = reverse("admin:market_data_exchange_changelist")
    staff_client.post(changelist, {"action": "reencrypt", "_selected_action": [exchange.pk]})
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]
    exchange.refresh_from_db()
    assert exchange.credentials()["secret"] == "my-api-secret"


def test_a_missing_or_wrong_key_is_a_clear_error(staff_client, settings):
    settings.FIELD_ENCRYPTION_KEY = []
    response = add_exchange(staff_client, api_key="k", api_secret="s")
    assert response.status_code == 200
    assert b"FIELD_ENCRYPTION_KEY is not set" in response.content
    assert not Exchange.objects.exists()

    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    exchange = Exchange(ccxt_id="kraken")
    exchange.set_credentials("k", "s")
    exchange.save()
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]
    with pytest.raises(CredentialsError, match="cannot be decrypted with FIELD_ENCRYPTION_KEY"):
        exchange.credentials()


def test_an_unknown_exchange_id_is_refused_and_nothing_written(staff_client):
    response = add_exchange(staff_client, ccxt_id="binanse")
    assert response.status_code == 200
    assert b"unknown exchange id" in response.content
    assert not Exchange.objects.exists()


def test_symbols_are_tracked_and_untracked_in_bulk_and_filtered(staff_client, simulated):
    names = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    symbols = [Symbol.objects.create(exchange=simulated, symbol=n) for n in names]
    url = reverse("admin:market_data_symbol_changelist")
    response = staff_client.post(
        url, {"action": "track", "_selected_action": [s.pk for s in symbols[:2]]}, follow=True
    )
    assert b"2 symbols tracked." in response.content
    assert set(Symbol.objects.filter(tracked=True).values_list("symbol", flat=True)) == {
        "BTC/USDT",
        "ETH/USDT",
    }
    listing = staff_client.get(url, {"tracked__exact": "1"})
    assert listing.context["cl"].result_count == 2
    staff_client.post(url, {"action": "untrack", "_selected_action": [symbols[0].pk]})
    assert Symbol.objects.filter(tracked=True).count() == 1


def test_candles_are_read_only_and_filtered_by_symbol_and_timeframe(staff_client, btc):
    Candle.objects.upsert_many(btc, "1h", [(3_600_000, 1, 2, 1, 1, 5), (7_200_000, 1, 2, 1, 1, 5)])
    Candle.objects.upsert_many(btc, "1m", [(60_000, 1, 2, 1, 1, 5)])
    url = reverse("admin:market_data_candle_changelist")
    listing = staff_client.get(url, {"timeframe": "1h", "symbol__id__exact": btc.pk})
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 2
    assert staff_client.get(reverse("admin:market_data_candle_add")).status_code == 403
    candle = Candle.objects.first()
    change = reverse("admin:market_data_candle_change", args=[candle.pk])
    staff_client.post(change, {"open": "999"})
    candle.refresh_from_db()
    assert candle.open == 1


def test_candle_prices_read_without_trailing_zeros(staff_client, btc):
    from decimal import Decimal

    Candle.objects.upsert_many(
        btc, "1h", [(3_600_000, Decimal("226.05049"), Decimal("230"), 1, Decimal("0.5"), 5)]
    )
    page = staff_client.get(reverse("admin:market_data_candle_changelist")).content.decode()
    assert ">226.05049<" in page and ">230<" in page and ">0.5<" in page
    assert "226.050490000" not in page
