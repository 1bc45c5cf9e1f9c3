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


def test_a_heroku_generated_hex_secret_is_a_working_key_and_the_fernet_form_still_reads_it(
    settings,
):
    """app.json has Heroku generate FIELD_ENCRYPTION_KEY: 64 hexadecimal digits."""
    import base64

    from market_data import crypto

    hex_key = "9f" * 32
    settings.FIELD_ENCRYPTION_KEY = [hex_key]
    token = crypto.encrypt({"apiKey": "k", "secret": "s"})
    call_command("check")  # no E002
    settings.FIELD_ENCRYPTION_KEY = [base64.urlsafe_b64encode(bytes.fromhex(hex_key)).decode()]
    assert crypto.decrypt(token) == {"apiKey": "k", "secret": "s"}
