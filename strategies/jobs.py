"""The job every `strategy_<id>` schedule runs."""

from .models import Strategy


def run_strategy(strategy_id: int) -> str:
    """One run of a strategy. Trading algorithms arrive in a later release; for now the run
    is recorded with a summary that says so."""
    strategy = Strategy.objects.get(pk=strategy_id)
    return (
        f"{strategy.name}: {strategy.symbol} {strategy.timeframe}, no algorithm yet "
        "(placeholder run, no signal)"
    )
