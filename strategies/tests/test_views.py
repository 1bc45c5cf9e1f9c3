"""The strategy page /strategies/<id>/: who may open it, and what it shows (the chart is
drawn by our own static chart.js, run here under Node with a minimal DOM)."""

import json
import math
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.shortcuts import resolve_url

from strategies import trading
from strategies.models import Strategy
from strategies.views import chart_data

pytestmark = pytest.mark.django_db

NOON = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def traded(alice):
    """Alice's strategy after an hour of one-minute runs on the simulated market."""
    strategy = Strategy.objects.create(
        name="Alice's scalp",
        owner=alice,
        symbol="BTC/USDT",
        timeframe="1m",
        interval_seconds=60,
        parameters={"fast": 2, "slow": 5},
    )
    with time_machine.travel(NOON, tick=False) as clock:
        for _ in range(60):
            trading.run(strategy)
            clock.shift(timedelta(minutes=1))
        yield strategy


def page(strategy):
    return f"/strategies/{strategy.pk}/"


def test_anonymous_visitors_are_sent_to_log_in(client, traded):
    response = client.get(page(traded))
    assert response.status_code == 302
    login = resolve_url(settings.LOGIN_URL)
    assert response["Location"] == f"{login}?next=/strategies/{traded.pk}/"


def test_another_users_strategy_is_not_found(client, bob, traded):
    client.force_login(bob)
    assert client.get(page(traded)).status_code == 404
    assert client.get("/strategies/999999/").status_code == 404


def test_the_owner_sees_the_account_trades_and_chart_data(client, alice, traded):
    client.force_login(alice)
    response = client.get(page(traded))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Alice&#x27;s scalp" in html and "no real order is ever placed" in html
    trades = list(traded.trades.order_by("time"))
    assert len(trades) >= 4
    data = response.context["chart"]
    assert len(data["times"]) == len(data["closes"]) == 300
    assert [s["name"] for s in data["overlays"]] == ["sma_fast", "sma_slow"]
    assert [(m["t"], m["side"]) for m in data["trades"]] == [
        (int(t.time.timestamp() * 1000), t.side) for t in trades
    ]
    assert len(data["equity"]) == 60
    # Our own static files only: no script or style from anywhere else.
    assert '<script src="/static/strategies/chart.js">' in html
    assert "https://" not in html and "http://" not in html.replace('xmlns="http://', "")


def test_a_superuser_sees_any_strategy(staff_client, traded):
    assert staff_client.get(page(traded)).status_code == 200


def draw(data: dict) -> dict:
    """What static/strategies/chart.js draws from `data` (run by Node, minimal DOM)."""
    script = Path(settings.BASE_DIR, "strategies/static/strategies/chart.js")
    harness = Path(__file__).with_name("chart_harness.js")
    out = subprocess.run(
        ["node", str(harness), str(script), json.dumps(data)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@needs_node
def test_the_chart_script_draws_prices_indicators_markers_and_equity(client, alice, traded):
    client.force_login(alice)
    data = client.get(page(traded)).context["chart"]
    drawn = draw(data)
    assert drawn["priceLines"] == 3  # the close and the two averages
    assert drawn["buys"] == sum(t["side"] == "buy" for t in data["trades"]) > 0
    assert drawn["sells"] == sum(t["side"] == "sell" for t in data["trades"]) > 0
    assert drawn["equityLines"] == 1
    assert drawn["oscillatorHidden"]  # an SMA crossover has no oscillator panel


@needs_node
def test_an_oscillator_gets_its_own_panel(client, alice, traded):
    Strategy.objects.filter(pk=traded.pk).update(algorithm="macd_cross", parameters={})
    client.force_login(alice)
    data = client.get(page(traded)).context["chart"]
    assert data["levels"] == [0.0]
    drawn = draw(data)
    assert drawn["priceLines"] == 1
    assert drawn["oscillatorLines"] == 3 and not drawn["oscillatorHidden"]


def test_a_judged_candles_charted_indicators_are_the_ones_its_signal_recorded():
    # EMA(400) is seeded at the start of the 500 closes a decision reads, so computed over
    # all the closes before it instead, its value would differ in the 10 digits kept.
    strategy = Strategy.objects.create(
        name="Slow",
        symbol="BTC/USDT",
        timeframe="1m",
        algorithm="ema_crossover",
        parameters={"fast": 50, "slow": 400},
    )
    with time_machine.travel(NOON, tick=False) as clock:
        for _ in range(5):
            trading.run(strategy)
            clock.shift(timedelta(minutes=1))
        data = chart_data(strategy)
    charted = {
        line["name"]: dict(zip(data["times"], line["values"], strict=True))
        for line in data["overlays"]
    }
    signals = list(strategy.signals.all())
    assert len(signals) == 5
    for signal in signals:
        moment = int(signal.candle_time.timestamp() * 1000)
        for name in ("ema_fast", "ema_slow"):
            assert charted[name][moment] == signal.indicators[name]


@needs_node
def test_the_chart_reads_round_ticks_values_on_hover_and_why_equity_is_flat(client, alice, traded):
    client.force_login(alice)
    data = client.get(page(traded)).context["chart"]
    drawn = draw(data)
    ticks = [float(text.replace(",", "")) for text in drawn["priceTicks"]]
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(ticks) >= 3 and len(steps) == 1
    (step,) = steps
    assert step / 10 ** math.floor(math.log10(step)) in (1, 2, 5)  # 1, 2 or 5 × 10^k
    assert all(abs(t / step - round(t / step)) < 1e-6 for t in ticks)  # on the step
    assert " UTC · close " in drawn["readout"] and "sma_fast" in drawn["readout"]
    assert drawn["equityNote"] == ""
    flat = dict(data, equity=[{"t": t, "v": 1000.0} for t in data["times"][:5]])
    assert draw(flat)["equityNote"].startswith("Flat: all cash")
    assert draw(dict(data, equity=[]))["equityNote"].startswith("No equity yet")


def test_the_strategy_page_and_its_job_page_link_to_each_other(client, alice, traded):
    traded.start()
    client.force_login(alice)
    html = client.get(page(traded)).content.decode()
    assert f'id="job-link" href="/jobs/{traded.job_id}/"' in html
    job = client.get(f"/jobs/{traded.job_id}/").content.decode()
    assert f'id="strategy-link" href="/strategies/{traded.pk}/"' in job
