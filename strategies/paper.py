"""The paper account's arithmetic, in `Decimal`: fills at a price, fees, cash, position and
P&L. Pure and in memory, so a live run (which loads and saves a `PaperAccount` row) and a
backtest (which keeps one `Book` for the whole range) trade with exactly the same code.

Long-only and all-in: a buy spends the available cash on the position, a sell closes all of
it. Amounts are kept to 8 decimal places (`PLACES`): SQLite, the embedded default, stores
15 significant digits, so a stored account reads back exactly as it was computed.

1. Buy: quantity = (cash − 2 units) / (price × (1 + fee rate)), rounded down to a unit;
   notional = quantity × price (rounded half-even); fee = notional × fee rate, rounded up
   (never in the trader's favour). The two units of margin absorb both roundings, so cash
   never goes below zero.
2. Sell: notional = quantity × price, rounded the same way, fee likewise; the realised P&L
   of the round trip is what the sale brought in less what the position cost, fees
   included. At an unchanged price both notionals are the same number, so a round trip
   loses exactly its two fees.
3. Equity = cash + position × price; unrealised P&L = position × price − its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Context, Decimal

PLACES = 8
UNIT = Decimal(1).scaleb(-PLACES)
ZERO = Decimal(0)
# Wide enough that no product or quotient here is rounded before we round it ourselves.
CONTEXT = Context(prec=60)


def _round(value: Decimal, rounding: str) -> Decimal:
    return value.quantize(UNIT, rounding=rounding, context=CONTEXT)


def money(value: Decimal) -> Decimal:
    """An amount as kept and shown: 8 places, rounded half-even."""
    return _round(value, ROUND_HALF_EVEN)


def plain(value: Decimal) -> str:
    """An amount for people: no exponent, no trailing zeros (`0.5`, `10000`)."""
    return f"{value.normalize():f}"


def notional(quantity: Decimal, price: Decimal) -> Decimal:
    return _round(CONTEXT.multiply(quantity, price), ROUND_HALF_EVEN)


def fee_on(amount: Decimal, fee_rate: Decimal) -> Decimal:
    return _round(CONTEXT.multiply(amount, fee_rate), ROUND_UP)


@dataclass(frozen=True)
class Fill:
    side: str
    price: Decimal
    quantity: Decimal
    notional: Decimal
    fee: Decimal
    cash_after: Decimal
    realised_pnl: Decimal | None  # of the round trip a sell closes; None for a buy


@dataclass
class Book:
    """A paper account's state. `cost` is what the open position cost, fees included."""

    fee_rate: Decimal
    cash: Decimal
    position: Decimal = ZERO
    cost: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO

    def apply(self, action: str, price: Decimal) -> tuple[Fill | None, str]:
        """Act on a signal at `price`: (the fill, or None, and a note saying what happened)."""
        if action == "buy":
            if self.position > 0:
                return None, "already in the market"
            return self._buy(price)
        if action == "sell":
            if self.position <= 0:
                return None, "nothing to sell"
            return self._sell(price), "sold the position"
        return None, ""

    def _buy(self, price: Decimal) -> tuple[Fill | None, str]:
        budget = self.cash - 2 * UNIT
        if budget <= 0 or price <= 0:
            return None, "no cash to buy with"
        per_unit = CONTEXT.multiply(price, 1 + self.fee_rate)
        quantity = CONTEXT.divide(budget, per_unit).quantize(UNIT, rounding=ROUND_DOWN)
        if quantity <= 0:
            return None, "cash too small for one unit"
        amount = notional(quantity, price)
        fee = fee_on(amount, self.fee_rate)
        self.cash -= amount + fee
        self.position = quantity
        self.cost = amount + fee
        self.fees_paid += fee
        return Fill("buy", price, quantity, amount, fee, self.cash, None), "bought with the cash"

    def _sell(self, price: Decimal) -> Fill:
        quantity = self.position
        amount = notional(quantity, price)
        fee = fee_on(amount, self.fee_rate)
        realised = amount - fee - self.cost
        self.cash += amount - fee
        self.position = ZERO
        self.cost = ZERO
        self.realised_pnl += realised
        self.fees_paid += fee
        return Fill("sell", price, quantity, amount, fee, self.cash, realised)

    def equity(self, price: Decimal) -> Decimal:
        """Cash + position × price, exactly (callers round it with `money` to keep it)."""
        return self.cash + CONTEXT.multiply(self.position, price)

    def unrealised_pnl(self, price: Decimal) -> Decimal:
        return CONTEXT.multiply(self.position, price) - self.cost
