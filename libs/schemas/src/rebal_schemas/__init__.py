"""Event schemas of rebal."""
