"""Temporal action detection models."""
