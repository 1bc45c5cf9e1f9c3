import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def test_a_wrong_provider_or_malformed_key_fails_the_check(settings):
    settings.MARKET_DATA_PROVIDER = "binance"
    settings.FIELD_ENCRYPTION_KEY = ["not-a-key"]
    with pytest.raises(SystemCheckError) as error:
        call_command("check")
    assert "market_data.E001" in str(error.value) and "simulated, replay, ccxt" in str(error.value)
    assert "market_data.E002" in str(error.value)
