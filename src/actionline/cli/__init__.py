"""The ``actionline`` command (`app`), its shared options, the ``synth`` commands and the command layer."""

from actionline.cli.app import main

__all__ = ["main"]
