"""`make demo`: the whole platform, end to end, on the embedded stack."""
