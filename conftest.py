"""Root conftest: the embedded-Kafka fixtures are available to every test in the repository."""

pytest_plugins = ["rebal_runtime.testing.pytest_plugin"]
