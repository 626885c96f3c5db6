"""structlog: JSON lines (orjson) in production, readable lines on a terminal.

Handlers bind `event_id`, `event_type`, `correlation_id` and `portfolio_id` per message through
contextvars (see `consume.py`), so every line a handler logs carries them.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson
import structlog


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    renderer: Any
    if fmt == "console" or (fmt == "auto" and sys.stderr.isatty()):
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    tame_kafka_client_logs()


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


class RepeatLimiter(logging.Filter):
    """Lets through the first record of each (logger, message template), then one per interval
    that doubles while the record keeps coming (up to `max_seconds`); a let-through record says
    how many were dropped since. A quiet spell of `max_seconds` starts the key afresh.

    Why: aiokafka logs every failed attempt at ERROR (connect, metadata, fetch, coordinator),
    about 80 lines a second per consumer while the broker is down; the watchdog
    (`rebal_runtime.watchdog`) says what matters once, so these only need to show they go on."""

    def __init__(
        self,
        base_seconds: float = 1.0,
        max_seconds: float = 60.0,
        clock: Any = None,
    ) -> None:
        super().__init__()
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self._clock = clock or time.monotonic
        # key -> (next time one may pass, current interval, last seen, dropped since last pass)
        self._keys: dict[tuple[str, str], tuple[float, float, float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        key = (record.name, str(record.msg))
        state = self._keys.get(key)
        if state is None or now - state[2] >= self.max_seconds:
            self._keys[key] = (now + self.base_seconds, self.base_seconds, now, 0)
            return True
        next_at, interval, _, dropped = state
        if now < next_at:
            self._keys[key] = (next_at, interval, now, dropped + 1)
            return False
        interval = min(interval * 2, self.max_seconds)
        self._keys[key] = (now + interval, interval, now, 0)
        if dropped and isinstance(record.args, tuple):
            record.msg = f"{record.msg} (%d like it dropped; next in %.0fs at most)"
            record.args = (*record.args, dropped, interval)
        return True


_KAFKA_CLIENT_LOGGERS = (
    "aiokafka",
    "aiokafka.conn",
    "aiokafka.client",
    "aiokafka.cluster",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.consumer.consumer",
    "aiokafka.producer.sender",
    "aiokafka.producer.producer",
    "aiokafka.admin.client",
)
_limiter: RepeatLimiter | None = None


def tame_kafka_client_logs() -> RepeatLimiter:
    """Install one `RepeatLimiter` on every aiokafka logger (idempotent). A logger's filters see
    only records logged on that logger itself, hence every module's logger, not the parent."""
    global _limiter
    if _limiter is None:
        _limiter = RepeatLimiter()
    import aiokafka.admin  # noqa: F401 - its modules create their loggers on import

    names = set(_KAFKA_CLIENT_LOGGERS) | {
        name for name in logging.root.manager.loggerDict if name.startswith("aiokafka")
    }
    for name in names:
        logger = logging.getLogger(name)
        if _limiter not in logger.filters:
            logger.addFilter(_limiter)
    return _limiter
