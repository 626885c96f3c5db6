"""`python -m rebal_api [--host H] [--port P] [--port-file F]`: run the api until SIGINT/SIGTERM."""

from __future__ import annotations

import sys

from rebal_api.bootstrap import bootstrap
from rebal_api.entrypoints.server import arguments, serve
from rebal_api.settings import ApiSettings
from rebal_runtime import event_loop
from rebal_runtime.gc_tuning import tune_gc
from rebal_runtime.log import configure_logging


def main() -> None:
    args = arguments()
    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    api = bootstrap(settings)
    try:
        app = api.http_app()
    except ValueError as exc:
        sys.exit(f"rebal api: {exc}")
    host = args.host or settings.http_host
    port = settings.http_port if args.port is None else args.port
    tune_gc()  # what start made stays; the hot loop's garbage is collected less often
    event_loop.run(serve(api, app, host, port, args.port_file))


if __name__ == "__main__":
    main()
