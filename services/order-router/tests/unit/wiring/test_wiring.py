"""bootstrap, the Kafka router and the AsyncAPI app: built without connecting anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from rebal_order_router.adapters.broker_limits import LimitedBroker
from rebal_order_router.bootstrap import bootstrap
from rebal_order_router.entrypoints.app import asyncapi_app
from rebal_order_router.settings import RouterSettings


def settings(tmp_path: Path, **overrides: object) -> RouterSettings:
    return RouterSettings(
        _env_file=None,  # type: ignore[call-arg]
        store_url=f"sqlite:///{tmp_path / 'router.sqlite'}",
        kafka_bootstrap_servers="127.0.0.1:1",  # nothing listens: building must not connect
        broker_base_url="http://127.0.0.1:1",
        **overrides,  # type: ignore[arg-type]
    )


def test_asyncapi_document_shows_what_the_router_consumes_and_publishes(tmp_path: Path) -> None:
    app = asyncapi_app(settings(tmp_path))
    spec = app.schema.to_specification().to_jsonable()
    text = str(spec)
    for topic in (
        "optimization.ready",
        "run.cancel_requested",
        "model.status_changed",
        "market.prices",
        "order.filled",
        "order.closed",
        "run.execution",
    ):
        assert topic in text
    assert "OptimizationReady" in text and "OrderFilled" in text and "OrderClosed" in text
    assert not (tmp_path / "router.sqlite").exists()  # no store was opened


def test_bootstrap_wires_the_background_loops(tmp_path: Path) -> None:
    router = bootstrap(settings(tmp_path))
    assert router.follower is not None
    assert router.ctx.wake_dispatcher == router.dispatcher.wake
    assert router.ctx.producer == "order-router"
    assert router.reconciler.seconds == router.settings.reconcile_seconds
    assert router.queue.task.seconds == router.settings.execution_queue_poll_seconds
    assert router.queue.rate == router.settings.execution_start_rate
    assert router.ctx.prices is not None and not router.ctx.window.always_open  # XNYS
    assert router.ctx.pending_cancel_seconds == router.settings.pending_cancel_seconds
    # every loop calls the broker through the one limiter
    assert router.ctx.broker is router.broker and isinstance(router.broker, LimitedBroker)
    assert router.broker.bucket.rate == pytest.approx(200 / 60)
    assert router.broker.max_in_flight == router.settings.broker_max_in_flight

    without_stream = bootstrap(settings(tmp_path, stream_enabled=False))
    assert without_stream.follower is None
