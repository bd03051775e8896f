"""The MS-TCN dataset layout, read and written unchanged.

::

    ROOT/features/<video>.npy        float [D, T] (one column per frame, full frame rate)
    ROOT/groundTruth/<video>.txt     one class name per line, T lines
    ROOT/mapping.txt                 "<index> <name>" per line, indices 0..K-1
    ROOT/splits/{train,test}.splitN.bundle   one "<video>.txt" per line
    ROOT/actionline.json             optional: name, sample_rate, background, num_splits (written by synth)

Presets give the per-dataset facts of the community setup (specs/reference-implementations-notes.md §1-2).
Every reader validates what it reads and raises `DataError` with the file name and the problem.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from actionline.errors import DataError
from actionline.io import atomic_write, atomic_write_text, read_matrix, relative_entry


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset that training and evaluation need.

    ``background`` names the labels the dataset uses for "no action". The community scripts exclude only a
    label literally called ``background`` from Edit/F1, so evaluation uses that by default; pass this set
    explicitly (``--background``) to exclude e.g. Breakfast's ``SIL``.
    """

    name: str = "custom"
    sample_rate: int = 1
    num_splits: int = 1
    background: tuple[str, ...] = ("background",)
    num_classes: int | None = None
    fps: float | None = None

    def check(self, where: Path) -> None:
        """Values a metadata file may hold: positive integer sample rate and split count, a positive fps, a list
        of label names."""

        def positive_int(v):
            return isinstance(v, int) and not isinstance(v, bool) and v > 0

        problems = []
        if not positive_int(self.sample_rate):
            problems.append(f"sample_rate must be a positive integer, got {self.sample_rate!r}")
        if not positive_int(self.num_splits):
            problems.append(f"num_splits must be a positive integer, got {self.num_splits!r}")
        if self.num_classes is not None and not positive_int(self.num_classes):
            problems.append(f"num_classes must be a positive integer, got {self.num_classes!r}")
        fps_ok = isinstance(self.fps, (int, float)) and not isinstance(self.fps, bool) and 0 < self.fps < 1e4
        if self.fps is not None and not fps_ok:
            problems.append(f"fps must be a positive number, got {self.fps!r}")
        if not all(isinstance(b, str) for b in self.background):
            problems.append(f"background must be a list of label names, got {list(self.background)!r}")
        if problems:
            raise DataError(f"{where}: {'; '.join(problems)}")


PRESETS: dict[str, DatasetInfo] = {
    "gtea": DatasetInfo("gtea", sample_rate=1, num_splits=4, background=("background",), num_classes=11, fps=15.0),
    "50salads": DatasetInfo(
        "50salads", sample_rate=2, num_splits=5, background=("action_start", "action_end"), num_classes=19, fps=30.0
    ),
    "breakfast": DatasetInfo("breakfast", sample_rate=1, num_splits=4, background=("SIL",), num_classes=48, fps=15.0),
}

META_FILE = "actionline.json"


