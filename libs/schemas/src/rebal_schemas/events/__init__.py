"""One module per topic; each holds the frozen event models published on it."""
