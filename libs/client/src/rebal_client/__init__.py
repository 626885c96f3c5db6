"""rebal's client library and CLI: build events with `rebal_schemas`, publish them, follow results."""
