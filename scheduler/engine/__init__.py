"""The scheduling process, whatever the engine: the loop that holds the scheduler lock,
follows changes, hands "Run now" requests over and watches for late jobs. A backend class
(`scheduler.backends`) is handed in: nothing here knows which engine fires."""
