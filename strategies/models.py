"""Strategies: what the user switches on and off. Each active strategy has a job,
`strategy_<id>`, that the scheduler runs every `interval_seconds`; each run records signals
and trades on the strategy's paper account (this version never places a real order)."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction

from market_data import listing
from market_data.models import PRICE, Symbol, validate_exchange_id
from scheduler import registry
from scheduler.audit import log_action
from scheduler.models import Schedule
from scheduler.slots import MAX_INTERVAL, MIN_INTERVAL

from .algorithms import ALGORITHMS, Algorithm, algorithm_class
from .algorithms import choices as algorithm_choices

MONEY = {"max_digits": 36, "decimal_places": 18}


class StrategyQuerySet(models.QuerySet):
    def reset_accounts(self) -> int:
        """Delete the paper accounts, signals and trades of these strategies, nothing else;
        each account opens afresh, with the strategy's capital, at its next run. Returns how
        many accounts were deleted.

        The accounts go first: deleting one waits for a run recording on it (the run holds
        its row lock), so that run's signals and trades are committed, and deleted, next."""
        with transaction.atomic():
            count, _ = PaperAccount.objects.filter(strategy__in=self).delete()
            Trade.objects.filter(strategy__in=self).delete()
            Signal.objects.filter(strategy__in=self).delete()
        return count

    def delete(self):
        """Bulk deletes (admin's "Delete selected") remove the strategies' jobs too."""
        with transaction.atomic():
            job_ids = [registry.strategy_job_id(pk) for pk in self.values_list("pk", flat=True)]
            Schedule.objects.filter(job_id__in=job_ids).delete()
            return super().delete()

    def visible_to(self, user):
        """The strategies `user` may see and change: their own, or all for a superuser.
        Admin, pages and the API all scope through this one method."""
        if user.is_superuser:
            return self
        return self.filter(owner_id=user.pk)


