"""The five built-in algorithms. Long-only on paper: "buy" means be in the market, "sell"
means be out; the paper account fills only when that changes its position.

Crossovers follow `indicators.crossed_above` / `crossed_below`: a buy on the candle where
the fast series moves from at or below the slow one to above it, a sell the other way.
"""

from __future__ import annotations

import numpy as np

from .. import indicators
from .base import BUY, HOLD, SELL, Algorithm, Param, fmt


def _crossing(
    fast: np.ndarray, slow: np.ndarray, fast_name: str, slow_name: str
) -> tuple[str, str]:
    if indicators.crossed_above(fast[-2:], slow[-2:])[-1]:
        return BUY, f"{fast_name} crossed above {slow_name} ({fmt(fast[-1])} > {fmt(slow[-1])})"
    if indicators.crossed_below(fast[-2:], slow[-2:])[-1]:
        return SELL, f"{fast_name} crossed below {slow_name} ({fmt(fast[-1])} < {fmt(slow[-1])})"
    side = "above" if fast[-1] > slow[-1] else "below" if fast[-1] < slow[-1] else "at"
    return HOLD, f"no crossing: {fast_name} {fmt(fast[-1])} {side} {slow_name} {fmt(slow[-1])}"


def _fast_below_slow(values: dict) -> list[str]:
    if values["fast"] >= values["slow"]:
        return [f"Fast ({values['fast']}) must be less than slow ({values['slow']})."]
    return []


class SmaCrossover(Algorithm):
    """Buy when SMA(fast) crosses above SMA(slow); sell when it crosses below."""

    name = "sma_crossover"
    params = (Param("fast", int, 10, 1, 200), Param("slow", int, 30, 2, 400))
    overlays = ("sma_fast", "sma_slow")

    @classmethod
    def check(cls, values):
        return _fast_below_slow(values)

    def warmup(self) -> int:
        return self.slow + 1

    def series(self, closes):
        return {
            "sma_fast": indicators.sma(closes, self.fast),
            "sma_slow": indicators.sma(closes, self.slow),
        }

    def decide(self, closes, series):
        fast, slow = f"SMA({self.fast})", f"SMA({self.slow})"
        return _crossing(series["sma_fast"], series["sma_slow"], fast, slow)


class EmaCrossover(Algorithm):
    """Buy when EMA(fast) crosses above EMA(slow); sell when it crosses below."""

    name = "ema_crossover"
    params = (Param("fast", int, 12, 1, 200), Param("slow", int, 26, 2, 400))
    overlays = ("ema_fast", "ema_slow")

    @classmethod
    def check(cls, values):
        return _fast_below_slow(values)

    def warmup(self) -> int:
        return self.slow + 1

    def series(self, closes):
        return {
            "ema_fast": indicators.ema(closes, self.fast),
            "ema_slow": indicators.ema(closes, self.slow),
        }

    def decide(self, closes, series):
        fast, slow = f"EMA({self.fast})", f"EMA({self.slow})"
        return _crossing(series["ema_fast"], series["ema_slow"], fast, slow)


class RsiReversion(Algorithm):
    """Buy while RSI(period) is below `oversold`; sell while it is above `overbought`."""

    name = "rsi_reversion"
    params = (
        Param("period", int, 14, 2, 100),
        Param("oversold", float, 30.0, 0.0, 100.0),
        Param("overbought", float, 70.0, 0.0, 100.0),
    )
    oscillators = ("rsi",)

    @classmethod
    def check(cls, values):
        if values["oversold"] >= values["overbought"]:
            return [
                f"Oversold ({values['oversold']:g}) must be less than overbought "
                f"({values['overbought']:g})."
            ]
        return []

    def warmup(self) -> int:
        return self.period + 1

    def levels(self):
        return [self.oversold, self.overbought]

    def series(self, closes):
        return {"rsi": indicators.rsi(closes, self.period)}

    def decide(self, closes, series):
        value = series["rsi"][-1]
        label = f"RSI({self.period}) {fmt(value)}"
        if value < self.oversold:
            return BUY, f"{label} below oversold {self.oversold:g}"
        if value > self.overbought:
            return SELL, f"{label} above overbought {self.overbought:g}"
        return HOLD, f"{label} between {self.oversold:g} and {self.overbought:g}"


class BollingerBreakout(Algorithm):
    """Buy when the close breaks above the upper band; sell when it breaks below the lower."""

    name = "bollinger_breakout"
    params = (Param("period", int, 20, 2, 200), Param("stddev", float, 2.0, 0.1, 10.0))
    overlays = ("bb_lower", "bb_middle", "bb_upper")

    def warmup(self) -> int:
        return self.period + 1

    def series(self, closes):
        lower, middle, upper = indicators.bollinger(closes, self.period, self.stddev)
        return {"bb_lower": lower, "bb_middle": middle, "bb_upper": upper}

    def decide(self, closes, series):
        price = np.asarray(closes[-2:], dtype=np.float64)
        upper, lower = series["bb_upper"][-2:], series["bb_lower"][-2:]
        if indicators.crossed_above(price, upper)[-1]:
            return BUY, f"close {fmt(price[-1])} broke above the upper band {fmt(upper[-1])}"
        if indicators.crossed_below(price, lower)[-1]:
            return SELL, f"close {fmt(price[-1])} broke below the lower band {fmt(lower[-1])}"
        return HOLD, (
            f"close {fmt(price[-1])} within the bands ({fmt(lower[-1])} to {fmt(upper[-1])})"
            if lower[-1] <= price[-1] <= upper[-1]
            else f"close {fmt(price[-1])} still outside the bands, no new breakout"
        )


class MacdCross(Algorithm):
    """Buy when the MACD line crosses above its signal line; sell when it crosses below."""

    name = "macd_cross"
    params = (
        Param("fast", int, 12, 1, 200),
        Param("slow", int, 26, 2, 200),
        Param("signal", int, 9, 1, 100),
    )
    oscillators = ("macd", "macd_signal", "macd_hist")

    @classmethod
    def check(cls, values):
        return _fast_below_slow(values)

    def warmup(self) -> int:
        return self.slow + self.signal

    def levels(self):
        return [0.0]

    def series(self, closes):
        line, signal, histogram = indicators.macd(closes, self.fast, self.slow, self.signal)
        return {"macd": line, "macd_signal": signal, "macd_hist": histogram}

    def decide(self, closes, series):
        return _crossing(series["macd"], series["macd_signal"], "MACD", "its signal")
