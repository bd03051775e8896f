"""YAML presets, one per method x dataset (``<model>.yaml`` is the method's paper default)."""
