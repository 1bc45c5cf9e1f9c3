"""The strategies in JSON: GET /api/v1/strategies and /api/v1/strategies/<id> to read
them, and the guide's POST /api/v1/strategies/<id>/start and /stop.

Reading needs a login (a session or an API token, `scheduler.web.http.api_view`);
starting and stopping, staff with the "change strategy" permission (as the admin actions
ask), through a session with its CSRF token or an API token. A non-superuser reaches only
the strategies they own (`visible_to`; 404 for the others). JSON in and out; money and
prices as decimal strings (exact); errors as `{"error": "...", "fields": {...}}`. Each
change is written to admin's history with the user.
"""

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse

from scheduler import get_scheduler
from scheduler.web.http import api_view, error, json_body

from .models import Strategy

PERMISSION = "strategies.change_strategy"
DENIED = "staff with permission to change strategies only"
START_FIELDS = {"interval_seconds": int, "start_immediately": bool}


STRATEGIES_PER_PAGE = 100
ROWS_PER_PAGE = 50  # signals and trades on one strategy's page


def _iso(moment):
    return moment.isoformat() if moment else None


def _money(value):
    return None if value is None else f"{value.normalize():f}"


def _summary(strategy: Strategy) -> dict:
    """What a list shows of a strategy: its state, trigger and account."""
    account = getattr(strategy, "account", None)
    return {
        "id": strategy.pk,
        "name": strategy.name,
        "exchange": strategy.exchange,
        "symbol": strategy.symbol,
        "timeframe": strategy.timeframe,
        "algorithm": strategy.algorithm,
        "active": strategy.is_active,
        "stopped_reason": strategy.stopped_reason,
        "job_id": strategy.job_id,
        "interval_seconds": strategy.interval_seconds,
        "capital": _money(strategy.capital),
        "equity": _money(account.equity) if account else None,
        "pnl": _money(account.pnl) if account else None,
        "last_signal": {"action": account.last_action, "candle_time": _iso(account.last_signal_at)}
        if account and account.last_signal_at
        else None,
        "last_run": {"status": account.last_run_status, "at": _iso(account.last_run_at)}
        if account and account.last_run_at
        else None,
    }


def _page(rows, number, serialise) -> dict:
    page = Paginator(rows, ROWS_PER_PAGE).get_page(number)
    return {
        "count": page.paginator.count,
        "page": page.number,
        "pages": page.paginator.num_pages,
        "items": [serialise(row) for row in page.object_list],
    }


def _signal(signal) -> dict:
    return {
        "candle_time": _iso(signal.candle_time),
        "action": signal.action,
        "price": _money(signal.price),
        "reason": signal.reason,
        "equity": _money(signal.equity),
    }


def _trade(trade) -> dict:
    return {
        "time": _iso(trade.time),
        "side": trade.side,
        "price": _money(trade.price),
        "quantity": _money(trade.quantity),
        "fee": _money(trade.fee),
        "realised_pnl": _money(trade.realised_pnl),
    }


@api_view(("GET",))
def strategies(request):
    """The caller's strategies, 100 a page (`?page=`)."""
    rows = Strategy.objects.visible_to(request.user).select_related("account")
    page = Paginator(rows, STRATEGIES_PER_PAGE).get_page(request.GET.get("page"))
    return JsonResponse(
        {
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "strategies": [_summary(strategy) for strategy in page.object_list],
        }
    )


@api_view(("GET",))
def strategy(request, strategy_id: int):
    """One strategy: its summary, its recent signals and trades, newest first, 50 a page
    (`?signals_page=`, `?trades_page=`)."""
    found = Strategy.objects.visible_to(request.user).select_related("account")
    strategy = found.filter(pk=strategy_id).first()
    if strategy is None:
        return _missing(strategy_id)
    return JsonResponse(
        {
            **_summary(strategy),
            "parameters": strategy.parameters,
            "signals": _page(strategy.signals.all(), request.GET.get("signals_page"), _signal),
            "trades": _page(strategy.trades.all(), request.GET.get("trades_page"), _trade),
        }
    )


def _state(strategy: Strategy, changed: bool) -> JsonResponse:
    job = get_scheduler().get_job(strategy.job_id)
    return JsonResponse(
        {
            "strategy_id": strategy.pk,
            "job_id": strategy.job_id,
            "active": strategy.is_active,
            "changed": changed,
            "interval_seconds": strategy.interval_seconds,
            "next_run_time": job.next_run_time.isoformat() if job and job.next_run_time else None,
        }
    )


def _get(request, strategy_id: int):
    return Strategy.objects.visible_to(request.user).filter(pk=strategy_id).first()


def _missing(strategy_id: int) -> JsonResponse:
    return error(f"strategy {strategy_id} does not exist", 404)


@api_view(("POST",), permission=PERMISSION, denied=DENIED)
def start(request, strategy_id: int):
    """Start; the optional body `{"interval_seconds": 300, "start_immediately": true}`
    sets those first. Starting a running strategy is a 409 (stop it, or change its
    interval in admin)."""
    values, errors = json_body(request, START_FIELDS)
    if errors:
        return error("bad request body", 400, errors)
    strategy = _get(request, strategy_id)
    if strategy is None:
        return _missing(strategy_id)
    if strategy.is_active:
        return error(f"strategy {strategy_id} is already running", 409)
    try:
        changed = strategy.start(by=request.user, via="API", **values)
    except ValidationError as exc:
        strategy.refresh_from_db()
        return error("invalid values", 400, exc.message_dict)
    return _state(strategy, changed)


@api_view(("POST",), permission=PERMISSION, denied=DENIED)
def stop(request, strategy_id: int):
    """Stop; it takes no body (one with fields is refused, as start refuses unknown ones)."""
    _, errors = json_body(request, {})
    if errors:
        return error("bad request body", 400, errors)
    strategy = _get(request, strategy_id)
    if strategy is None:
        return _missing(strategy_id)
    if not strategy.is_active:
        return error(f"strategy {strategy_id} is not running", 409)
    return _state(strategy, strategy.stop(by=request.user, via="API"))
