"""GET /api/v1/strategies and /api/v1/strategies/<id>: a script reads its own strategies."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client

from scheduler.web import tokens
from strategies import autostop
from strategies.models import PaperAccount, Strategy
from strategies.tests.conftest import traded as traded_strategy

pytestmark = pytest.mark.django_db


@pytest.fixture
def traded(alice):
    """Alice's strategy after 30 one-minute runs (signals, trades), its last run recorded."""
    strategy = traded_strategy(owner=alice)
    autostop.record_outcome(
        strategy.pk, "succeeded", "ok", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    )
    return strategy


def with_token(user) -> Client:
    _, raw = tokens.issue(user, "script")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_a_script_lists_its_own_strategies_with_state_and_account(traded, alice, bob):
    Strategy.objects.create(name="Bob's", owner=bob, symbol="ETH/USDT")
    body = with_token(alice).get("/api/v1/strategies").json()
    account = PaperAccount.objects.get(strategy=traded)
    assert body["count"] == 1 and body["pages"] == 1
    (row,) = body["strategies"]
    assert row["id"] == traded.pk and row["name"] == "Traded" and row["active"] is False
    assert row["job_id"] == traded.job_id and row["symbol"] == "BTC/USDT"
    assert row["equity"] == f"{account.equity.normalize():f}"
    assert Decimal(row["pnl"]) == account.equity - Decimal(1000)
    assert row["last_signal"]["action"] == account.last_action
    assert row["last_run"] == {"status": "succeeded", "at": "2024-03-01T12:30:00+00:00"}


def test_one_strategy_with_its_signals_and_trades_paginated(traded, alice):
    api = with_token(alice)
    body = api.get(f"/api/v1/strategies/{traded.pk}").json()
    signals, trades = body["signals"], body["trades"]
    assert signals["count"] == traded.signals.count() and signals["page"] == 1
    newest = traded.signals.first()
    assert signals["items"][0]["candle_time"] == newest.candle_time.isoformat()
    assert signals["items"][0]["reason"] == newest.reason
    assert trades["count"] == traded.trades.count() >= 2
    assert {item["side"] for item in trades["items"]} <= {"buy", "sell"}
    assert body["parameters"] == {"fast": 1, "slow": 2}
    # Past the last page is the last page, and junk is the first, as on the status pages.
    assert (
        api.get(f"/api/v1/strategies/{traded.pk}?signals_page=99").json()["signals"]["page"]
        == signals["pages"]
    )
    assert api.get(f"/api/v1/strategies/{traded.pk}?trades_page=abc").json()["trades"]["page"] == 1


def test_someone_elses_strategy_is_a_404_and_anonymous_callers_a_401(traded, bob, client):
    response = with_token(bob).get(f"/api/v1/strategies/{traded.pk}")
    assert response.status_code == 404
    assert response.json() == {"error": f"strategy {traded.pk} does not exist"}
    assert with_token(bob).get("/api/v1/strategies").json()["count"] == 0
    response = client.get("/api/v1/strategies")
    assert response.status_code == 401 and "authentication required" in response.json()["error"]
    response = with_token(bob).post("/api/v1/strategies")
    assert response.status_code == 405 and response["Allow"] == "GET"
