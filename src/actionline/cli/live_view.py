"""The live terminal view of `predict --stream --view` (rich): the stream's time, the current label and its score,
and the latest per-frame latencies, redrawn a few times a second."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table

from actionline.engine.live import STAGES, LatencyLog


class LiveView:
    """A context manager; `update` is `engine.live.run_stream`'s per-frame callback."""

    def __init__(self, console: Console, classes: Sequence[str]):
        self.classes = list(classes)
        self.live = Live(console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def update(self, frame: int, label: int, score: float, log: LatencyLog) -> None:
        table = Table(show_header=False, box=None)
        table.add_row("time", f"{frame / log.fps:8.2f} s  (frame {frame})")
        table.add_row("label", f"[bold]{self.classes[label]}[/bold]  {score:.2f}")
        for stage in STAGES:
            table.add_row(stage, f"{log.times[stage][-1] * 1000:7.1f} ms")
        self.live.update(table)
