"""The policy backtest: one portfolio through a run of daily closes on the optimizer's production
rules (the pure domain the handlers call; no broker, no store, no clock), its figures per policy
and the lot policies' realized gains. `python -m rebal_optimizer.entrypoints.backtest` runs it
(`rebal backtest` from the CLI); `bench/policies/` wraps the same entrypoint.

- engine.py: the day loop (evaluate, fill at the close, book the run and its lots) and its ledger;
- paths.py: the model, the seeded price paths and the scenarios;
- prices_csv.py: real closes from a `date,symbol,close` file;
- policies.py / policy_table.py: rebalancing policies side by side, and their table;
- lot_policies.py / lot_table.py: fifo / hifo / tax_min side by side, and their table;
- chart.py: drift and turnover per scenario (matplotlib, when installed).
"""
