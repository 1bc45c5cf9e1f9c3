"""`manage.py seed_demo`: a staff account, three demo strategies and the simulated exchange
with its demo symbols tracked. Safe to run again."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from market_data.models import Exchange, Symbol
from strategies.models import Strategy

# On the offline simulated market: each one's first run fetches its history, then judges
# every new closed candle. Start them in admin to watch signals and paper trades arrive.
DEMO_STRATEGIES = [
    {
        "name": "Demo BTC trend",
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "interval_seconds": 300,
        "algorithm": "ema_crossover",
        "parameters": {"fast": 12, "slow": 26},
    },
    {
        "name": "Demo ETH swing",
        "symbol": "ETH/USDT",
        "timeframe": "15m",
        "interval_seconds": 60,
        "algorithm": "macd_cross",
        "parameters": {"fast": 12, "slow": 26, "signal": 9},
    },
    {
        "name": "Demo SOL scalp",
        "symbol": "SOL/USDT",
        "timeframe": "1m",
        "interval_seconds": 30,
        "algorithm": "rsi_reversion",
        "parameters": {"period": 14, "oversold": 30.0, "overbought": 70.0},
    },
]

# Tracked on the offline simulated exchange, so the first collection shows data.
DEMO_SYMBOLS = [("BTC/USDT", "BTC", "USDT"), ("ETH/USDT", "ETH", "USDT")]
DEMO_TIMEFRAMES = "1m,1h"


class Command(BaseCommand):
    help = (
        "Create the demo staff account (password from DEMO_ADMIN_PASSWORD, or generated and "
        "printed once), three inactive demo strategies it owns (paper trading on the "
        "simulated market) and the simulated exchange with BTC/USDT "
        "and ETH/USDT tracked (1m, 1h). Existing ones are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DEMO_ADMIN_USERNAME", "admin"))

    def handle(self, *args, username, **options):
        users = get_user_model()
        owner = users.objects.filter(username=username).first()
        if owner is not None:
            self.stdout.write(f"Staff account {username!r} already exists; password unchanged.")
        else:
            password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            owner = users.objects.create_superuser(username=username, email="", password=password)
            if os.environ.get("DEMO_ADMIN_PASSWORD"):
                self.stdout.write(
                    f"Created staff account {username!r} (password from DEMO_ADMIN_PASSWORD)."
                )
            else:
                self.stdout.write(
                    f"Created staff account {username!r} with password: {password}\n"
                    "  (shown once; change it in admin, or set DEMO_ADMIN_PASSWORD next time)"
                )
        created = 0
        for spec in DEMO_STRATEGIES:
            _, new = Strategy.objects.get_or_create(
                name=spec["name"], defaults={**spec, "is_active": False, "owner": owner}
            )
            created += new
        existing = len(DEMO_STRATEGIES) - created
        exchange, _ = Exchange.objects.get_or_create(
            ccxt_id="simulated", defaults={"name": "Simulated market"}
        )
        tracked = 0
        for symbol, base, quote in DEMO_SYMBOLS:
            _, new = Symbol.objects.get_or_create(
                exchange=exchange,
                symbol=symbol,
                defaults={
                    "base": base,
                    "quote": quote,
                    "tracked": True,
                    "timeframes": DEMO_TIMEFRAMES,
                },
            )
            tracked += new
        return (
            f"Demo ready: {created} strategies created, {existing} already there; "
            f"{tracked} simulated symbols tracked"
        )
