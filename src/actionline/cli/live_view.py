"""The live terminal view of `predict --stream --view` (rich): the stream's time, the current label and its score,
and the latest per-frame latencies, redrawn a few times a second; and the latency report printed at the end."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table

from actionline.engine.live import STAGES, LatencyLog


class LiveView:
    """A context manager; `update` is `engine.live.run_stream`'s per-frame callback. The view starts drawing at the
    first decided frame, so a stream refused before it (bad arguments, a source that cannot be opened or gives no
    frame, a run that cannot stream) draws nothing: its one error line stands alone."""

    def __init__(self, console: Console, classes: Sequence[str]):
        self.classes = list(classes)
        self.live = Live(console=console, refresh_per_second=4, transient=False)
        self.started = False

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            self.live.stop()

    def update(self, frame: int, label: int, score: float, log: LatencyLog) -> None:
        if not self.started:
            self.live.start(refresh=False)
            self.started = True
        table = Table(show_header=False, box=None)
        table.add_row("time", f"{frame / log.fps:8.2f} s  (frame {frame})")
        table.add_row("label", f"[bold]{self.classes[label]}[/bold]  {score:.2f}")
        for stage in STAGES:
            table.add_row(stage, f"{log.times[stage][-1] * 1000:7.1f} ms")
        self.live.update(table)


def latency_summary(report: dict) -> str:
    """The latency report in a few lines: per-frame percentiles per stage, the real-time factor, skipped packets."""
    rows = [
        f"  {stage:<8} p50 {report[stage]['p50']:8.2f} ms  p90 {report[stage]['p90']:8.2f} ms  "
        f"p99 {report[stage]['p99']:8.2f} ms"
        for stage in STAGES
    ]
    rtf, delay = report["realtime_factor"], report["smoothing_delay_s"]
    head = f"latency per frame ({report['frames']} frames at {report['fps']:g} fps):"
    tail = f"  real-time factor {rtf} (above 1 keeps up); smoothing delay {delay:g} s; "
    tail += f"{report['skipped_packets']} undecodable or damaged packets skipped"
    return "\n".join([head, *rows, tail])
