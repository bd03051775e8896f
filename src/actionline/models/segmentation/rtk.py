"""RTK: video action segmentation via contextually refined temporal keypoints (Jiang, Jin, Tan & Mu, CVPR 2024).

No public implementation exists; every choice the paper leaves open is stated here with its section. Read top to
bottom:

1. **Backbone** (Sec. 4.1): the ASFormer encoder (10 blocks, 64 maps) and three *lightweight* decoders. The paper
   does not size them; 5 blocks per decoder (half of ASFormer's) lands at 0.78M parameters for 2048-d input and
   19 classes, the paper's 0.779M (Table 5). Decoder s takes the previous stage's head output (class
   probabilities and the two keypoint heatmaps) as queries/keys and the previous features as values.
2. **One shared head** (Sec. 4.1) for the encoder and every decoder: a 1x1 conv to C class logits (the category
   heatmap Ŷ^cc), one action-point localisation logit (Ŷ^cl) and one boundary logit (Ŷ^b).
3. **Keypoint losses** (Eqs. 1-3) on every stage: focal losses on Ŷ^cl (γ = 0.75) and Ŷ^b (γ = 0.8), α = 2,
   β = 4, and frame-wise cross-entropy on Ŷ^cc. Targets: `nn.decoding.keypoints`. **Loss weights (a reading):**
   the paper prints λ1 = λ3 = 100, λ2 = 1 but not how each focal loss is normalised. Normalised by the number of
   positives K (CenterNet's convention, kept here), a focal loss weighs λ·T/K against the frame-averaged
   cross-entropy: at λ = 100 the encoder's gradient norms at initialisation are 303 (action), 292 (boundary) and
   4.7 (class) on 50Salads label sequences, and the class head never learns (benchmarked). At λ = 1 they are 3.0,
   2.9 and 4.7, the balance the paper's weights evidently intend, so λ1 = λ3 = 1 is the default;
   ``lambda_action=100 lambda_boundary=100`` restores the printed numbers.
   The two keypoint logits start at the prior probability π = 0.01, as the focal loss paper the RTK paper cites
   ([25], "Initialization") prescribes: at the default zero bias every frame predicts 0.5, the boundary loss
   (normalised by the few positives K) starts near 100 per stage, and ×λ3 its first Adam steps wreck the shared
   backbone (measured: training total 7,130 -> 787 in the first epoch with the prior).
4. **Candidates** (Sec. 3.2): local maxima of the last stage's heatmaps above 0.4 (action, on Ŷ^cl) and 0.2
   (boundary), a flat top counting as one peak at its middle (the action target is 1 across each segment's
   middle); at most N_max = αT (α = 0.1) of *each* type, the most confident (Table 4 limits the action
   candidates; one joint cap let action scores near 1 push the boundaries out).
5. **Graph matching** (Sec. 3.2, Fig. 4), training only: the target graph holds the ground-truth boundary and
   mid-points; the source graph one candidate per target point, drawn at random among the candidates that fall
   in its region (a boundary candidate within r_b / 2 of it; an action candidate inside its segment) or, when
   none does, a random point of that region (the paper's "compromise strategy"). Node features: the last
   decoder's embedding at the point plus a learned point-type embedding, detached by default (Table 3, "E.D.");
   GCN + Sinkhorn + permutation loss: `actionline.nn.decoding.graph_matching`.
6. **Refinement stages** (Eq. 4): ``G' = N'(cat(G, I))`` over all candidates, G from the GCN on the candidate graph
   and I the candidate embeddings, then a linear classifier to C + 1 outputs trained with cross-entropy (L_CR).
   The paper does not say what is re-classified; here action candidates learn the class of the ground-truth
   segment they lie in, boundary candidates the class of the segment they open, and the extra output C marks a
   *spurious* boundary (no ground-truth boundary within r_b / 2). At inference boundaries judged spurious
   (p > 0.5) are dropped (Table 6: RS trades recall for accuracy); each segment's class comes from the shared
   class head at its action point (Eq. 2). In Table 2 the refinement-only row equals ASFormer's numbers, which
   reads as "refinement stages" being the decoder stages; a re-classifier trained only in the last sixth of the
   epochs was measured to be worse than the class head (62.5% vs 84.4% correct at action points), so letting it
   override the class is an option (``reclassify=true``). Before the refinement phase (validation during
   training) decoding uses the keypoint generator alone.
7. **Staged training** (Sec. 4.1): the first 2/3 of the epochs train the keypoint generator only (80 of 120),
   graph matching joins for the next 1/6, refinement for the last 1/6 (end to end). ``Trainer`` tells the model
   the epoch through `set_epoch`.
8. **Rule-based re-assembling** (Sec. 3.3): `actionline.nn.decoding.reassembly`.

Ablations (Table 2) are settings: ``keypoints=false`` (frame-wise classification with the same backbone and
ASFormer's loss), ``refinement``, ``gcn`` (GCN features into the refinement stages) and ``graph_matching``
(permutation loss on the GCN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from actionline.errors import ConfigError
from actionline.models.base import ModelConfig, SegmentationModel
from actionline.models.registry import register
from actionline.nn.attention.asformer import ASFormerStage
from actionline.nn.decoding.graph_matching import GraphEmbedding, GraphMatcher, permutation_loss
from actionline.nn.decoding.keypoints import action_heatmap, boundary_heatmap, candidates, keypoint_focal_loss
from actionline.nn.decoding.reassembly import Keypoints, reassemble
from actionline.nn.losses.segmentation import IGNORE_INDEX, stage_losses
from actionline.nn.temporal.conv import FramePointwise, valid_or_none
from actionline.nn.temporal.dropout import ChannelDropout
from actionline.timeline import Timeline, runs

ACTION, BOUNDARY = 0, 1


@dataclass
class RTKConfig(ModelConfig):
    num_decoders: int = 3
    encoder_layers: int = 10
    decoder_layers: int = 5
    num_f_maps: int = 64
    att_channels: int = 32
    channel_dropout: float = 0.3
    dropout: float = 0.5
    full_window: bool = False
    # Table 2 ablations
    keypoints: bool = True
    refinement: bool = True
    gcn: bool = True
    graph_matching: bool = True
    detach_graph_features: bool = True  # Table 3 "E.D."
    gcn_layers: int = 2
    # keypoint targets and losses (Sec. 3.1, 4.1)
    boundary_region: float = 33.0
    action_region: float = 0.8
    action_positive: float = 0.32
    action_sigma: float = 0.25
    focal_alpha: float = 2.0
    focal_beta: float = 4.0
    action_gamma: float = 0.75
    boundary_gamma: float = 0.8
    lambda_action: float = 1.0  # the paper prints 100; see item 3 of the module docstring
    lambda_class: float = 1.0
    lambda_boundary: float = 1.0  # the paper prints 100
    keypoint_prior: float = 0.01  # initial heatmap probability (focal loss [25], Sec. 4.1 of Lin et al.)
    smooth_weight: float = 0.15  # frame-wise ablation only (ASFormer's loss)
    # candidates (Sec. 3.2, 4.1, Table 4)
    action_threshold: float = 0.4
    boundary_threshold: float = 0.2
    candidate_ratio: float = 0.1  # α: at most α T candidates of each type
    sinkhorn_iterations: int = 10
    sinkhorn_temperature: float = 0.1
    graph_scale: float = 0.1  # edge weights exp(-|Δt| / (scale T))
    spurious_threshold: float = 0.5
    reclassify: bool = False  # the refinement stages' classifier overrides the class head at action points
    schedule: list[float] = field(default_factory=lambda: [2 / 3, 5 / 6])  # GM joins, RS joins (fractions)

    def validate(self) -> None:
        super().validate()
        if self.encoder_layers < 1 or self.decoder_layers < 1 or self.num_decoders < 0:
            raise ConfigError("model.encoder_layers and model.decoder_layers must be >= 1")
        if not self.keypoints and (self.refinement or self.graph_matching):
            raise ConfigError("model.refinement and model.graph_matching need model.keypoints=true")
        if self.graph_matching and not self.gcn:
            raise ConfigError("model.graph_matching supervises the GCN: it needs model.gcn=true")
        if not 0 < self.keypoint_prior < 1:
            raise ConfigError("model.keypoint_prior must be a probability in (0, 1)")
        if len(self.schedule) != 2 or not 0 <= self.schedule[0] <= self.schedule[1] <= 1:
            raise ConfigError("model.schedule must be two increasing fractions of the epochs")


def _asformer_stage(c: RTKConfig, input_dim: int, layers: int, alpha: float) -> ASFormerStage:
    """An ASFormer stage of ``layers`` blocks without its classifier (the shared head classifies)."""
    return ASFormerStage(input_dim, layers, c.num_f_maps, c.att_channels, c.dropout, alpha, c.full_window)


@register("rtk")
class RTK(SegmentationModel):
    Config = RTKConfig
    inference_settings = frozenset({"action_threshold", "boundary_threshold", "candidate_ratio", "spurious_threshold"})
    varying_parameters = True  # the graph matcher and refinement stages join only in their phase (item 7)

    def __init__(self, config: RTKConfig):
        super().__init__(config)
        c = config
        self.channel_dropout = ChannelDropout(c.channel_dropout)
        self.head_channels = c.num_classes + (2 if c.keypoints else 0)
        self.encoder = _asformer_stage(c, c.input_dim, c.encoder_layers, alpha=1.0)
        self.decoders = nn.ModuleList(
            _asformer_stage(c, self.head_channels, c.decoder_layers, alpha=math.exp(-3 * s))
            for s in range(c.num_decoders)
        )
        self.head = FramePointwise(c.num_f_maps, self.head_channels)
        if c.keypoints:  # prior-probability initialisation of the focal-loss logits (see item 3 above)
            with torch.no_grad():
                self.head.bias[c.num_classes :] = -math.log((1 - c.keypoint_prior) / c.keypoint_prior)
        d = c.num_f_maps
        if c.gcn:
            self.point_type = nn.Embedding(2, d)
            self.graph = GraphEmbedding(d, c.gcn_layers)
        if c.graph_matching:
            self.matcher = GraphMatcher(d, c.sinkhorn_temperature, c.sinkhorn_iterations)
        if c.refinement:
            width = 2 * d if c.gcn else d
            self.refine = nn.Sequential(nn.Linear(width, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU())
            self.reclassify = nn.Linear(d, c.num_classes + 1)
        self.phase = 2  # 0: keypoint generator, 1: + graph matching, 2: + refinement (end to end)

    def set_epoch(self, epoch: int, total: int) -> None:
        """Staged training (Sec. 4.1): called by the trainer before each epoch (1-based)."""
        done = (epoch - 1) / max(total, 1)
        self.phase = 0 if done < self.config.schedule[0] else (1 if done < self.config.schedule[1] else 2)

    # --- backbone and shared head ---------------------------------------------------------------------------
    def _head_input(self, out: torch.Tensor) -> torch.Tensor:
        """Time-major head logits [B, T, K(+2)] -> class softmax (and keypoint sigmoids), the next stage's input."""
        k = self.config.num_classes
        probs = [F.softmax(out[..., :k], dim=-1)]
        if self.config.keypoints:
            probs.append(torch.sigmoid(out[..., k:]))
        return torch.cat(probs, dim=-1)

    def _masked_head(self, feature: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
        out = self.head(feature)
        return out if m is None else out.mul_(m[:, :, None])

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        # stages run time-major (`nn.temporal.conv`); the channels-first input is read through a transposed view
        m = valid_or_none(mask, features.dtype)
        _, feature, _ = self.encoder(
            features.transpose(1, 2), m, input_scales=self.channel_dropout.scales(*features.shape[:2], features)
        )
        out = self._masked_head(feature, m)
        heads = [out]
        for decoder in self.decoders:
            probs = self._head_input(out)
            if m is not None:
                probs, feature = probs * m[:, :, None], feature * m[:, :, None]
            _, feature, _ = decoder(probs, m, values=feature)
            out = self._masked_head(feature, m)
            heads.append(out)
        stacked = torch.stack(heads).transpose(2, 3)  # [S, B, C(+2), T]
        k = self.config.num_classes
        result = {"logits": stacked[:, :, :k], "features": feature.transpose(1, 2)}
        if self.config.keypoints:
            result["action"] = stacked[:, :, k]
            result["boundary"] = stacked[:, :, k + 1]
        return result

    # --- training -------------------------------------------------------------------------------------------
    def heatmap_targets(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        action, boundary = torch.zeros(labels.shape), torch.zeros(labels.shape)
        for b, row in enumerate(labels.cpu().numpy()):
            n = int((row != IGNORE_INDEX).sum())
            action[b, :n] = torch.from_numpy(
                action_heatmap(row[:n], c.action_region, c.action_positive, c.action_sigma)
            )
            boundary[b, :n] = torch.from_numpy(boundary_heatmap(row[:n], c.boundary_region))
        return action.to(labels.device), boundary.to(labels.device)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        labels, mask = targets["labels"], targets["mask"]
        if not c.keypoints:
            return stage_losses(outputs["logits"], labels, mask, c.smooth_weight)
        valid = (labels != IGNORE_INDEX) & (mask > 0)
        action_t, boundary_t = self.heatmap_targets(labels)
        terms: dict[str, torch.Tensor] = {"action": 0.0, "class": 0.0, "boundary": 0.0}  # type: ignore[dict-item]
        S, _, K, _ = outputs["logits"].shape
        focal = (c.focal_alpha, c.focal_beta)
        for s in range(S):
            terms["action"] = terms["action"] + keypoint_focal_loss(
                torch.sigmoid(outputs["action"][s]), action_t, valid, *focal, c.action_gamma
            )
            terms["boundary"] = terms["boundary"] + keypoint_focal_loss(
                torch.sigmoid(outputs["boundary"][s]), boundary_t, valid, *focal, c.boundary_gamma
            )
            terms["class"] = terms["class"] + F.cross_entropy(
                outputs["logits"][s].transpose(1, 2).reshape(-1, K), labels.reshape(-1), ignore_index=IGNORE_INDEX
            )
        total = (
            c.lambda_action * terms["action"] + c.lambda_class * terms["class"] + c.lambda_boundary * terms["boundary"]
        )
        matching, refining = c.graph_matching and self.phase >= 1, c.refinement and self.phase >= 2
        perm, refine = [], []
        for b, row in enumerate(labels.cpu().numpy() if matching or refining else []):
            row = row[: int((row != IGNORE_INDEX).sum())]
            candidates = self._candidates(outputs, b, len(row))  # shared by both terms
            if matching:
                perm.append(self._graph_matching_loss(outputs["features"][b], row, candidates))
            if refining and len(candidates[0]):
                refine.append(self._refinement_loss(outputs["features"][b], row, candidates))
        if matching:
            terms["perm"] = torch.stack(perm).mean()
            total = total + terms["perm"]
        if refining:
            terms["refine"] = torch.stack(refine).mean() if refine else outputs["features"].sum() * 0.0
            total = total + terms["refine"]
        terms["total"] = total
        return terms

    def _candidates(self, outputs: dict[str, torch.Tensor], b: int, length: int) -> tuple[np.ndarray, ...]:
        """Candidate positions, types and scores of video ``b`` from the last stage (Sec. 3.2)."""
        c = self.config
        action = torch.sigmoid(outputs["action"][-1, b, :length]).detach().float().cpu().numpy()
        boundary = torch.sigmoid(outputs["boundary"][-1, b, :length]).detach().float().cpu().numpy()
        cap = max(1, int(c.candidate_ratio * length))
        a = candidates(action, c.action_threshold, cap)
        bd = candidates(boundary, c.boundary_threshold, cap)
        pos = np.concatenate([a, bd])
        kind = np.concatenate([np.full(len(a), ACTION), np.full(len(bd), BOUNDARY)])
        return pos, kind, np.concatenate([action[a], boundary[bd]])

    def _node_features(self, features: torch.Tensor, pos: np.ndarray, kind: np.ndarray) -> torch.Tensor:
        """Embedding at each point + point-type embedding -> [N, d]."""
        idx = torch.as_tensor(pos, device=features.device, dtype=torch.long)
        nodes = features[:, idx].T
        if self.config.detach_graph_features:
            nodes = nodes.detach()
        return nodes + self.point_type(torch.as_tensor(kind, device=features.device, dtype=torch.long))

    def _graph_embed(self, features: torch.Tensor, pos: np.ndarray, kind: np.ndarray, length: int) -> torch.Tensor:
        nodes = self._node_features(features, pos, kind)
        times = torch.as_tensor(pos, device=features.device, dtype=features.dtype)
        return self.graph(nodes, times, self.config.graph_scale * length)

    def _graph_matching_loss(self, feats: torch.Tensor, labels: np.ndarray, candidates: tuple) -> torch.Tensor:
        """Permutation loss of one video: target graph from its ground-truth points, source graph sampled from its
        ``candidates`` (positions, kinds, scores)."""
        n = len(labels)
        starts, ends, _ = runs(labels)
        t_pos = np.concatenate([starts[1:], (starts + ends - 1) // 2])
        t_kind = np.concatenate([np.full(len(starts) - 1, BOUNDARY), np.full(len(starts), ACTION)])
        order = np.argsort(t_pos, kind="stable")
        t_pos, t_kind = t_pos[order], t_kind[order]
        c_pos, c_kind, _ = candidates
        s_pos = self._sample_source(t_pos, t_kind, c_pos, c_kind, starts, ends, n)
        target = self._graph_embed(feats, t_pos, t_kind, n)
        source = self._graph_embed(feats, s_pos, t_kind, n)
        soft = self.matcher(source, target)
        return permutation_loss(soft, torch.arange(len(t_pos), device=soft.device))

    def _sample_source(self, t_pos, t_kind, c_pos, c_kind, starts, ends, length) -> np.ndarray:
        """One source point per target point (Sec. 3.2): a random candidate of its region, else a random point of
        the region. Randomness from torch's generator, so seeded runs repeat."""
        half = int(self.config.boundary_region // 2)
        segment_of = np.searchsorted(ends, c_pos, side="right")
        out = np.empty(len(t_pos), dtype=np.int64)
        for i, (p, kind) in enumerate(zip(t_pos, t_kind, strict=True)):
            if kind == BOUNDARY:
                lo, hi = max(0, p - half), min(length - 1, p + half)
                pool = c_pos[(c_kind == BOUNDARY) & (np.abs(c_pos - p) <= half)]
            else:
                seg = np.searchsorted(ends, p, side="right")
                lo, hi = starts[seg], ends[seg] - 1
                pool = c_pos[(c_kind == ACTION) & (segment_of == seg)]
            if len(pool):
                out[i] = pool[int(torch.randint(len(pool), (1,)))]
            else:
                out[i] = lo + int(torch.randint(hi - lo + 1, (1,)))
        return out

    def _refined_logits(self, features: torch.Tensor, pos: np.ndarray, kind: np.ndarray, length: int) -> torch.Tensor:
        """Eq. 4 over all candidates: ``N'(cat(G, I))`` -> C + 1 logits."""
        idx = torch.as_tensor(pos, device=features.device, dtype=torch.long)
        candidate = features[:, idx].T
        parts = [candidate]
        if self.config.gcn:
            parts.insert(0, self._graph_embed(features, pos, kind, length))
        return self.reclassify(self.refine(torch.cat(parts, dim=1)))

    def _refinement_loss(self, feats: torch.Tensor, labels: np.ndarray, candidates: tuple) -> torch.Tensor:
        """L_CR of one video over its (non-empty) ``candidates``; targets as in the module docstring (item 6)."""
        c = self.config
        pos, kind, _ = candidates
        starts = runs(labels)[0][1:]
        target = labels[pos].astype(np.int64)  # action: its segment's class; boundary: the segment it opens
        if len(starts):
            near = np.abs(pos[:, None] - starts[None, :]).min(axis=1) <= c.boundary_region / 2
        else:
            near = np.zeros(len(pos), dtype=bool)
        target[(kind == BOUNDARY) & ~near] = c.num_classes  # spurious boundary
        logits = self._refined_logits(feats, pos, kind, len(labels))
        return F.cross_entropy(logits, torch.as_tensor(target, device=logits.device))

    # --- inference ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def keypoints(
        self, outputs: dict[str, torch.Tensor], b: int, length: int, probs: np.ndarray | None = None
    ) -> Keypoints:
        """The final (refined) keypoints of video ``b`` before re-assembling; ``probs`` [C, length] are the last
        stage's class probabilities when the caller already has them."""
        c = self.config
        if probs is None:
            probs = torch.softmax(outputs["logits"][-1, b, :, :length].float(), dim=0).cpu().numpy()
        pos, kind, score = self._candidates(outputs, b, length)
        cls = probs[:, pos].argmax(axis=0)
        conf = score * probs[:, pos].max(axis=0)
        keep = np.ones(len(pos), dtype=bool)
        if c.refinement and self.phase >= 2 and len(pos):  # before its phase the refinement head is untrained
            refined = torch.softmax(self._refined_logits(outputs["features"][b], pos, kind, length), dim=1)
            refined = refined.float().cpu().numpy()
            is_action = kind == ACTION
            if c.reclassify:
                cls = np.where(is_action, refined[:, : c.num_classes].argmax(axis=1), cls)
                conf = np.where(is_action, score * refined[:, : c.num_classes].max(axis=1), conf)
            keep = is_action | (refined[:, c.num_classes] <= c.spurious_threshold)
        a = keep & (kind == ACTION)
        bd = keep & (kind == BOUNDARY)
        return Keypoints(pos[a], cls[a], conf[a], pos[bd], score[bd])

    def decode_inputs(self, outputs: dict) -> dict:
        """The frame-wise argmax is needed only without keypoints."""
        return outputs if self.config.keypoints else super().decode_inputs(outputs)

    def decode_video(self, outputs, b, n, video, classes, targets) -> Timeline:
        """Keypoints -> rule-based re-assembling (Sec. 3.3); frame-wise argmax when ``keypoints=false``."""
        if not self.config.keypoints:
            return super().decode_video(outputs, b, n, video, classes, targets)
        probs = torch.softmax(outputs["logits"][-1, b, :, :n].float(), dim=0).cpu().numpy()
        fallback = int(probs.mean(axis=1).argmax())
        starts, ends, cls = reassemble(self.keypoints(outputs, b, n, probs), n, fallback)
        return Timeline.from_labels(video, np.repeat(cls, ends - starts), classes, scores=probs.max(axis=0))
