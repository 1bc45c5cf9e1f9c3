"""Refreshing an exchange's symbol list: upsert what it lists, mark the rest inactive.

Delisted symbols keep their rows (and so their candles and tracked flag); they become active
again if the exchange lists them again.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .models import Exchange, Symbol
from .providers.base import Market


def store_markets(exchange: Exchange, markets: list[Market]) -> tuple[int, int]:
    """Upsert `markets` as `exchange`'s symbols; return (listed, newly delisted)."""
    now = timezone.now()
    rows = [
        Symbol(
            exchange=exchange,
            symbol=m.symbol,
            base=m.base,
            quote=m.quote,
            active=m.active,
            listed_at=now,
        )
        for m in markets
    ]
    listed = {m.symbol for m in markets}
    with transaction.atomic():
        Symbol.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["exchange", "symbol"],
            update_fields=["base", "quote", "active", "listed_at"],
        )
        stale = Symbol.objects.filter(exchange=exchange, active=True).exclude(symbol__in=listed)
        delisted = stale.update(active=False)
    return len(rows), delisted
