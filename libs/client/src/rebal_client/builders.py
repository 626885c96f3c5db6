"""Turn CLI words (`SPY=60`, `absolute=5`, `monthly:15`) into schema objects; errors say what is wrong."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from rebal_schemas import RebalanceCondition, Weight


class UsageError(ValueError):
    pass


def decimal(text: str, what: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{what}: {text!r} is not a decimal") from None


def weights(items: list[str]) -> list[Weight]:
    """`cash=5 SPY=60 TLT=35` -> Alpaca weights."""
    result = []
    for item in items:
        name, sep, percent = item.partition("=")
        if not sep:
            raise UsageError(f"weight {item!r}: expected SYMBOL=PERCENT or cash=PERCENT")
        if name.lower() == "cash":
            result.append(Weight(type="cash", percent=decimal(percent, "cash weight")))
        else:
            result.append(Weight(type="asset", symbol=name, percent=decimal(percent, name)))
    return result


def drift_bands(items: list[str]) -> list[RebalanceCondition]:
    """`absolute=5 relative=20`."""
    result = []
    for item in items:
        sub_type, sep, percent = item.partition("=")
        if not sep or sub_type not in ("absolute", "relative"):
            raise UsageError(f"drift band {item!r}: expected absolute=P or relative=P")
        result.append(
            RebalanceCondition(type="drift_band", sub_type=sub_type, percent=decimal(percent, item))
        )
    return result


def calendar(item: str) -> RebalanceCondition:
    """`weekly:Monday`, `monthly:15`, `quarterly:31`, `annually:03-31`."""
    sub_type, sep, day = item.partition(":")
    if not sep:
        raise UsageError(f"calendar {item!r}: expected SUBTYPE:DAY, e.g. monthly:15")
    return RebalanceCondition(type="calendar", sub_type=sub_type, day=day)


def holdings(items: list[str]) -> dict[str, Decimal]:
    result = {}
    for item in items:
        symbol, sep, qty = item.partition("=")
        if not sep:
            raise UsageError(f"holding {item!r}: expected SYMBOL=QTY")
        result[symbol] = decimal(qty, symbol)
    return result
