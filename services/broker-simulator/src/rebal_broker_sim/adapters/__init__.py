"""Adapters of the broker simulator: the SQLite store."""
