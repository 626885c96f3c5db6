"""Fixtures of the store contract suite: `ferretdb`, one FerretDB (MongoDB wire protocol, SQLite
backend, built by `make ferretdb`) per session, started only when a test asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rebal_runtime.testing.ferretdb import FerretDB


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "contention: a contract case racing writers on one document; needs atomic conditional "
        "updates (skipped on FerretDB, docs/design.md §5)",
    )


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerretDB]:
    """A FerretDB on a free loopback port with a temporary data directory; fails with
    'run `make ferretdb`' when the binary has not been built."""
    base = tmp_path_factory.mktemp("ferretdb")
    with FerretDB(data_dir=base / "data", log_path=base / "ferretdb.log") as server:
        yield server