class Strategy(models.Model):
    TIMEFRAMES = [
        ("1m", "1 minute"),
        ("5m", "5 minutes"),
        ("15m", "15 minutes"),
        ("1h", "1 hour"),
        ("4h", "4 hours"),
        ("1d", "1 day"),
    ]

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="strategies",
        help_text="Who sees and changes this strategy (superusers see all).",
    )
    symbol = models.CharField(max_length=30, default="BTC/USDT", help_text="e.g. BTC/USDT")
    timeframe = models.CharField(max_length=5, choices=TIMEFRAMES, default="1h")
    interval_seconds = models.PositiveIntegerField(
        "interval (seconds)",
        default=300,
        validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text="How often the strategy runs: from 1 second to 31 days.",
    )
    is_active = models.BooleanField(
        "active", default=False, help_text="Active strategies run on their interval."
    )
    start_immediately = models.BooleanField(
        default=True, help_text="On start, run at once instead of one interval later."
    )
    # Choices and the parameters' help text are fixed at import, so migrations hold them as
    # literals and never import the algorithms (a new algorithm comes with a migration).
    algorithm = models.CharField(
        max_length=40,
        choices=algorithm_choices(),
        default="sma_crossover",
        help_text="How the strategy decides to buy, sell or hold on each closed candle.",
    )
    parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="The algorithm's parameters as JSON; left out ones take their defaults. "
        + "; ".join(
            f"{name}: {', '.join(f'{k}={v}' for k, v in algorithm_class(name).defaults().items())}"
            for name in ALGORITHMS
        )
        + ".",
    )
    exchange = models.CharField(
        "exchange id",
        max_length=50,
        default="simulated",
        validators=[validate_exchange_id],
        help_text="Whose candles it reads (ccxt id, or `simulated` for the offline market). "
        "Read only: no order is ever sent.",
    )
    capital = models.DecimalField(
        "paper capital",
        max_digits=20,
        decimal_places=8,
        default=Decimal("10000"),
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("1e9"))],
        help_text="Cash the paper account opens with, in the quote currency (e.g. USDT): at "
        "the first run, and at the first run after “Reset paper account”. Changing it does "
        "not change an open account.",
    )
    fee_rate = models.DecimalField(
        max_digits=8,
        decimal_places=6,
        default=Decimal("0.001"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.1"))],
        help_text="Charged on each paper fill, as a fraction of its value: 0.001 is 0.1%.",
    )
    max_failures = models.PositiveSmallIntegerField(
        "stop after failures",
        default=5,
        validators=[MinValueValidator(1)],
        help_text="The strategy stops itself after this many failed runs in a row.",
    )
    stopped_reason = models.CharField(
        max_length=500,
        blank=True,
        editable=False,
        help_text="Why the strategy stopped itself; cleared when it is started again.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StrategyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "strategies"
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.symbol} {self.timeframe})"

    def save(self, *args, **kwargs) -> None:
        """Save and bring job `strategy_<id>` in line, in one transaction, however the
        strategy was changed (admin form, list checkbox, action, API, shell). Starting a
        strategy that stopped itself clears the reason it stopped."""
        if self.is_active and self.stopped_reason:
            self.stopped_reason = ""
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "stopped_reason"}
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.sync_schedule()

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            Schedule.objects.filter(job_id=self.job_id).delete()
            return super().delete(*args, **kwargs)

    def clean_fields(self, exclude=None) -> None:
        """The fields' own checks, then the parameters against the chosen algorithm (types,
        ranges, fast < slow), with the errors on the parameters field; valid parameters are
        stored with their defaults filled in.

        Here rather than in `clean()`: a form without the parameters field (the list's
        Active checkbox) excludes it, and an error on an excluded field would crash it."""
        errors: dict = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        skip = set(exclude or ()) | set(errors)
        if not {"parameters", "algorithm"} & skip:
            try:
                self.parameters = self._checked_parameters()
            except ValidationError as exc:
                errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    MARKET_FIELDS = ("exchange", "symbol", "timeframe")

    def clean(self) -> None:
        """A new or changed market must be one the exchange lists (`listing.unlisted`:
        the error names the symbol and suggests close ones). The market of a strategy with
        a paper account stays as it is: the account's position and signals are in that
        market. Reset the account to change it."""
        stored = None
        if self.pk is not None:
            stored = Strategy.objects.filter(pk=self.pk).values(*self.MARKET_FIELDS).first()
        changed = [f for f in self.MARKET_FIELDS if stored is None or stored[f] != getattr(self, f)]
        if stored and changed and PaperAccount.objects.filter(strategy_id=self.pk).exists():
            message = (
                "Fixed while the strategy has a paper account (its position and signals are "
                "in this market); reset the paper account first to change it."
            )
            raise ValidationError({field: message for field in changed})
        if {"exchange", "symbol"} & set(changed) and self.exchange and self.symbol:
            problem = listing.unlisted(self.exchange, self.symbol)
            if problem:
                raise ValidationError({"symbol": problem})

    def _checked_parameters(self) -> dict:
        cls = algorithm_class(self.algorithm)
        try:
            values = cls.clean(self.parameters if self.parameters is not None else {})
        except ValidationError as exc:
            raise ValidationError({"parameters": exc.messages}) from None
        needed, history = cls(values).warmup(), settings.STRATEGY_HISTORY_CANDLES
        if needed > history:
            raise ValidationError(
                {
                    "parameters": f"These parameters need {needed} candles of history; a run "
                    f"reads {history} (STRATEGY_HISTORY_CANDLES)."
                }
            )
        return values

    def make_algorithm(self) -> Algorithm:
        """The algorithm with this strategy's parameters; `ValueError` with a readable
        message when they are not valid for it (a strategy written past `clean`)."""
        cls = algorithm_class(self.algorithm)
        try:
            return cls(self.parameters)
        except ValidationError as exc:
            raise ValueError(
                f"invalid parameters for {cls.name}: {' '.join(exc.messages)}"
            ) from None

    def stored_market(self) -> Symbol | None:
        """The market row of this strategy's exchange and symbol, with its exchange; None
        until one is stored (a run creates it: `trading.market`)."""
        rows = Symbol.objects.filter(exchange__ccxt_id=self.exchange, symbol=self.symbol)
        return rows.select_related("exchange").first()

    @property
    def job_id(self) -> str:
        return registry.strategy_job_id(self.pk)

    def sync_schedule(self) -> None:
        if not self.is_active and not Schedule.objects.filter(job_id=self.job_id).exists():
            return
        Schedule.objects.set_strategy_job(
            self.pk,
            active=self.is_active,
            interval_seconds=self.interval_seconds,
            start_immediately=self.start_immediately,
            label=f"Strategy {self.name}",
            paused_reason=self.stopped_reason,
        )

    # `start` and `stop` are the one way a strategy starts and stops, whoever asks (admin
    # actions and the Active checkbox, the JSON API, the status pages, the guide's Python
    # API, the auto-stop): the same validation, the same save, the same audit entry. Each
    # surface turns a `ValidationError` into its own kind of error.

    def start(self, *, by=None, via: str = "Python", **changes) -> bool:
        """Start the strategy, first applying `changes` to its fields (a new interval, say).

        Validates what it changes (`ValidationError`, nothing saved), saves only those
        fields (a run's bookkeeping written meanwhile is kept), brings its job in line and
        records who did it through what (`by`, `via`) in admin's history.
        Returns False when it was already running; an active strategy whose job was
        disabled meanwhile gets it back.
        """
        changed = not self._active_in_database()
        for name, value in changes.items():
            setattr(self, name, value)
        self.is_active = True
        if not (changed or changes):
            self.sync_schedule()
            return False
        self._validate(changes)
        self._save_fields("is_active", *changes)
        log_action(by, self, f"Started ({via})")
        return changed

    def stop(self, *, by=None, via: str = "Python", reason: str = "", **changes) -> bool:
        """Stop the strategy (its job stops firing; its history stays), first applying
        `changes`; `reason` is kept when it stopped itself. Returns False when it was
        already stopped."""
        was_active = self._active_in_database()
        if not (was_active or changes):
            return False
        for name, value in changes.items():
            setattr(self, name, value)
        self.is_active = False
        fields = ["is_active", *changes]
        if reason:
            self.stopped_reason = reason[: self._meta.get_field("stopped_reason").max_length]
            fields.append("stopped_reason")
        self._validate(changes)
        self._save_fields(*fields)
        if was_active:
            log_action(by, self, f"Stopped ({via})")
        return was_active

    def _active_in_database(self) -> bool:
        """Whether the stored row is active: the caller's instance may already carry a
        form's new value."""
        return self.pk is not None and Strategy.objects.filter(pk=self.pk, is_active=True).exists()

    def _validate(self, changes: dict) -> None:
        """The checks of the changed fields and the strategy's own (`clean`): a stored
        value written past validation does not stop a start or a stop."""
        if changes:
            others = [f.name for f in self._meta.fields if f.name not in changes]
            self.full_clean(exclude=others)

    def _save_fields(self, *names: str) -> None:
        self.save(update_fields=[*names, "updated_at"] if self.pk else None)


