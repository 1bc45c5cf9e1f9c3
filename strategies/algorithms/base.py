"""The contract every strategy algorithm keeps.

An algorithm is built from validated parameters and judges one candle at a time: given the
closes up to and including that candle (oldest first), `evaluate` says buy, sell or hold,
why, and the indicator values it looked at. It must depend on nothing but those closes, so
a live run and a backtest over the same candles decide alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from django.core.exceptions import ValidationError

BUY, SELL, HOLD = "buy", "sell", "hold"


@dataclass(frozen=True)
class Param:
    """One parameter: its type (int or float), default and inclusive range."""

    name: str
    kind: type
    default: int | float
    minimum: int | float
    maximum: int | float

    def clean(self, value: object) -> int | float:
        """`value` as this parameter's type; `ValueError` with a readable message."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{self.name} must be a number, not {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{self.name} must be a finite number")
        if self.kind is int:
            if value != int(value):
                raise ValueError(f"{self.name} must be a whole number, not {value!r}")
            value = int(value)
        else:
            value = float(value)
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{self.name} must be from {self.minimum} to {self.maximum}")
        return value


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    indicators: dict[str, float | None] = field(default_factory=dict)


def rounded(value: float) -> float | None:
    """An indicator value as stored: 10 significant digits (float64 noise dropped), None
    while undefined."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.10g}")


class Algorithm:
    """Base class. Subclasses set `name` and `params`, and implement `series` and `decide`.

    `overlays` name the series drawn over the price chart; `oscillators` those drawn in
    a panel of their own, with `levels()` as its reference lines.
    """

    name = ""
    params: tuple[Param, ...] = ()
    overlays: tuple[str, ...] = ()
    oscillators: tuple[str, ...] = ()

    def __init__(self, values: object = None):
        """`values`: the parameters (a dict; missing ones take their defaults).
        `ValidationError` listing every problem when they are not valid."""
        self.values = self.clean({} if values is None else values)
        for key, value in self.values.items():
            setattr(self, key, value)

    @classmethod
    def signature(cls) -> str:
        return f"{cls.name}({', '.join(p.name for p in cls.params)})"

    @classmethod
    def defaults(cls) -> dict[str, int | float]:
        return {p.name: p.default for p in cls.params}

    @classmethod
    def clean(cls, raw: object) -> dict[str, int | float]:
        """The parameters with defaults filled in, checked for type, range and the
        algorithm's own rules; `ValidationError` listing every problem otherwise."""
        if not isinstance(raw, dict):
            raise ValidationError('Parameters must be a JSON object, e.g. {"fast": 10}.')
        known = {p.name: p for p in cls.params}
        errors = [
            f"{cls.name} has no parameter {key!r} (it takes {', '.join(known)})."
            for key in raw
            if key not in known
        ]
        values: dict[str, int | float] = {}
        for param in cls.params:
            try:
                values[param.name] = param.clean(raw.get(param.name, param.default))
            except ValueError as exc:
                errors.append(str(exc).capitalize() + ".")
        if not errors:
            errors = cls.check(values)
        if errors:
            raise ValidationError(errors)
        return values

    @classmethod
    def check(cls, values: dict) -> list[str]:
        """Rules across parameters (fast < slow); a list of messages, empty when fine."""
        return []

    def warmup(self) -> int:
        """Candles needed before the first decision that is not a warm-up hold."""
        raise NotImplementedError

    def series(self, closes: np.ndarray) -> dict[str, np.ndarray]:
        """Every indicator this algorithm uses, each as long as `closes`."""
        raise NotImplementedError

    def decide(self, closes: np.ndarray, series: dict[str, np.ndarray]) -> tuple[str, str]:
        """(action, reason) for the last candle of `closes`."""
        raise NotImplementedError

    def levels(self) -> list[float]:
        return []

    def evaluate(self, closes: np.ndarray) -> Decision:
        """The decision on the last of `closes` (oldest first)."""
        series = self.series(closes)
        indicators = {name: rounded(values[-1]) for name, values in series.items()}
        if len(closes) < self.warmup():
            reason = f"warming up: {len(closes)} of {self.warmup()} candles"
            return Decision(HOLD, reason, indicators)
        action, reason = self.decide(closes, series)
        return Decision(action, reason, indicators)


def fmt(value: float) -> str:
    """A number for a reason line: 6 significant digits."""
    return f"{value:.6g}"
