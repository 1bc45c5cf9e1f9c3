"""What admin shows of a strategy's paper trading: the list's account columns and the
change page's account line, chart link and recent signals and trades (as HTML tables)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .models import PaperAccount, Strategy
from .paper import money, plain

RECENT = 20
NONE = "—"


def _money(value) -> str:
    return plain(money(value))


def account_of(strategy: Strategy) -> PaperAccount | None:
    """The strategy's account (selected with it in the list), or None before the first run."""
    try:
        return strategy.account
    except PaperAccount.DoesNotExist:
        return None


def last_run(account: PaperAccount | None) -> str:
    if account is None or account.last_run_at is None:
        return NONE
    return f"{account.last_run_at:%Y-%m-%d %H:%M:%S} · {account.last_run_status}"


def last_signal(account: PaperAccount | None) -> str:
    if account is None or account.last_signal_at is None:
        return NONE
    return f"{account.last_action} · {account.last_signal_at:%Y-%m-%d %H:%M}"


def equity(account: PaperAccount | None) -> str:
    return NONE if account is None else _money(account.equity)


def pnl(account: PaperAccount | None) -> str:
    """Total P&L and its share of the capital: `+12.5 (+0.13%)`."""
    if account is None:
        return NONE
    share = account.pnl / account.capital * 100 if account.capital else 0
    sign = "+" if account.pnl > 0 else ""
    return f"{sign}{_money(account.pnl)} ({share:+.2f}%)"


def account_summary(account: PaperAccount | None) -> str:
    if account is None:
        return "Opened at the first run, with the paper capital above."
    return format_html(
        "cash {} · position {} · equity {} · P&amp;L {} (realised {}, unrealised {}) · "
        "fees {} · {} failed run(s) in a row",
        _money(account.cash),
        plain(account.position),
        _money(account.equity),
        _money(account.pnl),
        _money(account.realised_pnl),
        _money(account.unrealised_pnl),
        _money(account.fees_paid),
        account.consecutive_failures,
    )


def chart_link(strategy: Strategy) -> str:
    if strategy.pk is None:
        return NONE
    url = reverse("strategies:strategy-detail", args=[strategy.pk])
    return format_html('<a href="{}">Price, indicators, trades and equity</a>', url)


def _table(headings: list[str], rows: list[tuple]) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headings))
    cells = "".join("<td>{}</td>" for _ in headings)
    body = format_html_join("", "<tr>" + cells + "</tr>", rows)
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def recent_signals(strategy: Strategy) -> str:
    rows = [
        (f"{s.candle_time:%Y-%m-%d %H:%M}", s.action, plain(s.price), s.reason, _money(s.equity))
        for s in strategy.signals.order_by("-candle_time")[:RECENT]
    ]
    if not rows:
        return "No signal yet."
    return _table(["candle (UTC)", "action", "close", "reason", "equity"], rows)


def recent_trades(strategy: Strategy) -> str:
    rows = [
        (
            f"{t.time:%Y-%m-%d %H:%M}",
            t.side,
            plain(t.price),
            plain(t.quantity),
            _money(t.fee),
            "" if t.realised_pnl is None else _money(t.realised_pnl),
        )
        for t in strategy.trades.order_by("-time")[:RECENT]
    ]
    if not rows:
        return "No trade yet."
    return _table(["time (UTC)", "side", "price", "quantity", "fee", "realised P&L"], rows)
