"""`manage.py backtest <strategy id> --since 2024-01-01 --until 2024-06-30`: a strategy over
stored candles, with the live runs' own code (see `strategies/backtest.py`), printing its
trades, total return, max drawdown and win rate. Writes nothing.

`--until` is inclusive when it is a date (the whole day); a datetime is an exclusive end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from strategies.backtest import Result, run_backtest
from strategies.models import Strategy
from strategies.paper import plain

BAR = 30


def parse_moment(option: str, text: str, end: bool = False) -> datetime:
    """A date (`2024-01-01`) or ISO datetime, in UTC when naive. A date given as an end
    means the end of that day."""
    try:
        day = parse_date(text)  # first: Python also reads a bare date as a datetime
        moment = None if day else parse_datetime(text)
    except ValueError:  # well formed, but no such day or time (2018-02-30)
        day = moment = None
    if day is not None:
        moment = datetime(day.year, day.month, day.day) + (
            timedelta(days=1) if end else timedelta()
        )
    elif moment is None:
        raise CommandError(f"{option} {text!r} is not a date like 2024-01-01")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


def percent(value) -> str:
    return f"{float(value) * 100:+.2f}%"


class Command(BaseCommand):
    help = (
        "Backtest a strategy over stored candles (--since to --until, UTC dates) with the "
        "code of live runs; prints trades, total return, max drawdown and win rate."
    )

    def add_arguments(self, parser):
        parser.add_argument("strategy_id", help="the strategy's id (admin shows it)")
        parser.add_argument("--since", required=True, help="first day, e.g. 2024-01-01 (UTC)")
        parser.add_argument("--until", required=True, help="last day, e.g. 2024-06-30 (UTC)")

    def handle(self, *args, strategy_id, since, until, **options):
        try:
            strategy = Strategy.objects.get(pk=int(strategy_id))
        except (ValueError, Strategy.DoesNotExist):
            raise CommandError(f"strategy {strategy_id!r} does not exist") from None
        start = parse_moment("--since", since)
        end = parse_moment("--until", until, end=True)
        try:
            result = run_backtest(strategy, start, end, progress=self.progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("")
        self.report(strategy, result)
        return None

    def progress(self, done: int, total: int) -> None:
        share = done / total
        bar = "#" * int(share * BAR)
        self.stdout.write(f"\r[{bar:<{BAR}}] {share:4.0%} {done}/{total} candles", ending="")
        self.stdout.flush()

    def report(self, strategy: Strategy, result: Result) -> None:
        out = self.stdout.write
        steps = result.steps
        out(
            f"{strategy.name}: {strategy.make_algorithm().signature()} "
            f"{strategy.parameters or ''} on {strategy.symbol} {strategy.timeframe}, "
            f"{len(steps)} candles from {steps[0].time:%Y-%m-%d %H:%M} "
            f"to {steps[-1].time:%Y-%m-%d %H:%M} UTC"
        )
        out("")
        fills = result.fills
        if fills:
            out(f"{'time (UTC)':<17} {'side':<4} {'price':>16} {'quantity':>18} {'fee':>14} P&L")
            for step in fills:
                fill = step.fill
                pnl = "" if fill.realised_pnl is None else plain(fill.realised_pnl)
                out(
                    f"{step.time:%Y-%m-%d %H:%M} {fill.side:<4} {plain(fill.price):>16} "
                    f"{plain(fill.quantity):>18} {plain(fill.fee):>14} {pnl}"
                )
        else:
            out("No trades.")
        out("")
        win_rate = result.win_rate
        trips = len(result.round_trips)
        out(f"Trades:        {len(fills)} ({trips} round trip{'s' if trips != 1 else ''})")
        out(f"Capital:       {plain(result.capital)}")
        out(f"Final equity:  {plain(result.final_equity)}")
        out(f"Total return:  {percent(result.total_return)}")
        out(f"Max drawdown:  {float(result.max_drawdown) * 100:.2f}%")
        out(f"Win rate:      {'n/a' if win_rate is None else f'{float(win_rate) * 100:.1f}%'}")
