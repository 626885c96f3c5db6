"""Broker simulator: the subset of Alpaca's Broker API trading endpoints rebal's order-router uses.

Run it with `python -m rebal_broker_sim --port 0 --db sim.sqlite --port-file port.txt`; embed it
with `bootstrap(...)` + `entrypoints.http_app.create_app(...)`. Prices come in through the
`PriceBook` port (`Simulator.price_book.set_price`).
"""
