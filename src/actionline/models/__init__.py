"""Models: one file per method; `registry` maps names to classes."""
