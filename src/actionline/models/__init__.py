"""Models: one file per method. Importing this package registers every model (`registry` imports none)."""

from actionline.models.detection import actionness, tags
from actionline.models.segmentation import asformer, baformer, mstcn, mucon, rtk, sct

__all__ = ["actionness", "asformer", "baformer", "mstcn", "mucon", "rtk", "sct", "tags"]
