"""The strategy page: price with the strategy's indicators and its buy/sell fills, and the
paper account's equity curve. Drawn in the browser by our own static/strategies/chart.js
(SVG, no CDN), from data embedded with `json_script`.

Login required; a strategy the user may not see (`visible_to`) is a 404, the same answer as
one that does not exist, so ids of other users' strategies are not revealed.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from .algorithms import Algorithm
from .models import PaperAccount, Strategy
from .paper import money, plain
from .trading import closed_candles, latest_closed, window

SHOWN = 300  # candles on the chart


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(f"{v:.10g}") for v in values]


def _indicators(algorithm: Algorithm, closes: np.ndarray, start: int) -> dict[str, list]:
    """Each indicator's value on candles `start`… as a decision on that candle sees it
    (`Signal.indicators`): computed over the same window of closes, not over the whole
    series (the recursive ones, seeded at the window's start, would differ)."""
    values: dict[str, list] = {}
    for index in range(start, len(closes)):
        for name, value in algorithm.evaluate(window(closes, index)).indicators.items():
            values.setdefault(name, []).append(value)
    return values


def chart_data(strategy: Strategy) -> dict:
    """The newest `SHOWN` closed candles with the indicator values a decision on each of
    them sees (the history before them included, so they are warmed up where the chart
    starts), the fills and the equity after each judged candle in that range."""
    data = {"symbol": strategy.symbol, "timeframe": strategy.timeframe, "times": []}
    symbol = strategy.stored_market()
    if symbol is None:
        return data
    try:
        algorithm = strategy.make_algorithm()
    except ValueError:
        algorithm = None
    times, prices = closed_candles(
        symbol,
        strategy.timeframe,
        latest_closed(strategy.timeframe, timezone.now()),
        SHOWN + settings.STRATEGY_HISTORY_CANDLES,
    )
    if not times:
        return data
    closes = np.array([float(p) for p in prices], dtype=np.float64)
    start = max(0, len(times) - SHOWN)
    first = times[start]
    data["times"] = [_ms(t) for t in times[start:]]
    data["closes"] = _floats(closes[start:])
    series = _indicators(algorithm, closes, start) if algorithm else {}
    for group in ("overlays", "oscillators"):
        names = getattr(algorithm, group, ())
        data[group] = [{"name": n, "values": series[n]} for n in names]
    data["levels"] = algorithm.levels() if algorithm else []
    data["trades"] = [
        {"t": _ms(t.time), "side": t.side, "price": float(t.price), "label": plain(t.price)}
        for t in strategy.trades.filter(time__gte=first).order_by("time")
    ]
    data["equity"] = [
        {"t": _ms(s.candle_time), "v": float(s.equity)}
        for s in strategy.signals.filter(candle_time__gte=first).order_by("candle_time")
    ]
    return data


@login_required
def strategy_detail(request, strategy_id: int):
    strategy = get_object_or_404(Strategy.objects.visible_to(request.user), pk=strategy_id)
    account = PaperAccount.objects.filter(strategy=strategy).first()
    summary = None
    if account is not None:
        summary = {
            "cash": plain(money(account.cash)),
            "position": plain(account.position),
            "equity": plain(money(account.equity)),
            "pnl": plain(money(account.pnl)),
            "realised": plain(money(account.realised_pnl)),
            "fees": plain(money(account.fees_paid)),
        }
    return render(
        request,
        "strategies/strategy_detail.html",
        {
            "strategy": strategy,
            "account": account,
            "summary": summary,
            "chart": chart_data(strategy),
            "trades": strategy.trades.order_by("-time")[:20],
            # The page fetches itself this often and redraws, without a reload.
            "refresh_seconds": settings.SCHEDULER_PAGE_REFRESH,
        },
    )
