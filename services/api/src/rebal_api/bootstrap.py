"""Wire the api: settings -> runtime (store, broker, outbox) -> read model -> projector,
commands, queries -> Kafka router and FastAPI app. Nothing connects until `runtime.start()`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from rebal_api.adapters.documents import listing_backfill, read_model
from rebal_api.entrypoints.http_app import Services, create_app
from rebal_api.entrypoints.kafka import build_router
from rebal_api.service_layer.book_commands import BookCommands
from rebal_api.service_layer.book_queries import BookQueries
from rebal_api.service_layer.commands import Commands
from rebal_api.service_layer.dashboard import DashboardQueries
from rebal_api.service_layer.ports import ReadModel
from rebal_api.service_layer.projector import Projector
from rebal_api.service_layer.queries import Queries
from rebal_api.service_layer.stream import Stream
from rebal_api.service_layer.writes import Writes
from rebal_api.settings import ApiSettings
from rebal_runtime.clock import Clock, SystemClock
from rebal_runtime.service import ServiceRuntime
from rebal_runtime.store import DocumentStore


@dataclass(frozen=True)
class Api:
    settings: ApiSettings
    runtime: ServiceRuntime
    read: ReadModel
    projector: Projector
    services: Services

    def http_app(self) -> FastAPI:
        """The HTTP application; needs the api key and secret (`ValueError` without them)."""
        key, secret = self.settings.credentials()
        return create_app(self.services, key, secret)


def bootstrap(
    settings: ApiSettings | None = None,
    *,
    store: DocumentStore | None = None,
    clock: Clock | None = None,
) -> Api:
    settings = settings if settings is not None else ApiSettings()
    clock = clock if clock is not None else SystemClock()
    runtime = ServiceRuntime(settings, store=store)
    read = read_model(runtime.store)
    runtime.on_start(listing_backfill(runtime.store))  # before the consumers start
    projector = Projector(read, clock, settings.service_name)
    queries, book_queries, writes = Queries(read), BookQueries(read), Writes(read, projector)
    name = settings.service_name
    runtime.include_router(build_router(settings, projector))
    services = Services(
        commands=Commands(queries, writes, projector, clock, name),
        queries=queries,
        stream=Stream(read, clock, settings.stream_poll_seconds),
        clock=clock,
        book_commands=BookCommands(book_queries, writes, clock, name),
        book_queries=book_queries,
        dashboard=DashboardQueries(read, clock, projector.lag),
    )
    return Api(settings, runtime, read, projector, services)
