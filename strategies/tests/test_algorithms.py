"""Each algorithm decides as its docstring says, on small series worked out by hand: a buy
exactly on the candle where the fast series crosses above the slow one, a sell where it
crosses below, and holds everywhere else, warm-up included."""

import numpy as np
import pytest

from strategies.algorithms import ALGORITHMS, algorithm_class

# Flat, up, down: for SMA(2)/SMA(4) and EMA(2)/EMA(4) alike, the fast series is level
# with the slow one until candle 4, above it from candle 5 (11 > 10.5; EMAs 11.33 > 10.8)
# and below it from candle 9 (13 < 14; EMAs 12.78 < 13.07).
UP_THEN_DOWN = [10, 10, 10, 10, 10, 12, 14, 16, 14, 12, 10, 8, 6]


def actions(name: str, parameters: dict, closes: list[float]) -> str:
    """The action on each candle, judged from the closes up to it: b(uy), s(ell), h(old)."""
    algorithm = algorithm_class(name)(parameters)
    series = np.array(closes, dtype=np.float64)
    return "".join(algorithm.evaluate(series[: i + 1]).action[0] for i in range(len(series)))


@pytest.mark.parametrize("name", ["sma_crossover", "ema_crossover"])
def test_a_moving_average_crossover_buys_and_sells_on_the_crossing_candles(name):
    assert actions(name, {"fast": 2, "slow": 4}, UP_THEN_DOWN) == "hhhhhbhhhshhh"


def test_a_crossover_decision_records_the_values_it_crossed():
    algorithm = algorithm_class("sma_crossover")({"fast": 2, "slow": 4})
    decision = algorithm.evaluate(np.array(UP_THEN_DOWN[:6], dtype=np.float64))
    assert decision.action == "buy"
    assert decision.indicators == {"sma_fast": 11.0, "sma_slow": 10.5}
    assert decision.reason == "SMA(2) crossed above SMA(4) (11 > 10.5)"


def test_macd_buys_and_sells_where_its_line_crosses_its_signal_line():
    # MACD(2, 4, 2): the line (EMA(2) − EMA(4)) and its signal are both 0 on the flat start;
    # the fall takes the line below the signal at candle 5 (−1.07 < −0.71), the rise back
    # above it at candle 8 (−1.65 > −1.89), the second fall below again at candle 13
    # (0.70 < 0.98).
    closes = [20, 20, 20, 20, 20, 16, 12, 8, 10, 13, 16, 19, 20, 18, 15]
    assert actions("macd_cross", {"fast": 2, "slow": 4, "signal": 2}, closes) == ("hhhhhshhbhhhhsh")


def test_rsi_buys_below_oversold_and_sells_above_overbought():
    # RSI(2), Wilder: 100 after two gains (sell while above 70), 50 after one loss (hold),
    # then 25, 12.5, 6.25 as the losses go on (buy while below 30).
    closes = [10, 11, 12, 13, 12, 11, 10, 9]
    assert actions("rsi_reversion", {"period": 2}, closes) == "hhsshbbb"


def test_bollinger_buys_a_break_above_the_upper_band_and_sells_one_below_the_lower():
    # Bands of 3 closes, 1 deviation: flat at 10 (bands 10), a jump to 13 breaks above the
    # upper band (12.41) on candle 4; 13 then stays within; the drop to 9 breaks below the
    # lower band (9.78) on candle 7, and a second 9 is within the widened bands (8.45).
    closes = [10, 10, 10, 10, 13, 13, 13, 9, 9]
    assert actions("bollinger_breakout", {"period": 3, "stddev": 1.0}, closes) == "hhhhbhhsh"


def test_bollinger_does_not_buy_again_while_the_close_stays_above_the_band():
    closes = [10, 10, 10, 10, 13, 17]  # 17 is above the upper band (16.2) again: no new break
    algorithm = algorithm_class("bollinger_breakout")({"period": 3, "stddev": 1.0})
    assert actions("bollinger_breakout", algorithm.values, closes) == "hhhhbh"
    decision = algorithm.evaluate(np.array(closes, dtype=np.float64))
    assert "still outside the bands" in decision.reason


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_holds_until_it_has_its_warm_up_candles(name):
    algorithm = algorithm_class(name)()
    needed = algorithm.warmup()
    # A crash after a long flat stretch: every algorithm would act on its last candle.
    closes = np.array([100.0] * (needed - 2) + [50.0], dtype=np.float64)
    decision = algorithm.evaluate(closes)
    assert decision.action == "hold"
    assert decision.reason == f"warming up: {needed - 1} of {needed} candles"
    longer = np.array([100.0] * (needed - 1) + [50.0], dtype=np.float64)
    assert algorithm.evaluate(longer).action == ("buy" if name == "rsi_reversion" else "sell")
