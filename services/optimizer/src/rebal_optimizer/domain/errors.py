"""Domain errors. Each carries a machine-readable `reason` the service can put in dead.letter."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the pure domain raises on invalid input."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidModel(DomainError):
    """A model portfolio (or a portfolio's own weights/conditions) breaks Alpaca's rules."""


class InvalidSettings(DomainError):
    """Portfolio settings that cannot be honoured (e.g. a model and own weights at once)."""


class InvalidPortfolioUpdate(DomainError):
    """A holdings/cash change that would leave the portfolio impossible (negative quantity)."""


class IllegalTransition(DomainError):
    """An optimization event that its current status does not allow."""
