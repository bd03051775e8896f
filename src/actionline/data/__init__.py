"""Dataset formats and sources (numpy only; no torch)."""
