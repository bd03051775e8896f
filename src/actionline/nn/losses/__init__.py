"""Training losses, grouped by the models that use them."""
