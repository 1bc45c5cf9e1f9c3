"""Admin for exchanges (write-only credentials), symbols (track/untrack) and candles
(read-only)."""

from django import forms
from django.contrib import admin, messages
from django.utils.decorators import method_decorator
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from .crypto import CredentialsError
from .models import Candle, Exchange, Symbol

MANAGE_MARKET_DATA = "market_data.manage_market_data"


class SharedDataAdmin:
    """Market data is everyone's: changed by superusers and holders of "manage market
    data" only, whatever model permissions a staff member has."""

    def _manages(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm(MANAGE_MARKET_DATA)

    def has_add_permission(self, request) -> bool:
        return self._manages(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._manages(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._manages(request) and super().has_delete_permission(request, obj)


class ExchangeForm(forms.ModelForm):
    """API credentials are write-only: the fields are always shown empty and a blank
    submission keeps what is stored; "clear credentials" removes them."""

    api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Optional; market data is public. Leave blank to keep the stored key.",
    )
    api_secret = forms.CharField(
        label="API secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Encrypted at rest with FIELD_ENCRYPTION_KEY; never shown again.",
    )
    clear_credentials = forms.BooleanField(required=False, help_text="Remove stored credentials.")

    class Meta:
        model = Exchange
        fields = ["ccxt_id", "name", "enabled"]

    @method_decorator(sensitive_variables("data", "key", "secret"))
    def clean(self):
        data = super().clean()
        key, secret = data.get("api_key", ""), data.get("api_secret", "")
        if (key or secret) and not data.get("clear_credentials"):
            if not (key and secret):
                raise forms.ValidationError("Give both the API key and the secret.")
            try:
                self.instance.set_credentials(key, secret)
            except CredentialsError as exc:
                raise forms.ValidationError(f"Cannot store the credentials: {exc}.") from None
        elif data.get("clear_credentials"):
            self.instance.set_credentials("", "")
        return data


@admin.register(Exchange)
class ExchangeAdmin(SharedDataAdmin, admin.ModelAdmin):
    form = ExchangeForm
    list_display = ["ccxt_id", "name", "enabled", "has_credentials", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["ccxt_id", "name"]
    actions = ["reencrypt"]

    @method_decorator(sensitive_post_parameters("api_key", "api_secret"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """An error while saving mails the admins a report: never with the credentials."""
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(boolean=True, description="credentials")
    def has_credentials(self, obj: Exchange) -> bool:
        return obj.has_credentials

    @admin.action(description="Re-encrypt credentials with the newest key", permissions=["change"])
    def reencrypt(self, request, queryset):
        done = 0
        for exchange in queryset:
            try:
                exchange.rotate_credentials()
            except CredentialsError as exc:
                self.message_user(request, f"{exchange.ccxt_id}: {exc}", messages.ERROR)
            else:
                done += exchange.has_credentials
        self.message_user(
            request,
            ngettext("%d exchange re-encrypted.", "%d exchanges re-encrypted.", done) % done,
            messages.SUCCESS,
        )


@admin.register(Symbol)
class SymbolAdmin(SharedDataAdmin, admin.ModelAdmin):
    list_display = [
        "symbol",
        "exchange",
        "tracked",
        "active",
        "timeframes",
        "last_collected_at",
        "last_error",
    ]
    list_filter = ["tracked", "active", "exchange", "quote"]
    search_fields = ["symbol", "base", "quote"]
    readonly_fields = ["last_collected_at", "last_error"]
    actions = ["track", "untrack"]

    @admin.action(description="Track selected symbols", permissions=["change"])
    def track(self, request, queryset):
        self._set_tracked(request, queryset, True)

    @admin.action(
        description="Untrack selected symbols (their candles are kept)", permissions=["change"]
    )
    def untrack(self, request, queryset):
        self._set_tracked(request, queryset, False)

    def _set_tracked(self, request, queryset, tracked: bool) -> None:
        count = queryset.update(tracked=tracked)
        singular, plural = (
            ("%d symbol tracked.", "%d symbols tracked.")
            if tracked
            else ("%d symbol untracked.", "%d symbols untracked.")
        )
        self.message_user(request, ngettext(singular, plural, count) % count, messages.SUCCESS)


def plain(value) -> str:
    """A decimal without trailing zeros, never in exponent form."""
    return f"{value.normalize():f}"


def _plain_column(field: str):
    @admin.display(description=field, ordering=field)
    def column(self, obj):
        return plain(getattr(obj, field))

    return column


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ["symbol", "timeframe", "open_time", "o", "h", "l", "c", "v"]
    # Symbols offered only when they have candles (an exchange lists thousands); no date
    # hierarchy, whose date lists scan every candle.
    list_filter = [
        "timeframe",
        "symbol__exchange",
        ("symbol", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["symbol__exchange"]
    search_fields = ["symbol__symbol"]
    # Counting millions of rows for the paginator is slow on PostgreSQL.
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # Prices as the exchange wrote them: 226.05, not 226.050490000000000000.
    o, h, l, c, v = (  # noqa: E741 (the columns' names)
        _plain_column(field) for field in ("open", "high", "low", "close", "volume")
    )
