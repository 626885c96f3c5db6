"""FerretDB for tests: the launcher lives in `rebal_runtime.ferretdb` (the prod-like topology uses
it too); this module keeps the name the store contract suite imports."""

from __future__ import annotations

from rebal_runtime.ferretdb import (
    BINARY_ENV,
    BINARY_NAME,
    NOT_ATOMIC_REASON,
    FerretDB,
    FerretDBNotBuilt,
    ferretdb_binary,
)

__all__ = [
    "BINARY_ENV",
    "BINARY_NAME",
    "NOT_ATOMIC_REASON",
    "FerretDB",
    "FerretDBNotBuilt",
    "ferretdb_binary",
]
