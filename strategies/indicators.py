"""Technical indicators over a series of closes, vectorised in float64 (numpy).

These definitions are the reference (SMA, EMA, RSI and Bollinger match TA-Lib's functions
of those names):

- SMA(n): the mean of the last n closes.
- EMA(n): alpha = 2/(n+1), seeded with the SMA of the first n closes.
- RSI(n): Wilder's smoothing (alpha = 1/n), seeded with the simple average of the first n
  gains and losses; 100 when the average loss is 0.
- Bollinger(n, k): middle = SMA(n), bands = middle ± k × the population standard deviation
  of the last n closes.
- MACD(fast, slow, signal): line = EMA(fast) − EMA(slow), signal = EMA(signal) of the line,
  histogram = line − signal. (TA-Lib's own MACD seeds its averages differently.)

Every function returns an array as long as its input, NaN where the indicator is not
defined yet (the warm-up), so series line up with the candles they describe.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# The recursive averages (EMA, Wilder) are computed block by block in closed form. Within a
# block the weights span a factor of e**BLOCK_SPAN; keeping that at e**8 (~3,000) keeps the
# rounding error of the cumulative sums near 1e-12 relative, far below what is stored.
BLOCK_SPAN = 8.0


def sma(closes: np.ndarray, n: int) -> np.ndarray:
    """The mean of the last `n` closes; NaN for the first n − 1."""
    x = np.asarray(closes, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    if n < 1 or len(x) < n:
        return out
    # A window mean rather than a running cumsum difference: the cumsum loses precision on
    # long series of small prices (ETC/BTC closes are ~0.002).
    out[n - 1 :] = sliding_window_view(x, n).mean(axis=1)
    return out


def smooth(x: np.ndarray, alpha: float, seed_index: int, seed: float) -> np.ndarray:
    """Exponential smoothing y[t] = y[t-1] + alpha × (x[t] − y[t-1]) for t > seed_index, with
    y[seed_index] = seed; NaN before the seed.

    The recursion is evaluated in closed form per block, y[s+j] = d^j·y[s] +
    alpha·Σ d^(j−i)·x[s+i] (d = 1 − alpha), with cumulative sums, so it runs as a few
    numpy operations rather than one Python step per value.
    """
    out = np.full(len(x), np.nan)
    if seed_index >= len(x):
        return out
    out[seed_index] = seed
    decay = 1.0 - alpha
    if decay <= 0.0:  # alpha 1: the series itself
        out[seed_index + 1 :] = x[seed_index + 1 :]
        return out
    block = max(1, int(BLOCK_SPAN / -np.log(decay)))
    powers = decay ** np.arange(1, block + 1)  # d^1 … d^B
    inverse = 1.0 / powers
    start, level = seed_index, seed
    while start + 1 < len(x):
        values = x[start + 1 : start + 1 + block]
        m = len(values)
        sums = np.cumsum(values * inverse[:m]) * powers[:m]
        segment = powers[:m] * level + alpha * sums
        out[start + 1 : start + 1 + m] = segment
        start, level = start + m, segment[-1]
    return out


def ema(closes: np.ndarray, n: int) -> np.ndarray:
    """EMA(n), seeded with the SMA of the first n values; NaN before that. Leading NaNs in
    the input (an EMA of an indicator) are skipped: the seed is the first n defined values."""
    x = np.asarray(closes, dtype=np.float64)
    defined = np.flatnonzero(~np.isnan(x))
    if n < 1 or len(defined) < n:
        return np.full(x.shape, np.nan)
    first = defined[0]
    seed_index = first + n - 1
    return smooth(x, 2.0 / (n + 1), seed_index, float(x[first : seed_index + 1].mean()))


def rsi(closes: np.ndarray, n: int) -> np.ndarray:
    """RSI(n) with Wilder's smoothing; defined from index n (it needs n changes)."""
    x = np.asarray(closes, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    if n < 1 or len(x) <= n:
        return out
    change = np.diff(x, prepend=np.nan)
    gains = np.where(change > 0, change, 0.0)
    losses = np.where(change < 0, -change, 0.0)
    avg_gain = smooth(gains, 1.0 / n, n, float(gains[1 : n + 1].mean()))
    avg_loss = smooth(losses, 1.0 / n, n, float(losses[1 : n + 1].mean()))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    out[n:] = np.where(avg_loss[n:] == 0.0, 100.0, value[n:])
    return out


def bollinger(closes: np.ndarray, n: int, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, middle, upper): SMA(n) ± k × population standard deviation of the last n."""
    x = np.asarray(closes, dtype=np.float64)
    middle = sma(x, n)
    deviation = np.full(x.shape, np.nan)
    if n >= 1 and len(x) >= n:
        # The deviation of each window around its own mean, with no variance floor: the
        # bands of a quiet, small-priced market (ETC/BTC) are narrow but not flat.
        deviation[n - 1 :] = sliding_window_view(x, n).std(axis=1)
    return middle - k * deviation, middle, middle + k * deviation


def macd(
    closes: np.ndarray, fast: int, slow: int, signal: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line, signal, histogram), built from `ema` above."""
    x = np.asarray(closes, dtype=np.float64)
    line = ema(x, fast) - ema(x, slow)
    signal_line = ema(line, signal)
    return line, signal_line, line - signal_line


def crossed_above(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """True on each candle where `fast` moves from at or below `slow` to above it."""
    out = np.zeros(len(fast), dtype=bool)
    out[1:] = (fast[:-1] <= slow[:-1]) & (fast[1:] > slow[1:])
    return out


def crossed_below(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """True on each candle where `fast` moves from at or above `slow` to below it."""
    out = np.zeros(len(fast), dtype=bool)
    out[1:] = (fast[:-1] >= slow[:-1]) & (fast[1:] < slow[1:])
    return out
