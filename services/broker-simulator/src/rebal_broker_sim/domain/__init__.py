"""Pure order book and fill engine of the broker simulator: no I/O, no clock, no asyncio."""
