from django.contrib import admin
from django.utils.translation import ngettext

from scheduler.admin_actions import StrategyJobActions
from scheduler.control import start_strategy, stop_strategy

from .models import Strategy


@admin.register(Strategy)
class StrategyAdmin(StrategyJobActions, admin.ModelAdmin):
    list_display = [
        "name",
        "symbol",
        "timeframe",
        "interval_seconds",
        "is_active",
        "start_immediately",
        "job_id",
    ]
    list_editable = ["is_active"]
    list_filter = ["is_active", "timeframe"]
    search_fields = ["name", "symbol"]
    actions = ["start_strategies", "stop_strategies", "run_strategies_now"]

    @admin.action(description="Start selected strategies", permissions=["change"])
    def start_strategies(self, request, queryset):
        count = sum(start_strategy(s, request.user, "admin") for s in queryset)
        self.message_user(
            request, ngettext("%d strategy started.", "%d strategies started.", count) % count
        )

    @admin.action(description="Stop selected strategies", permissions=["change"])
    def stop_strategies(self, request, queryset):
        count = sum(stop_strategy(s, request.user, "admin") for s in queryset)
        self.message_user(
            request, ngettext("%d strategy stopped.", "%d strategies stopped.", count) % count
        )
