"""Candles from CSV files, for offline runs on recorded data.

The folder `MARKET_DATA_REPLAY_DIR` holds one file per market and timeframe, named
`<exchange>_<BASE>-<QUOTE>_<timeframe>.csv` (or without the exchange prefix, shared by all
exchanges), with the header `timestamp_ms,open,high,low,close,volume`. Values are read as
text straight into `Decimal`. Rows are served sorted and de-duplicated, gaps as recorded.
"""

from __future__ import annotations

import bisect
import csv
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from ..timeframes import TIMEFRAMES
from .base import BadSymbol, Market, MarketDataProvider, ProviderError, RawCandle

HEADER = ["timestamp_ms", "open", "high", "low", "close", "volume"]
NAME = re.compile(r"^(?:(?P<exchange>[a-z0-9]+)_)?(?P<pair>[A-Za-z0-9-]+)_(?P<tf>\w+)\.csv$")


@lru_cache(maxsize=64)
def _read(path: Path, mtime: float) -> tuple[RawCandle, ...]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        if next(reader, None) != HEADER:
            raise ProviderError(f"{path.name}: the header must be {','.join(HEADER)}")
        rows = {}
        for line, row in enumerate(reader, start=2):
            try:
                rows[int(row[0])] = (int(row[0]), *(Decimal(v) for v in row[1:6]))
            except (ValueError, IndexError, ArithmeticError):
                raise ProviderError(f"{path.name} line {line}: not a candle: {row}") from None
    return tuple(rows[ms] for ms in sorted(rows))


class ReplayProvider(MarketDataProvider):
    page_limit = 1000

    @classmethod
    def check_exchange_id(cls, exchange_id: str) -> None:
        if not re.fullmatch(r"[a-z0-9]+", exchange_id):
            raise ValueError(f"exchange id {exchange_id!r} must be lowercase letters and digits")

    @property
    def folder(self) -> Path:
        return Path(settings.MARKET_DATA_REPLAY_DIR)

    def _files(self) -> dict[tuple[str, str], Path]:
        """(symbol, timeframe) → file, this exchange's own files winning over shared ones."""
        found: dict[tuple[str, str], Path] = {}
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("*.csv")):
            match = NAME.match(path.name)
            if not match or match["tf"] not in TIMEFRAMES:
                continue
            if match["exchange"] not in (None, self.exchange_id):
                continue
            base, _, quote = match["pair"].partition("-")
            key = (f"{base}/{quote.replace('-', ':')}", match["tf"])
            if match["exchange"] or key not in found:
                found[key] = path
        return found

    def timeframes(self) -> list[str]:
        return list(TIMEFRAMES)

    async def load_markets(self) -> list[Market]:
        symbols = sorted({symbol for symbol, _ in self._files()})
        return [Market(s, s.split("/")[0], s.split("/")[1].split(":")[0]) for s in symbols]

    async def fetch_candles(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[RawCandle]:
        path = self._files().get((symbol, timeframe))
        if path is None:
            raise BadSymbol(f"no replay file for {symbol} {timeframe} in {self.folder}")
        rows = _read(path, path.stat().st_mtime)
        start = bisect.bisect_left(rows, since_ms, key=lambda row: row[0])
        return list(rows[start : start + limit])
