"""Test support: the embedded Kafka fixtures (a pytest plugin) and topic readers."""
