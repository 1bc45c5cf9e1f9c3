"""Market data models arrive with the market-data work (exchanges, symbols, candles)."""
