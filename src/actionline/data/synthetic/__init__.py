"""Synthetic datasets with known ground truth, for tests, demos and benchmarks."""
