"""SQLite schema of the simulator. Created idempotently at start, so a restart keeps state."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    fill_due_at TEXT,
    body TEXT NOT NULL,
    -- Alpaca: a client_order_id is unique, even after the order closed.
    UNIQUE (account_id, client_order_id)
);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account_id, status);
CREATE INDEX IF NOT EXISTS orders_by_fill_due ON orders (fill_due_at)
    WHERE fill_due_at IS NOT NULL;

-- AUTOINCREMENT: an event id is never reused, even after the newest rows are deleted.
CREATE TABLE IF NOT EXISTS trade_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    account_id TEXT NOT NULL,
    event TEXT NOT NULL,
    order_json TEXT NOT NULL,
    qty TEXT,
    price TEXT,
    position_qty TEXT
);
CREATE INDEX IF NOT EXISTS trade_events_by_account ON trade_events (account_id, event_id);

CREATE TABLE IF NOT EXISTS order_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    account_id TEXT NOT NULL,
    client_order_id TEXT,
    symbol TEXT,
    outcome TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    order_id TEXT
);

CREATE TABLE IF NOT EXISTS prices (
    symbol TEXT PRIMARY KEY,
    price TEXT NOT NULL,
    tradable INTEGER NOT NULL,
    fractionable INTEGER NOT NULL,
    updated_at TEXT
);

CREATE TABLE IF NOT EXISTS positions (
    account_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    qty TEXT NOT NULL,
    PRIMARY KEY (account_id, symbol)
);

CREATE TABLE IF NOT EXISTS cash (
    account_id TEXT PRIMARY KEY,
    amount TEXT NOT NULL
);
"""
