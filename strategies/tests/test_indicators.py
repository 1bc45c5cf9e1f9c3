"""Indicator values: hand-checkable cases, and the real recorded series against plain-Python
loops written straight from the definitions in `strategies/indicators.py`."""

import math

import numpy as np
import pytest

from strategies import indicators

from .conftest import read_closes

nan = math.nan
SERIES = [
    "bittrex_ETH-BTC_5m.csv",
    "bittrex_ETC-BTC_1m.csv",  # small prices, with gaps: run over the rows as given
    "freqtrade-orderflow-candles_5m.csv",
]


# --- Plain-Python references, one loop per definition ----------------------------------------
def ref_sma(x, n):
    return [nan] * (n - 1) + [math.fsum(x[i - n + 1 : i + 1]) / n for i in range(n - 1, len(x))]


def ref_ema(x, n):
    out = [nan] * len(x)
    defined = [i for i, v in enumerate(x) if not math.isnan(v)]
    first = defined[0]
    seed = first + n - 1
    out[seed] = math.fsum(x[first : seed + 1]) / n
    alpha = 2 / (n + 1)
    for i in range(seed + 1, len(x)):
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


def ref_rsi(x, n):
    out = [nan] * len(x)
    gains = [max(x[i] - x[i - 1], 0.0) for i in range(1, len(x))]
    losses = [max(x[i - 1] - x[i], 0.0) for i in range(1, len(x))]
    avg_gain, avg_loss = sum(gains[:n]) / n, sum(losses[:n]) / n
    for i in range(n, len(x)):
        if i > n:
            avg_gain = (avg_gain * (n - 1) + gains[i - 1]) / n
            avg_loss = (avg_loss * (n - 1) + losses[i - 1]) / n
        out[i] = 100.0 if avg_loss == 0 else 100 * avg_gain / (avg_gain + avg_loss)
    return out


def ref_bollinger(x, n, k):
    lower, middle, upper = [nan] * len(x), [nan] * len(x), [nan] * len(x)
    for i in range(n - 1, len(x)):
        window = x[i - n + 1 : i + 1]
        mean = math.fsum(window) / n
        deviation = math.sqrt(math.fsum((v - mean) ** 2 for v in window) / n)
        lower[i], middle[i], upper[i] = mean - k * deviation, mean, mean + k * deviation
    return lower, middle, upper


def ref_macd(x, fast, slow, signal):
    line = [a - b for a, b in zip(ref_ema(x, fast), ref_ema(x, slow), strict=True)]
    signal_line = ref_ema(line, signal)
    return line, signal_line, [a - b for a, b in zip(line, signal_line, strict=True)]


def same(actual, expected, rel=1e-9):
    """Equal where defined (relative 1e-9, far below the 10 digits stored), NaN where not."""
    actual, expected = np.asarray(actual), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), "warm-up differs"
    defined = ~np.isnan(expected)
    scale = np.maximum(np.abs(expected[defined]), np.abs(expected[defined]).max() * 1e-3)
    worst = np.max(np.abs(actual[defined] - expected[defined]) / scale)
    assert worst < rel, f"off by {worst:.2e} relative"


# --- Hand-checkable -------------------------------------------------------------------------
def test_sma_is_the_mean_of_the_last_n():
    same(indicators.sma([1, 2, 3, 4, 6], 3), [nan, nan, 2, 3, 13 / 3])


def test_ema_is_seeded_with_the_sma_of_the_first_n():
    # alpha = 2/(3+1) = 0.5; seed (2+4+6)/3 = 4; then 4 + .5(8-4) = 6; 6 + .5(12-6) = 9
    same(indicators.ema([2, 4, 6, 8, 12], 3), [nan, nan, 4, 6, 9])


def test_rsi_uses_wilders_smoothing_and_is_100_without_losses():
    # changes +1 +1 -1 +1: seed gains 1, losses 0 → 100; then (1+0)/2, (0+1)/2 → 50;
    # then (.5+1)/2 = .75, (.5+0)/2 = .25 → RS 3 → 75
    same(indicators.rsi([1, 2, 3, 2, 3], 2), [nan, nan, 100, 50, 75])


