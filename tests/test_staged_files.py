"""`staged_files`: the outputs written in the block replace their namesakes only when the block completes, and the
folder's other files (``predict --video``'s extracted features) are kept either way."""

from __future__ import annotations

import pytest

from actionline.errors import DataError
from actionline.io import staged_files


def previous_outputs(folder):
    (folder / "features").mkdir(parents=True)
    (folder / "features" / "a.npy").write_text("features")
    (folder / "timelines.json").write_text("old")
    (folder / "srt").mkdir()
    (folder / "srt" / "old_video.srt").write_text("old")


def contents(folder):
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_completed_block_replaces_the_written_files_and_folders_and_keeps_the_rest(tmp_path):
    previous_outputs(tmp_path)
    with staged_files(tmp_path) as staging:
        (staging / "timelines.json").write_text("new")
        (staging / "srt").mkdir()
        (staging / "srt" / "video.srt").write_text("new")
        assert contents(tmp_path)["timelines.json"] == "old"  # nothing visible before the block ends
    assert contents(tmp_path) == {"features/a.npy": "features", "timelines.json": "new", "srt/video.srt": "new"}


@pytest.mark.parametrize("error", [RuntimeError("decode failed"), KeyboardInterrupt()])
def test_a_failed_block_leaves_the_folder_as_it_was(tmp_path, error):
    previous_outputs(tmp_path)
    before = contents(tmp_path)
    with pytest.raises(type(error)), staged_files(tmp_path) as staging:
        (staging / "timelines.json").write_text("half")
        raise error
    assert contents(tmp_path) == before
    assert not list(tmp_path.glob(".staged.*"))


def test_a_killed_runs_staging_folder_is_cleared_and_a_file_is_refused(tmp_path):
    (tmp_path / ".staged.x1.tmp").mkdir()
    (tmp_path / ".staged.x1.tmp" / "timelines.json").write_text("left by a kill")
    with staged_files(tmp_path) as staging:
        (staging / "results.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="is a file"), staged_files(tmp_path / "file"):
        pass
