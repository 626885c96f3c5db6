"""HTTP (Starlette under uvicorn) and command-line entrypoints of the broker simulator."""
