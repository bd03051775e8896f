"""Evaluation metrics: pure numpy, no torch. Conventions are explicit settings printed with every score."""
