"""Models: one file per method. Importing this package registers every model (`registry` imports none)."""

from actionline.models.classification import clip_classifier, tagging, transfer, vit_classifier
from actionline.models.detection import actionness, tags
from actionline.models.segmentation import asformer, baformer, mstcn, mucon, rtk, sct
from actionline.models.video import efficientnet_lite, i3d, resnet2d, resnet3d, s3d

__all__ = [
    "actionness",
    "asformer",
    "baformer",
    "clip_classifier",
    "efficientnet_lite",
    "i3d",
    "mstcn",
    "mucon",
    "resnet2d",
    "resnet3d",
    "rtk",
    "s3d",
    "sct",
    "tagging",
    "tags",
    "transfer",
    "vit_classifier",
]
