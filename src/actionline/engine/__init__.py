"""Training, prediction and profiling: model-agnostic, driven by the model contract."""
