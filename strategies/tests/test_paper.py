"""The paper account's arithmetic (`strategies/paper.py`), on real recorded prices."""

import random
from decimal import Decimal

import pytest

from strategies.paper import UNIT, Book, fee_on, notional

from .conftest import read_rows

FEE_RATES = [Decimal("0"), Decimal("0.001"), Decimal("0.0075")]


def closes(name):
    return [row[4] for row in read_rows(name)]


@pytest.mark.parametrize("fee_rate", FEE_RATES)
@pytest.mark.parametrize(
    ("name", "capital"),
    [
        ("bittrex_ETH-BTC_5m.csv", Decimal("1")),
        ("freqtrade-orderflow-candles_5m.csv", Decimal("10000")),
    ],
)
def test_a_round_trip_at_an_unchanged_price_loses_exactly_the_fees(name, capital, fee_rate):
    for price in closes(name)[::97]:
        book = Book(fee_rate=fee_rate, cash=capital)
        bought, _ = book.apply("buy", price)
        sold, _ = book.apply("sell", price)
        assert bought.fee == fee_on(bought.notional, fee_rate)
        assert sold.fee == fee_on(sold.notional, fee_rate)
        assert (bought.fee > 0) == (fee_rate > 0)
        assert book.cash == capital - bought.fee - sold.fee
        assert book.realised_pnl == sold.realised_pnl == -(bought.fee + sold.fee)
        assert book.fees_paid == bought.fee + sold.fee
        assert book.position == 0


def test_a_buy_spends_the_available_cash_and_charges_its_fee():
    book = Book(fee_rate=Decimal("0.001"), cash=Decimal("10000"))
    fill, note = book.apply("buy", Decimal("16726.1"))
    assert note == "bought with the cash"
    assert fill.quantity == Decimal(
        "0.59727073"
    )  # 9999.99999998 / (16726.1 × 1.001) = 0.597270733…, down
    assert fill.notional == notional(fill.quantity, Decimal("16726.1")) == Decimal("9990.00995705")
    assert fill.fee == Decimal("9.99000996")  # 0.1% of the notional, rounded up
    assert book.cash == Decimal("10000") - fill.notional - fill.fee == Decimal("0.00003299")
    assert book.position == fill.quantity
    assert book.cost == fill.notional + fill.fee


def test_a_signal_that_does_not_change_the_position_fills_nothing():
    book = Book(fee_rate=Decimal("0.001"), cash=Decimal("100"))
    assert book.apply("sell", Decimal("2")) == (None, "nothing to sell")
    book.apply("buy", Decimal("2"))
    before = (book.cash, book.position, book.fees_paid)
    assert book.apply("buy", Decimal("3")) == (None, "already in the market")
    assert book.apply("hold", Decimal("3")) == (None, "")
    assert (book.cash, book.position, book.fees_paid) == before


def test_too_little_cash_buys_nothing_and_keeps_the_cash():
    book = Book(fee_rate=Decimal("0.001"), cash=2 * UNIT)
    assert book.apply("buy", Decimal("0.0016")) == (None, "no cash to buy with")
    assert book.cash == 2 * UNIT and book.position == 0


@pytest.mark.parametrize("fee_rate", FEE_RATES)
@pytest.mark.parametrize(
    ("name", "capital"),
    [
        ("bittrex_ETC-BTC_1m.csv", Decimal("0.5")),
        ("XRP-USDT-USDT-perp_5m.csv", Decimal("2500")),
        ("freqtrade-orderflow-candles_5m.csv", Decimal("10000")),
    ],
)
def test_cash_never_goes_negative_and_equity_is_cash_plus_position_times_price(
    name, capital, fee_rate
):
    rng = random.Random(f"{name}{fee_rate}")  # any sequence of signals must keep these
    book = Book(fee_rate=fee_rate, cash=capital)
    realised = fees = Decimal(0)
    fills = 0
    for price in closes(name):
        fill, _ = book.apply(rng.choice(["buy", "sell", "hold", "hold"]), price)
        if fill is not None:
            fills += 1
            fees += fill.fee
            realised += fill.realised_pnl or 0
            assert fill.cash_after == book.cash
        assert book.cash >= 0
        assert book.position >= 0
        assert book.equity(price) == book.cash + book.position * price
        if book.position == 0:
            # Flat: everything realised is in the cash, nothing else.
            assert book.cash == capital + realised
            assert book.equity(price) == book.cash
    assert fills > 100
    assert book.fees_paid == fees
    assert book.realised_pnl == realised
