from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from .models import Strategy
from .paper import money, plain

RECENT = 20


def _money(value) -> str:
    return plain(money(value))


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    """Each user sees and changes only their own strategies (superusers: all), through
    `Strategy.objects.visible_to`, the one scoping method admin, pages and the API share."""

    list_display = [
        "name",
        "symbol",
        "timeframe",
        "algorithm",
        "interval_seconds",
        "is_active",
        "last_run",
        "last_signal",
        "equity",
        "pnl",
    ]
    list_editable = ["is_active"]
    list_filter = ["is_active", "timeframe", "algorithm"]
    list_select_related = ["account"]
    search_fields = ["name", "symbol"]
    actions = ["start_strategies", "stop_strategies"]
    readonly_fields = [
        "job_id",
        "stopped_reason",
        "account_summary",
        "chart_link",
        "recent_signals",
        "recent_trades",
    ]
    fieldsets = [
        (None, {"fields": ["name", "owner", "is_active", "start_immediately", "interval_seconds"]}),
        ("Market", {"fields": ["exchange", "symbol", "timeframe"]}),
        ("Algorithm", {"fields": ["algorithm", "parameters"]}),
        ("Paper account", {"fields": ["capital", "fee_rate", "account_summary", "chart_link"]}),
        ("Runs", {"fields": ["job_id", "max_failures", "stopped_reason"]}),
        ("Recent signals", {"fields": ["recent_signals"]}),
        ("Recent trades", {"fields": ["recent_trades"]}),
    ]

    @admin.action(description="Start selected strategies", permissions=["change"])
    def start_strategies(self, request, queryset):
        count = sum(strategy.start() for strategy in queryset)
        self.message_user(
            request, ngettext("%d strategy started.", "%d strategies started.", count) % count
        )

    @admin.action(description="Stop selected strategies", permissions=["change"])
    def stop_strategies(self, request, queryset):
        count = sum(strategy.stop() for strategy in queryset)
        self.message_user(
            request, ngettext("%d strategy stopped.", "%d strategies stopped.", count) % count
        )

    # --- Owners ---------------------------------------------------------------------------
    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def get_list_display(self, request):
        if request.user.is_superuser:
            return [*self.list_display, "owner"]
        return self.list_display

    def get_readonly_fields(self, request, obj=None):
        """Only a superuser hands a strategy to someone else."""
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "owner"]

    def get_changeform_initial_data(self, request):
        return {"owner": request.user.pk, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if not change and (obj.owner_id is None or not request.user.is_superuser):
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    # --- List columns ---------------------------------------------------------------------
    @staticmethod
    def _account(obj):
        return getattr(obj, "account", None)

    @admin.display(description="last run", ordering="account__last_run_at")
    def last_run(self, obj):
        account = self._account(obj)
        if account is None or account.last_run_at is None:
            return "—"
        return f"{account.last_run_at:%Y-%m-%d %H:%M:%S} · {account.last_run_status}"

    @admin.display(description="last signal", ordering="account__last_signal_at")
    def last_signal(self, obj):
        account = self._account(obj)
        if account is None or account.last_signal_at is None:
            return "—"
        return f"{account.last_action} · {account.last_signal_at:%Y-%m-%d %H:%M}"

    @admin.display(description="equity", ordering="account__equity")
    def equity(self, obj):
        account = self._account(obj)
        return "—" if account is None else _money(account.equity)

    @admin.display(description="P&L")
    def pnl(self, obj):
        account = self._account(obj)
        if account is None:
            return "—"
        share = account.pnl / account.capital * 100 if account.capital else 0
        sign = "+" if account.pnl > 0 else ""
        return f"{sign}{_money(account.pnl)} ({share:+.2f}%)"

    # --- Change page ----------------------------------------------------------------------
    @admin.display(description="account")
    def account_summary(self, obj):
        account = self._account(obj)
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

    @admin.display(description="chart")
    def chart_link(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("strategy-pages:strategy-detail", args=[obj.pk])
        return format_html('<a href="{}">Price, indicators, trades and equity</a>', url)

    @admin.display(description="signals")
    def recent_signals(self, obj):
        if obj.pk is None:
            return "—"
        rows = obj.signals.order_by("-candle_time")[:RECENT]
        if not rows:
            return "No signal yet."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{s.candle_time:%Y-%m-%d %H:%M}",
                    s.action,
                    plain(s.price),
                    s.reason,
                    _money(s.equity),
                )
                for s in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>candle (UTC)</th><th>action</th><th>close</th>"
            "<th>reason</th><th>equity</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="trades")
    def recent_trades(self, obj):
        if obj.pk is None:
            return "—"
        rows = obj.trades.order_by("-time")[:RECENT]
        if not rows:
            return "No trade yet."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{t.time:%Y-%m-%d %H:%M}",
                    t.side,
                    plain(t.price),
                    plain(t.quantity),
                    _money(t.fee),
                    "" if t.realised_pnl is None else _money(t.realised_pnl),
                )
                for t in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>time (UTC)</th><th>side</th><th>price</th>"
            "<th>quantity</th><th>fee</th><th>realised P&amp;L</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            body,
        )
