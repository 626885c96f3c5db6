"""Use cases of the broker simulator over abstract ports (store, price book, clock)."""
