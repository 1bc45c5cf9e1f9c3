"""Timeframes in ccxt notation and their lengths; candles open on multiples of the length
counted from the Unix epoch (a 1h candle at :00, a 1d candle at 00:00 UTC)."""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError

MINUTE_MS = 60_000

TIMEFRAMES: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
}


def timeframe_ms(timeframe: str) -> int:
    """The length of `timeframe` in milliseconds; `ValueError` naming the choices."""
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        raise ValueError(
            f"unsupported timeframe {timeframe!r}; choose one of {', '.join(TIMEFRAMES)}"
        ) from None


def floor_ms(ms: int, timeframe: str) -> int:
    """The open time of the candle that contains `ms`."""
    step = timeframe_ms(timeframe)
    return ms - ms % step


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def validate_timeframes(value: str) -> None:
    """Model validator for a comma-separated list of timeframes."""
    items = [t.strip() for t in value.split(",") if t.strip()]
    if not items:
        raise ValidationError("Give at least one timeframe, e.g. 1h.")
    for item in items:
        try:
            timeframe_ms(item)
        except ValueError as exc:
            raise ValidationError(str(exc).capitalize() + ".") from None
