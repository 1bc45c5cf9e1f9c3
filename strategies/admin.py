from django.contrib import admin
from django.utils.translation import ngettext

from .models import Strategy


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
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
    actions = ["start_strategies", "stop_strategies"]

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
