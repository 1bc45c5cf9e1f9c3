"""One slot's life below the execution path: its claim and heartbeat, the plain-SQL
statements of a run, missed ranges, and what an outcome leaves (counters, health, alerts).
Nothing here imports the engine or the web."""
