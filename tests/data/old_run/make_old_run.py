"""How best.pt and timelines.json here were made: with the code before the run record (commit 8fb5e41), run as
``PYTHONPATH=<that checkout>/src python make_old_run.py``; `tests/test_run_record.py` predicts with it again."""

# ruff: noqa: I001  (the old module paths are not first-party any more, so isort would split them)
import shutil
from pathlib import Path

from actionline.data.layout import SegmentationData
from actionline.data.synthetic import synthesize_segmentation
from actionline.engine.segmentation import predict_segmentation, train_segmentation

out = Path("out")
shutil.rmtree(out, ignore_errors=True)
data = synthesize_segmentation(out / "data", num_videos=8, feature_dim=8, seed=5, length_scale=0.3)
settings = {
    "model": {"num_stages": 2, "num_layers": 2, "num_f_maps": 8},
    "train": {"epochs": 10, "lr": 0.005, "val_fraction": 0.25},
}
ds = SegmentationData(data)
train_segmentation("mstcn", ds, 1, out / "run", settings)
predict_segmentation(out / "run", ds, ds.split("test", 1), out / "pred")  # best.pt: out/run/checkpoints/best.pt
