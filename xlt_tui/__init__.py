"""xlt: the terminal UI. Never imports torch or transformers: training runs in
a separate `xlt-engine run` process, which this package starts, tails and
signals (engine_client.py, through engine.control as the CLI does)."""