class SegmentationData:
    """A dataset folder in the MS-TCN layout."""

    def __init__(self, root: str | Path, info: DatasetInfo | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: dataset folder not found")
        self.info = info or self._detect_info()
        self.classes = read_mapping(self.root / "mapping.txt")
        self.class_index = {name: i for i, name in enumerate(self.classes)}
        if self.info.num_classes is not None and self.info.num_classes != len(self.classes):
            raise DataError(
                f"{self.root / 'mapping.txt'}: {len(self.classes)} classes, but the {self.info.name} preset has "
                f"{self.info.num_classes}"
            )

    def _detect_info(self) -> DatasetInfo:
        meta = self.root / META_FILE
        if meta.is_file():
            try:
                d = json.loads(meta.read_text(encoding="utf-8"))
                d["background"] = tuple(d.get("background", ("background",)))
                info = DatasetInfo(**d)
            except (json.JSONDecodeError, TypeError, UnicodeDecodeError, AttributeError) as exc:
                raise DataError(f"{meta}: malformed dataset metadata ({exc})") from None
            info.check(meta)
            return info
        return PRESETS.get(self.root.name.lower(), DatasetInfo(name=self.root.name))

    # --- listing ------------------------------------------------------------------------------------------
    def split(self, part: str, split: int) -> list[str]:
        """Video names (without ``.txt``) of ``{part}.split{split}.bundle``."""
        path = self.root / "splits" / f"{part}.split{split}.bundle"
        if not path.is_file():
            available = (
                sorted(p.name for p in (self.root / "splits").glob("*.bundle"))
                if (self.root / "splits").is_dir()
                else []
            )
            raise DataError(f"{path}: split file not found (available: {', '.join(available) or 'none'})")
        videos = [line.strip() for line in read_text(path).splitlines() if line.strip()]
        if not videos:
            raise DataError(f"{path}: split file is empty")
        videos = [relative_entry(v[:-4] if v.endswith(".txt") else v, str(path)) for v in videos]
        repeated = sorted({v for v in videos if videos.count(v) > 1})
        if repeated:
            raise DataError(f"{path}: videos listed twice (they would be scored twice): {', '.join(repeated[:5])}")
        return videos

    # --- reading one video --------------------------------------------------------------------------------
    def label_names(self, video: str) -> list[str]:
        path = self.root / "groundTruth" / f"{video}.txt"
        if not path.is_file():
            raise DataError(f"{path}: ground-truth file not found")
        names = [line.strip() for line in read_text(path).splitlines()]
        while names and not names[-1]:
            names.pop()
        if not names:
            raise DataError(f"{path}: ground-truth file is empty")
        return names

    def labels(self, video: str) -> np.ndarray:
        """Dense class indices at full frame rate."""
        names = self.label_names(video)
        try:
            return np.fromiter((self.class_index[n] for n in names), dtype=np.int64, count=len(names))
        except KeyError as exc:
            line = names.index(exc.args[0]) + 1
            raise DataError(
                f"{self.root / 'groundTruth' / (video + '.txt')}:{line}: label {exc.args[0]!r} is not in mapping.txt"
            ) from None

    def features(self, video: str) -> np.ndarray:
        """Features [D, T] at full frame rate, float32, validated."""
        return read_matrix(self.root / "features" / f"{video}.npy", "[D, T]")

    def pair(self, video: str) -> tuple[np.ndarray, np.ndarray]:
        """(features [D, T'], labels [T']) at the dataset's sample rate, lengths reconciled as MS-TCN does.

        Lengths may differ by at most the sample rate (feature extractors drop a frame or two); beyond that the
        files do not belong together and a `DataError` is raised.
        """
        feats = self.features(video)
        labels = self.labels(video)
        check_lengths(video, feats.shape[1], len(labels), tolerance=max(1, self.info.sample_rate))
        n = min(feats.shape[1], len(labels))
        sr = self.info.sample_rate
        return feats[:, :n:sr], labels[:n:sr]


def check_lengths(video: str, num_features: int, num_labels: int, tolerance: int) -> None:
    if abs(num_features - num_labels) > tolerance:
        raise DataError(
            f"video {video}: {num_features} feature frames but {num_labels} labels "
            f"(more than the tolerated {tolerance} frame(s) apart)"
        )


def read_text(path: Path) -> str:
    """A UTF-8 text file; other bytes are a `DataError` naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None


def read_mapping(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: mapping file not found")
    entries: dict[int, str] = {}
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].lstrip("-").isdigit():
            raise DataError(f"{path}:{lineno}: expected '<index> <name>', got {line!r}")
        idx, name = int(parts[0]), parts[1]
        if idx in entries or name in entries.values():
            raise DataError(f"{path}:{lineno}: duplicate class {line!r}")
        entries[idx] = name
    if not entries:
        raise DataError(f"{path}: mapping file is empty")
    if sorted(entries) != list(range(len(entries))):
        raise DataError(f"{path}: class indices must be 0..{len(entries) - 1} without gaps")
    return [entries[i] for i in range(len(entries))]


# --- validation part ----------------------------------------------------------------------------------------
def carve_validation(train_videos: Sequence[str], fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministically hold out ``fraction`` of the training videos for model selection.

    The choice depends only on the video names and ``seed`` (a hash order), not on file order, so it is the same
    on every machine. At least one video is held out when there are two or more. Never the test split.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"validation fraction must be in [0, 1), got {fraction}")
    videos = sorted(set(train_videos))
    n_val = 0 if fraction == 0 or len(videos) < 2 else max(1, round(fraction * len(videos)))
    key = lambda v: hashlib.sha256(f"{seed}:{v}".encode()).hexdigest()  # noqa: E731
    val = set(sorted(videos, key=key)[:n_val])
    return [v for v in videos if v not in val], [v for v in videos if v in val]


# --- writing ------------------------------------------------------------------------------------------------
def write_mapping(root: Path, classes: Sequence[str]) -> None:
    atomic_write_text(root / "mapping.txt", "".join(f"{i} {c}\n" for i, c in enumerate(classes)))


def write_split(root: Path, part: str, split: int, videos: Sequence[str]) -> None:
    atomic_write_text(root / "splits" / f"{part}.split{split}.bundle", "".join(f"{v}.txt\n" for v in videos))


def write_labels(path: Path, names: Sequence[str]) -> None:
    atomic_write_text(path, "".join(f"{n}\n" for n in names))


def write_features(path: Path, features: np.ndarray) -> None:
    def _save(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.save(f, features)

    atomic_write(path, _save)


def write_info(root: Path, info: DatasetInfo) -> None:
    d = asdict(info)
    d["background"] = list(info.background)
    atomic_write_text(root / META_FILE, json.dumps(d, indent=1))
