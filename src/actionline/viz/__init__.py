"""Timeline plots."""
