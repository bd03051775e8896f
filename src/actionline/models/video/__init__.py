"""Video backbones (feature extractors) and clip models."""
