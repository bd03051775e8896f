"""Temporal convolution blocks and temporal resampling of frame-wise features."""
