"""Exchanges, their symbols, and candles; plus the health reports the hourly check records.

Prices are `Decimal` from the exchange's text to the database (see `providers/base.py`).
Candles are keyed on (symbol, timeframe, open time), so every writer upserts and a candle
fetched twice is stored once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import connections, models, transaction
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables

from . import crypto
from .providers import provider_class
from .timeframes import TIMEFRAMES, validate_timeframes

PRICE = {"max_digits": 36, "decimal_places": 18}
UPSERT_BATCH = 1000


def validate_exchange_id(value: str) -> None:
    try:
        provider_class().check_exchange_id(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class Exchange(models.Model):
    """An exchange the hub reads from, by its ccxt id (`binance`, `kraken`, `simulated`)."""

    ccxt_id = models.CharField(
        "exchange id",
        max_length=50,
        unique=True,
        validators=[validate_exchange_id],
        help_text="The ccxt id, e.g. binance or kraken; `simulated` for the offline market.",
    )
    name = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(
        default=True, help_text="Only enabled exchanges are collected and refreshed."
    )
    credentials_encrypted = models.TextField(
        blank=True,
        editable=False,
        help_text="API key and secret, encrypted with FIELD_ENCRYPTION_KEY; never shown.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ccxt_id"]
        permissions = [
            # Exchanges (their credentials), symbols (tracking drives the collector for
            # everyone) and candles are shared: the model permissions a staff member
            # usually holds are not enough to change them.
            ("manage_market_data", "Can change the shared exchanges, symbols and candles"),
        ]

    def __str__(self) -> str:
        return self.name or self.ccxt_id

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    @method_decorator(sensitive_variables("api_key", "secret"))
    def set_credentials(self, api_key: str, secret: str) -> None:
        """Encrypt and keep the credentials (both empty clears them); raises
        `crypto.CredentialsError` when FIELD_ENCRYPTION_KEY is missing or malformed."""
        if not api_key and not secret:
            self.credentials_encrypted = ""
        else:
            self.credentials_encrypted = crypto.encrypt({"apiKey": api_key, "secret": secret})

    def credentials(self) -> dict[str, str]:
        """The decrypted credentials, `{}` when none are stored; raises
        `crypto.CredentialsError` with a readable message when they cannot be read."""
        if not self.credentials_encrypted:
            return {}
        return crypto.decrypt(self.credentials_encrypted)

    def rotate_credentials(self) -> None:
        """Re-encrypt the stored credentials with the first key of FIELD_ENCRYPTION_KEY."""
        if self.credentials_encrypted:
            self.credentials_encrypted = crypto.rotate(self.credentials_encrypted)
            self.save(update_fields=["credentials_encrypted"])


class SymbolQuerySet(models.QuerySet):
    def collectable(self) -> SymbolQuerySet:
        return self.filter(tracked=True, active=True, exchange__enabled=True)


class Symbol(models.Model):
    """A market on an exchange, in ccxt notation (`BTC/USDT`). Tracked symbols are collected
    in each of their timeframes. A delisted symbol becomes inactive and keeps its candles."""

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="symbols")
    symbol = models.CharField(max_length=50, help_text="ccxt notation, e.g. BTC/USDT.")
    base = models.CharField(max_length=20, blank=True)
    quote = models.CharField(max_length=20, blank=True)
    active = models.BooleanField(
        default=True, help_text="False once the exchange no longer lists it (history is kept)."
    )
    tracked = models.BooleanField(default=False, help_text="Collected every run when true.")
    timeframes = models.CharField(
        max_length=100,
        default="1h",
        validators=[validate_timeframes],
        help_text=f"Comma-separated, of: {', '.join(TIMEFRAMES)}.",
    )
    last_collected_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    listed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the exchange last listed it (update_exchange_symbols); empty for a "
        "row made for a symbol typed by hand.",
    )

    objects = SymbolQuerySet.as_manager()

    class Meta:
        ordering = ["exchange", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol"], name="symbol_unique_exchange"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.exchange.ccxt_id})"

    def timeframe_list(self) -> list[str]:
        return [t.strip() for t in self.timeframes.split(",") if t.strip()]


def _array(values: list) -> str:
    """A PostgreSQL array literal of numbers (which need no quoting)."""
    if None in values:
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    return "{" + ",".join(map(str, values)) + "}"


class CandleManager(models.Manager):
    def upsert_many(self, symbol: Symbol, timeframe: str, rows: Iterable[tuple]) -> int:
        """Store `rows` (open time in ms, open, high, low, close, volume as `Decimal`) once
        each: a candle already stored is overwritten (the newest one may still have been
        forming). Duplicates in `rows` keep the last seen. Each batch of 1,000 is one
        transaction, so an interrupted call leaves whole batches only. Returns the count.

        One `INSERT … ON CONFLICT DO UPDATE` per batch, written out rather than
        `bulk_create(update_conflicts=True)`: building a model instance and preparing each
        field made that several times slower (collection and backfill are all upserts). On
        PostgreSQL each column travels as one array literal unpacked by `unnest`: parsing
        8,000 separate parameters cost the server more than the insert itself. Prices are
        written as `Decimal` text, never through float.
        """
        unique = {row[0]: row for row in rows}
        ordered = [unique[ms] for ms in sorted(unique)]
        connection = connections[self.db]
        qn = connection.ops.quote_name
        adapt_time = connection.ops.adapt_datetimefield_value
        value_columns = ["open", "high", "low", "close", "volume"]
        columns = ", ".join(qn(c) for c in ["symbol_id", "timeframe", "open_time", *value_columns])
        updates = ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in value_columns)
        head = f"INSERT INTO {qn(self.model._meta.db_table)} ({columns}) VALUES "
        tail = (
            f" ON CONFLICT ({qn('symbol_id')}, {qn('timeframe')}, {qn('open_time')})"
            f" DO UPDATE SET {updates}"
        )
        if connection.vendor == "postgresql":
            head = (
                f"INSERT INTO {qn(self.model._meta.db_table)} ({columns}) "
                "SELECT %s, %s, TIMESTAMPTZ 'epoch' + u.ms * INTERVAL '1 millisecond', "
                "u.o, u.h, u.l, u.c, u.v FROM unnest(%s::bigint[], %s::numeric[], "
                "%s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[]) "
                "AS u(ms, o, h, l, c, v)"
            )
        written = 0
        for start in range(0, len(ordered), UPSERT_BATCH):
            batch = ordered[start : start + UPSERT_BATCH]
            if connection.vendor == "postgresql":
                params: list = [symbol.pk, timeframe]
                params += [_array([row[i] for row in batch]) for i in range(6)]
                sql = head + tail
            else:
                params = []
                for ms, o, h, lo, c, v in batch:
                    when = adapt_time(datetime.fromtimestamp(ms / 1000, tz=UTC))
                    params.extend((symbol.pk, timeframe, when, o, h, lo, c, v))
                sql = head + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(batch)) + tail
            with transaction.atomic(using=self.db), connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    # Candles can be fetched again, so a batch need not wait for its WAL
                    # flush: a crash may lose the last batches (never half of one), and the
                    # next run re-fetches from the newest candle stored. Only this
                    # transaction is affected.
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                cursor.execute(sql, params)
            written += len(batch)
        return written

    def newest_open_time(self, symbol: Symbol, timeframe: str) -> datetime | None:
        return (
            self.filter(symbol=symbol, timeframe=timeframe)
            .order_by("-open_time")
            .values_list("open_time", flat=True)
            .first()
        )


class Candle(models.Model):
    """One OHLCV candle; `open_time` is the start of its period, in UTC."""

    # No index of its own: the unique constraint below starts with it (one index less to
    # maintain on every upsert).
    symbol = models.ForeignKey(
        Symbol, on_delete=models.CASCADE, related_name="candles", db_index=False
    )
    timeframe = models.CharField(max_length=4)
    open_time = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.DecimalField(**PRICE)

    objects = CandleManager()

    class Meta:
        constraints = [
            # Also the index of "newest candle of a symbol and timeframe" (incremental
            # collection, freshness) and of chart ranges: its columns are in that order.
            models.UniqueConstraint(
                fields=["symbol", "timeframe", "open_time"], name="candle_unique_symbol_tf_time"
            ),
        ]
        indexes = [
            # cleanup_old_data: "candles opened before the retention cutoff", across symbols.
            models.Index(fields=["open_time"], name="candle_retention_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol_id} {self.timeframe} {self.open_time:%Y-%m-%d %H:%M}"


class Backfill(models.Model):
    """Progress of `manage.py backfill_candles` for one symbol, timeframe and start, so an
    interrupted backfill resumes after the last page it stored."""

    symbol = models.ForeignKey(Symbol, on_delete=models.CASCADE, related_name="backfills")
    timeframe = models.CharField(max_length=4)
    since = models.DateTimeField()
    cursor = models.DateTimeField(
        null=True, blank=True, help_text="Open time of the newest candle stored so far."
    )
    candles = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "timeframe", "since"], name="backfill_unique_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe} since {self.since:%Y-%m-%d}"
