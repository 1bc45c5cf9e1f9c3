"""Offline ccxt exchanges: the real ccxt client, with its `fetch` (the one place all its
HTTP traffic goes through) answering from recorded responses, as the data folder's README
shows. `SyntheticBinance` serves longer histories in Binance's recorded kline shape for
pagination, gaps and resume; it is labelled synthetic wherever it is used."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from market_data.providers.ccxt import CcxtProvider

HOUR_MS = 3_600_000


def load_markets(folder: Path, exchange_id: str) -> dict:
    markets = json.loads((folder / exchange_id / "markets_subset.json").read_text())
    if exchange_id == "binance":  # the fixture stores decimal places; ccxt now uses tick sizes
        for market in markets.values():
            market["precision"] = {k: 10**-v for k, v in market["precision"].items()}
    return markets


def install(
    monkeypatch,
    responses: Path,
    exchange_id: str,
    respond: Callable[[str], object],
    markets: dict | None = None,
) -> list[str]:
    """Make every `CcxtProvider` for `exchange_id` an offline client: preloaded markets
    (from the recording unless given), and `respond(url)` as the exchange. Returns the list
    of requested URLs. `respond` may raise a ccxt error to play a failing exchange."""
    calls: list[str] = []
    real = CcxtProvider.make_client

    def make_client(self):
        client = real(self)
        if self.exchange_id != exchange_id:
            return client
        client.enableRateLimit = False
        chosen = markets if markets is not None else load_markets(responses, exchange_id)
        client.set_markets(list(json.loads(json.dumps(chosen)).values()))

        async def fetch(url, method="GET", headers=None, body=None):
            calls.append(url)
            return json.loads(json.dumps(respond(url)))  # a fresh copy, as a real body is

        client.fetch = fetch
        return client

    monkeypatch.setattr(CcxtProvider, "make_client", make_client)
    return calls


class SyntheticBinance:
    """SYNTHETIC data in the recorded Binance kline shape: hourly candles for `hours` from
    `start_ms`, prices as strings, minus the hours in `missing`. Honours startTime/limit."""

    def __init__(self, start_ms: int, hours: int, missing: set[int] = frozenset()):
        self.rows = []
        for i in range(hours):
            if i in missing:
                continue
            price = Decimal("43000.10") + i
            self.rows.append(
                [
                    start_ms + i * HOUR_MS,
                    f"{price:.8f}",
                    f"{price + 5:.8f}",
                    f"{price - 5:.8f}",
                    f"{price + 1:.8f}",
                    "12.34500000",
                    start_ms + (i + 1) * HOUR_MS - 1,
                    "530000.00000000",
                    100,
                    "6.00000000",
                    "260000.00000000",
                    "0",
                ]
            )

    def __call__(self, url: str) -> list:
        query = parse_qs(urlparse(url).query)
        since = int(query.get("startTime", ["0"])[0])
        limit = int(query.get("limit", ["500"])[0])
        return [row for row in self.rows if row[0] >= since][:limit]
