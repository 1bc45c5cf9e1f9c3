"""Strategies in admin: owners, per-algorithm parameter errors, and the account columns."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from market_data.models import Candle
from scheduler.models import Schedule
from strategies import autostop, trading
from strategies.models import PaperAccount, Strategy
from strategies.tests.conftest import NOON, traded

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/strategies/strategy/"


def change_url(strategy):
    return reverse("admin:strategies_strategy_change", args=[strategy.pk])


@pytest.fixture
def staff(alice):
    """Alice as staff with the strategy permissions, not a superuser."""
    alice.is_staff = True
    alice.save()
    alice.user_permissions.set(Permission.objects.filter(content_type__app_label="strategies"))
    return alice


def form(**fields):
    data = {
        "name": "Mine",
        "exchange": "simulated",
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "interval_seconds": "300",
        "start_immediately": "on",
        "algorithm": "sma_crossover",
        "parameters": "{}",
        "capital": "10000",
        "fee_rate": "0.001",
        "max_failures": "5",
    }
    data.update(fields)
    return data


def test_a_user_sees_only_their_own_strategies(client, staff, bob):
    Strategy.objects.create(name="Alice's", owner=staff)
    Strategy.objects.create(name="Bob's", owner=bob)
    client.force_login(staff)
    html = client.get(CHANGELIST).content.decode()
    assert "Alice&#x27;s" in html and "Bob&#x27;s" not in html


def test_another_users_strategy_cannot_be_opened_or_changed(client, staff, bob):
    theirs = Strategy.objects.create(name="Bob's", owner=bob)
    client.force_login(staff)
    response = client.get(change_url(theirs), follow=True)
    assert "doesn’t exist" in response.content.decode()
    response = client.post(change_url(theirs), form(name="Taken"))
    # Not the changelist a saved change goes back to: admin's "doesn't exist" redirect.
    assert response.status_code == 302 and response.url == reverse("admin:index")
    client.post(CHANGELIST, {"action": "start_strategies", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.name == "Bob's" and not theirs.is_active


def test_a_new_strategy_belongs_to_its_creator_who_cannot_hand_it_to_others(client, staff, bob):
    client.force_login(staff)
    response = client.post("/admin/strategies/strategy/add/", form(owner=str(bob.pk)))
    assert response.status_code == 302
    assert Strategy.objects.get(name="Mine").owner == staff


def test_a_superuser_may_choose_the_owner_and_defaults_to_themself(staff_client, bob):
    response = staff_client.get("/admin/strategies/strategy/add/")
    assert response.context["adminform"].form.initial["owner"] == response.wsgi_request.user.pk
    staff_client.post("/admin/strategies/strategy/add/", form(owner=str(bob.pk)))
    assert Strategy.objects.get(name="Mine").owner == bob


@pytest.mark.parametrize(
    ("algorithm", "parameters", "errors"),
    [
        ("sma_crossover", '{"fast": 30, "slow": 10}', ["Fast (30) must be less than slow (10)."]),
        ("ema_crossover", '{"fast": "ten"}', ["Fast must be a number, not 'ten'."]),
        ("macd_cross", '{"signal": 2.5}', ["Signal must be a whole number, not 2.5."]),
        ("bollinger_breakout", '{"stddev": 0}', ["Stddev must be from 0.1 to 10.0."]),
        (
            "rsi_reversion",
            '{"oversold": 80, "overbought": 20}',
            ["Oversold (80) must be less than overbought (20)."],
        ),
        (
            "rsi_reversion",
            '{"fast": 3}',
            ["rsi_reversion has no parameter 'fast' (it takes period, oversold, overbought)."],
        ),
        ("sma_crossover", "[1, 2]", ['Parameters must be a JSON object, e.g. {"fast": 10}.']),
    ],
)
def test_bad_parameters_are_refused_with_the_error_on_the_field(
    staff_client, algorithm, parameters, errors
):
    response = staff_client.post(
        "/admin/strategies/strategy/add/", form(algorithm=algorithm, parameters=parameters)
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"parameters": errors}
    assert not Strategy.objects.exists()


def test_left_out_parameters_are_saved_with_their_defaults(staff_client):
    staff_client.post(
        "/admin/strategies/strategy/add/",
        form(algorithm="macd_cross", parameters='{"fast": 8}'),
    )
    assert Strategy.objects.get().parameters == {"fast": 8, "slow": 26, "signal": 9}


def test_the_list_and_change_page_show_the_account_signals_and_trades(staff_client):
    strategy = traded()
    autostop.record_outcome(
        strategy.pk, "succeeded", "fine", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    )
    account = PaperAccount.objects.get(strategy=strategy)
    assert strategy.trades.count() >= 2

    html = staff_client.get(CHANGELIST).content.decode()
    assert "2024-03-01 12:30:00 · succeeded" in html  # last run
    assert f"{account.last_action} · 2024-03-01 12:28" in html  # last signal
    pnl = account.equity - Decimal(1000)
    assert f"{pnl.normalize():f}" in html.replace("+", "")  # P&L

    html = staff_client.get(change_url(strategy)).content.decode()
    newest = strategy.signals.order_by("-candle_time").first()
    assert newest.reason in html
    trade = strategy.trades.order_by("-time").first()
    assert f"{trade.quantity.normalize():f}" in html
    assert f"/strategies/{strategy.pk}/" in html  # the chart page


def test_the_reason_a_strategy_stopped_itself_shows_wherever_people_look(staff_client, strategy):
    """The change page, the admin list, the job's page, /jobs/ and the jobs API; starting
    the strategy again clears it everywhere."""
    strategy.start()
    for _ in range(5):
        autostop.record_outcome(strategy.pk, "failed", "BadSymbol: gone", datetime.now(UTC))
    said = "Stopped itself after 5 failed runs in a row"
    for url in (change_url(strategy), CHANGELIST, f"/jobs/{strategy.job_id}/", "/jobs/"):
        html = staff_client.get(url).content.decode()
        assert said in html and "BadSymbol: gone" in html, url
    job = next(
        row
        for row in staff_client.get("/api/v1/jobs").json()["jobs"]
        if row["id"] == strategy.job_id
    )
    assert job["state"] == "paused" and job["state_reason"].startswith(said)
    strategy.refresh_from_db()
    strategy.start()
    assert Schedule.objects.get(job_id=strategy.job_id).paused_reason == ""
    assert said not in staff_client.get(f"/jobs/{strategy.job_id}/").content.decode()


def test_parameters_needing_more_history_than_a_run_reads_are_refused(staff_client, settings):
    settings.STRATEGY_HISTORY_CANDLES = 100
    response = staff_client.post(
        "/admin/strategies/strategy/add/", form(parameters='{"fast": 50, "slow": 150}')
    )
    assert response.context["adminform"].form.errors == {
        "parameters": [
            "These parameters need 151 candles of history; a run reads 100 "
            "(STRATEGY_HISTORY_CANDLES)."
        ]
    }


def test_the_active_checkbox_works_even_when_stored_parameters_are_bad(staff_client):
    # Written past validation (the shell): the list still starts it; its runs then fail
    # with the reason, and the auto-stop applies.
    strategy = Strategy.objects.create(name="Odd", parameters={"fast": 9, "slow": 3})
    response = staff_client.post(
        CHANGELIST,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(strategy.pk),
            "form-0-is_active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    strategy.refresh_from_db()
    assert strategy.is_active and strategy.parameters == {"fast": 9, "slow": 3}


# --- The market and the paper account ------------------------------------------------------
NOON_CANDLE = datetime(2024, 3, 1, 11, 59, tzinfo=UTC)  # the newest closed one at NOON


def test_the_market_is_read_only_in_admin_once_the_paper_account_exists(staff_client):
    fresh = Strategy.objects.create(name="Fresh", symbol="BTC/USDT")
    assert 'name="symbol"' in staff_client.get(change_url(fresh)).content.decode()

    strategy = traded()
    html = staff_client.get(change_url(strategy)).content.decode()
    for field in ("exchange", "symbol", "timeframe"):
        assert f'name="{field}"' not in html
    response = staff_client.post(
        change_url(strategy),
        form(name="Traded", symbol="ETH/USDT", timeframe="1h", parameters='{"fast": 1, "slow": 2}'),
    )
    assert response.status_code == 302
    strategy.refresh_from_db()
    assert (strategy.symbol, strategy.timeframe) == ("BTC/USDT", "1m")


def test_changing_the_market_of_a_strategy_with_an_account_is_refused_by_clean():
    strategy = traded()
    strategy.symbol, strategy.timeframe = "ETH/USDT", "1h"
    with pytest.raises(ValidationError) as caught:
        strategy.full_clean()
    assert set(caught.value.message_dict) == {"symbol", "timeframe"}

    strategy.refresh_from_db()
    strategy.name = "Renamed"
    strategy.full_clean()  # anything else may change

    fresh = Strategy.objects.create(name="Fresh", symbol="BTC/USDT")
    fresh.symbol = "ETH/USDT"
    fresh.full_clean()  # no account yet: free to change


def test_reset_deletes_the_account_signals_and_trades_and_nothing_else(staff_client):
    strategy = traded()
    other = traded(owner=None)
    strategy.start()
    before = Strategy.objects.values().get(pk=strategy.pk)
    schedule = Schedule.objects.values().get(job_id=strategy.job_id)

    response = staff_client.post(
        CHANGELIST, {"action": "reset_accounts", "_selected_action": [strategy.pk]}, follow=True
    )
    assert "1 paper account reset." in response.content.decode()
    assert not PaperAccount.objects.filter(strategy=strategy).exists()
    assert not strategy.signals.exists() and not strategy.trades.exists()
    assert Strategy.objects.values().get(pk=strategy.pk) == before
    assert Schedule.objects.values().get(job_id=strategy.job_id) == schedule
    assert PaperAccount.objects.filter(strategy=other).exists() and other.trades.exists()


def test_after_a_reset_the_market_may_change_and_the_account_reopens_with_the_capital():
    strategy = traded()
    Strategy.objects.filter(pk=strategy.pk).reset_accounts()
    strategy.symbol, strategy.capital = "ETH/USDT", Decimal("500")
    strategy.full_clean()
    strategy.save()
    with time_machine.travel(NOON, tick=False):
        trading.run(strategy)
    assert PaperAccount.objects.get(strategy=strategy).capital == Decimal("500")
    eth = Candle.objects.get(symbol__symbol="ETH/USDT", timeframe="1m", open_time=NOON_CANDLE)
    assert list(strategy.signals.values_list("price", flat=True)) == [eth.close]
