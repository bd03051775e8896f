"""Adaptive sampling inside a network: SGS (temporal bins) and ATS (tokens)."""
