"""How a broker call fails, classified by what the caller should do about it."""

from __future__ import annotations


class BrokerError(Exception):
    """Base of every broker failure."""


class BrokerUnavailable(BrokerError):
    """Transient: connect error, timeout, 5xx, malformed reply. Retry with backoff.

    On a submit it is AMBIGUOUS (the order may have reached the broker): look the order up by
    client_order_id before submitting again.
    """


class BrokerAuthFailed(BrokerUnavailable):
    """401: credentials wrong or revoked. Classed as transient on purpose: a misconfiguration must
    stall and alert, not turn every order into a permanent rejection."""


class RateLimited(BrokerError):
    """429: the request was refused, not processed. Wait `retry_after` seconds if given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OrderRejected(BrokerError):
    """Permanent 4xx (e.g. 403 insufficient buying power, 422 validation): do not retry."""

    def __init__(self, status_code: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status_code} code={code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


class DuplicateClientOrderId(BrokerError):
    """422 `client_order_id must be unique`: the broker already has this order. Adopt it."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"code={code}: {message}")
        self.code = code
        self.message = message
