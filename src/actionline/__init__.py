"""actionline: timelines of actions from long videos."""

__version__ = "0.1.0"
