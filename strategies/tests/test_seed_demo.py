from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from strategies.models import Signal, Strategy

pytestmark = pytest.mark.django_db


def test_it_creates_a_staff_account_with_a_printed_password_and_three_idle_strategies(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    user = get_user_model().objects.get(username="admin")
    assert user.is_staff and user.is_superuser
    password = out.split("with password: ")[1].split()[0]
    assert user.check_password(password)
    assert Strategy.objects.count() == 3
    assert not Strategy.objects.filter(is_active=True).exists()


def test_it_is_idempotent_and_never_resets_the_password(capsys, monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "first-password-123")
    call_command("seed_demo")
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "second-password-456")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "already exists; password unchanged" in out
    assert "first-password-123" not in out
    assert get_user_model().objects.get(username="admin").check_password("first-password-123")
    assert Strategy.objects.count() == 3


def test_the_demo_strategies_trade_on_paper_on_the_simulated_market(monkeypatch):
    import time_machine

    from strategies import trading

    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-password-123")
    call_command("seed_demo")
    admin = get_user_model().objects.get(username="admin")
    with time_machine.travel(datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC), tick=False):
        for strategy in Strategy.objects.all():
            strategy.full_clean()  # valid parameters for its algorithm
            assert strategy.owner == admin
            assert strategy.exchange == "simulated"
            assert "1 candle judged" in trading.run(strategy)
    algorithms = set(Strategy.objects.values_list("algorithm", flat=True))
    assert algorithms == {"ema_crossover", "macd_cross", "rsi_reversion"}
    assert Signal.objects.count() == 3
