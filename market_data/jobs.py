"""Built-in market-data jobs. They are registered and run on schedule now; the real work
(providers, candles, symbols) arrives with the market-data app, and until then their run
summary says plainly that nothing was fetched."""


def collect_crypto_data() -> str:
    return "no market-data provider yet: 0 symbols, 0 candles fetched (placeholder run)"


def update_exchange_symbols() -> str:
    return "no exchanges configured yet: 0 symbols updated (placeholder run)"
