"""The strategy algorithm registry: a strategy's `algorithm` names one of `ALGORITHMS`.

Like the market-data providers: a dict of name → dotted path, and one base class
(`base.Algorithm`) whose methods document the contract.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from .base import Algorithm, Decision, Param

__all__ = ["ALGORITHMS", "Algorithm", "Decision", "Param", "algorithm_class", "choices"]

ALGORITHMS: dict[str, str] = {
    "sma_crossover": "strategies.algorithms.classic.SmaCrossover",
    "ema_crossover": "strategies.algorithms.classic.EmaCrossover",
    "rsi_reversion": "strategies.algorithms.classic.RsiReversion",
    "bollinger_breakout": "strategies.algorithms.classic.BollingerBreakout",
    "macd_cross": "strategies.algorithms.classic.MacdCross",
}


def algorithm_class(name: str) -> type[Algorithm]:
    """The class registered as `name`; `ValueError` naming the choices otherwise."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}")
    return import_string(ALGORITHMS[name])


def choices() -> list[tuple[str, str]]:
    return [(name, algorithm_class(name).signature()) for name in ALGORITHMS]