def test_bollinger_bands_use_the_population_standard_deviation():
    lower, middle, upper = indicators.bollinger([1, 2, 3], 3, 2)
    spread = 2 * math.sqrt(2 / 3)
    same(middle, [nan, nan, 2])
    same(upper, [nan, nan, 2 + spread])
    same(lower, [nan, nan, 2 - spread])


def test_macd_is_the_difference_of_the_two_emas_with_an_ema_signal():
    x = [1, 2, 3, 5, 8, 13, 21]
    line, signal, histogram = indicators.macd(x, 2, 3, 2)
    # EMA(2): seed 1.5, alpha 2/3 → 2.5, 25/6, 121/18, 589/54, 2857/162
    # EMA(3): seed 2, alpha 1/2 → 3.5, 5.75, 9.375, 15.1875
    ema2 = [2.5, 25 / 6, 121 / 18, 589 / 54, 2857 / 162]
    ema3 = [2, 3.5, 5.75, 9.375, 15.1875]
    expected_line = [nan, nan] + [a - b for a, b in zip(ema2, ema3, strict=True)]
    same(line, expected_line)
    seed = (expected_line[2] + expected_line[3]) / 2
    same(signal[:4], [nan, nan, nan, seed])
    same(histogram, np.array(line) - np.array(signal))


def test_a_crossover_is_the_candle_where_fast_moves_from_at_or_below_to_above():
    fast = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 3.0])
    slow = np.array([2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    # 1→2 touches (no cross), 2→3 crosses above, 3→2 touches from above, 2→1 crosses below
    assert indicators.crossed_above(fast, slow).tolist() == [0, 0, 1, 0, 0, 1]
    assert indicators.crossed_below(fast, slow).tolist() == [0, 0, 0, 0, 1, 0]


def test_an_undefined_value_never_counts_as_a_crossing():
    fast = np.array([nan, 3.0, 1.0])
    slow = np.array([2.0, 2.0, nan])
    assert not indicators.crossed_above(fast, slow).any()
    assert not indicators.crossed_below(fast, slow).any()


def test_too_short_a_series_gives_no_values():
    assert np.isnan(indicators.sma([1, 2], 3)).all()
    assert np.isnan(indicators.ema([1, 2], 3)).all()
    assert np.isnan(indicators.rsi([1, 2], 2)).all()


# --- The real series against the definitions ------------------------------------------------
@pytest.mark.parametrize("name", SERIES)
@pytest.mark.parametrize("n", [2, 9, 30, 200])
def test_sma_and_ema_match_their_definitions_on_recorded_candles(name, n):
    closes = read_closes(name)
    x = closes.tolist()
    same(indicators.sma(closes, n), ref_sma(x, n))
    same(indicators.ema(closes, n), ref_ema(x, n))


@pytest.mark.parametrize("name", SERIES)
@pytest.mark.parametrize("n", [2, 14, 50])
def test_rsi_matches_its_definition_on_recorded_candles(name, n):
    closes = read_closes(name)
    same(indicators.rsi(closes, n), ref_rsi(closes.tolist(), n))


@pytest.mark.parametrize("name", SERIES)
def test_bollinger_matches_its_definition_on_recorded_candles(name):
    closes = read_closes(name)
    for actual, expected in zip(
        indicators.bollinger(closes, 20, 2.0), ref_bollinger(closes.tolist(), 20, 2.0), strict=True
    ):
        same(actual, expected)


def test_small_prices_keep_their_bollinger_bands_apart():
    closes = read_closes("bittrex_ETC-BTC_1m.csv")
    lower, middle, upper = indicators.bollinger(closes, 20, 2.0)
    moving = np.array([np.ptp(closes[i - 19 : i + 1]) > 0 for i in range(19, len(closes))])
    # Wherever the 20 closes were not all equal the bands are apart, however small the price.
    assert (upper[19:][moving] > lower[19:][moving]).all()


@pytest.mark.parametrize("name", SERIES)
def test_macd_matches_its_definition_on_recorded_candles(name):
    closes = read_closes(name)
    for actual, expected in zip(
        indicators.macd(closes, 12, 26, 9), ref_macd(closes.tolist(), 12, 26, 9), strict=True
    ):
        same(actual, expected)
