from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from scheduler.models import LIST_LENGTH, one_line
from scheduler.web.admin_actions import StrategyJobActions
from scheduler.web.admin_input import AdminInput

from . import panels
from .models import PaperAccount, Strategy


@admin.register(Strategy)
class StrategyAdmin(AdminInput, StrategyJobActions, admin.ModelAdmin):
    list_display = [
        "name",
        "symbol",
        "timeframe",
        "algorithm",
        "interval_seconds",
        "is_active",
        "stopped_because",
        "last_run",
        "last_signal",
        "equity",
        "pnl",
    ]
    list_editable = ["is_active"]
    list_filter = ["is_active", "timeframe", "algorithm"]
    search_fields = ["name", "symbol"]
    actions = ["start_strategies", "stop_strategies", "run_strategies_now", "reset_accounts"]

    @admin.action(description="Start selected strategies", permissions=["change"])
    def start_strategies(self, request, queryset):
        count = 0
        for strategy in queryset:
            try:
                count += strategy.start(by=request.user, via="admin")
            except ValidationError as exc:
                self.message_user(
                    request, f"{strategy} not started: {' '.join(exc.messages)}", messages.ERROR
                )
        self.message_user(
            request, ngettext("%d strategy started.", "%d strategies started.", count) % count
        )

    @admin.action(description="Stop selected strategies", permissions=["change"])
    def stop_strategies(self, request, queryset):
        count = sum(strategy.stop(by=request.user, via="admin") for strategy in queryset)
        self.message_user(
            request, ngettext("%d strategy stopped.", "%d strategies stopped.", count) % count
        )

    # --- Paper trading ---------------------------------------------------------------------
    @admin.action(description="Reset paper account", permissions=["change"])
    def reset_accounts(self, request, queryset):
        count = queryset.reset_accounts()
        self.message_user(
            request,
            ngettext("%d paper account reset.", "%d paper accounts reset.", count) % count,
        )

    list_select_related = ["account"]
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

    # --- Owners: each user sees and changes only their own strategies (superusers: all),
    # through `Strategy.objects.visible_to`, which admin, pages and the API share.
    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def get_list_display(self, request):
        if request.user.is_superuser:
            return [*self.list_display, "owner"]
        return self.list_display

    def get_readonly_fields(self, request, obj=None):
        """Only a superuser hands a strategy to someone else. The market is fixed once the
        paper account exists (`Strategy.clean`); "Reset paper account" frees it."""
        fields = list(self.readonly_fields)
        if not request.user.is_superuser:
            fields.append("owner")
        if obj is not None and PaperAccount.objects.filter(strategy=obj).exists():
            fields.extend(Strategy.MARKET_FIELDS)
        return fields

    def get_changeform_initial_data(self, request):
        return {"owner": request.user.pk, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        """A change of Active (the form or the list's checkbox) starts or stops the
        strategy, with the form's other changes, as every other surface does."""
        if not change and (obj.owner_id is None or not request.user.is_superuser):
            obj.owner = request.user
        if "is_active" in form.changed_data if change else obj.is_active:
            edited = {name: getattr(obj, name) for name in form.changed_data if name != "is_active"}
            toggle = obj.start if obj.is_active else obj.stop
            toggle(by=request.user, via="admin", **edited)
        else:
            super().save_model(request, obj, form, change)

    # --- Columns and panels (strategies/panels.py) ----------------------------------------
    @admin.display(description="stopped itself")
    def stopped_because(self, obj):
        """The auto-stop's reason, shortened; the whole text is on the change page."""
        return one_line(obj.stopped_reason, LIST_LENGTH) or "—"

    @admin.display(description="last run", ordering="account__last_run_at")
    def last_run(self, obj):
        return panels.last_run(panels.account_of(obj))

    @admin.display(description="last signal", ordering="account__last_signal_at")
    def last_signal(self, obj):
        return panels.last_signal(panels.account_of(obj))

    @admin.display(description="equity", ordering="account__equity")
    def equity(self, obj):
        return panels.equity(panels.account_of(obj))

    @admin.display(description="P&L")
    def pnl(self, obj):
        return panels.pnl(panels.account_of(obj))

    @admin.display(description="account")
    def account_summary(self, obj):
        return panels.account_summary(panels.account_of(obj))

    @admin.display(description="chart")
    def chart_link(self, obj):
        return panels.chart_link(obj)

    @admin.display(description="signals")
    def recent_signals(self, obj):
        return panels.recent_signals(obj) if obj.pk else "—"

    @admin.display(description="trades")
    def recent_trades(self, obj):
        return panels.recent_trades(obj) if obj.pk else "—"
