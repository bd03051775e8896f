"""Temporal action segmentation models."""