class PaperAccount(models.Model):
    """A strategy's paper account, and what its runs keep about themselves.

    Written only by runs (under a row lock, in the transaction that records the signal),
    never by admin forms, so an admin's edit of the strategy and a run never overwrite
    each other. Opened with the strategy's capital at its first run.
    """

    strategy = models.OneToOneField(
        Strategy, on_delete=models.CASCADE, primary_key=True, related_name="account"
    )
    capital = models.DecimalField(**MONEY, help_text="Cash the account was opened with.")
    cash = models.DecimalField(**MONEY)
    position = models.DecimalField(**MONEY, default=0, help_text="Quantity held (base currency).")
    cost = models.DecimalField(
        **MONEY, default=0, help_text="What the open position cost, fees included."
    )
    realised_pnl = models.DecimalField("realised P&L", **MONEY, default=0)
    fees_paid = models.DecimalField(**MONEY, default=0)
    last_price = models.DecimalField(**PRICE, null=True, blank=True)
    equity = models.DecimalField(**MONEY, help_text="Cash + position × last price.")
    last_signal_at = models.DateTimeField(
        null=True, blank=True, help_text="Open time of the newest candle with a signal."
    )
    last_action = models.CharField(max_length=4, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_status = models.CharField(max_length=20, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Paper account of {self.strategy_id}"

    @property
    def pnl(self) -> Decimal:
        """Total P&L: equity less the opening capital (realised + unrealised)."""
        return self.equity - self.capital

    @property
    def unrealised_pnl(self) -> Decimal:
        return self.pnl - self.realised_pnl


class Signal(models.Model):
    """What a strategy decided on one closed candle. One per strategy and candle, however
    often a slot is delivered or runs overlap (the unique constraint is the last guard)."""

    ACTIONS = [("buy", "buy"), ("sell", "sell"), ("hold", "hold")]

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="signals")
    candle_time = models.DateTimeField(help_text="Open time of the candle it judged.")
    action = models.CharField(max_length=4, choices=ACTIONS)
    price = models.DecimalField(**PRICE, help_text="The candle's close.")
    indicators = models.JSONField(default=dict)
    reason = models.CharField(max_length=300)
    equity = models.DecimalField(**MONEY, help_text="Account equity after this candle.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-candle_time"]
        constraints = [
            # Also the index of "a strategy's signals by time" (admin, chart, last signal).
            models.UniqueConstraint(
                fields=["strategy", "candle_time"], name="signal_unique_strategy_candle"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} at {self.price} ({self.candle_time:%Y-%m-%d %H:%M})"


class Trade(models.Model):
    """A paper fill, at the close of the candle whose signal caused it."""

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="trades")
    signal = models.OneToOneField(Signal, on_delete=models.CASCADE, related_name="trade")
    time = models.DateTimeField(help_text="Open time of the signal's candle.")
    side = models.CharField(max_length=4, choices=Signal.ACTIONS[:2])
    price = models.DecimalField(**PRICE)
    quantity = models.DecimalField(**MONEY)
    notional = models.DecimalField(**MONEY, help_text="Quantity × price.")
    fee = models.DecimalField(**MONEY)
    cash_after = models.DecimalField(**MONEY)
    realised_pnl = models.DecimalField(
        "realised P&L",
        **MONEY,
        null=True,
        blank=True,
        help_text="Of the round trip a sell closes, fees included.",
    )

    class Meta:
        ordering = ["-time"]
        indexes = [
            # "a strategy's trades by time" (admin change page, chart markers).
            models.Index(fields=["strategy", "time"], name="trade_strategy_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} at {self.price}"
