"""Object detection with a grid (the YOLO idea): boxes, IoU, NMS, average precision, grid targets, digit scenes.

Boxes are ``(x1, y1, x2, y2)`` in pixels, x to the right, y down, ``x2 > x1`` and ``y2 > y1``; a box covering pixel
columns 3..7 is ``x1 = 3, x2 = 8``. Every array that crosses a function boundary has its shape in the docstring.

The grid format (one object per cell at most, as in YOLOv1 with one box per cell): an image of ``image_size`` pixels
is cut into ``grid x grid`` cells of ``cell = image_size / grid`` pixels. The cell that holds a box's centre is
*responsible* for it. Per cell, a target stores 6 numbers (channels of an ``(N, 6, S, S)`` array):

====  =========================================================================
 0    objectness: 1 in a responsible cell, 0 elsewhere
 1-2  tx, ty: the box centre's offset inside its cell, in cell units, in [0, 1)
 3-4  tw, th: the box's width and height, in cell units
 5    the class, an integer stored as a float (0 in empty cells)
====  =========================================================================

A detector's raw output has ``5 + C`` channels per cell, ``(N, 5 + C, S, S)``: an objectness logit, tx, ty, tw, th
(linear, no squashing), and C class logits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_float_array, as_rng
from .nn.layers import sigmoid
from .nn.losses import log_softmax

__all__ = ["box_iou", "nms", "batched_nms", "precision_recall", "average_precision", "mean_average_precision",
           "encode_targets", "decode_targets", "decode_predictions", "postprocess", "Scenes", "make_scenes",
           "load_scenes", "TARGET_CHANNELS"]

TARGET_CHANNELS = 6


def _boxes(b, name: str) -> np.ndarray:
    b = as_float_array(b, name)
    if b.ndim == 1 and b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{name}: expected boxes of shape (K, 4) as (x1, y1, x2, y2), got shape {b.shape}")
    return b


def box_area(b: np.ndarray) -> np.ndarray:
    """b: (K, 4) -> (K,) areas; a box with x2 <= x1 or y2 <= y1 has area 0."""
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a: (K, 4), b: (M, 4) -> (K, M) areas of the pairwise intersections."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)


def box_iou(a, b) -> np.ndarray:
    """Intersection over union of every box of ``a`` with every box of ``b``.

    a: (K, 4), b: (M, 4), each row (x1, y1, x2, y2). Returns (K, M) in [0, 1]. Boxes that only touch along an edge
    have IoU 0; two empty boxes have IoU 0 (not 0/0).
    """
    a, b = _boxes(a, "a"), _boxes(b, "b")
    inter = _intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def nms(boxes, scores, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression.

    boxes: (K, 4), scores: (K,). Repeatedly keep the best remaining box and drop every remaining box whose IoU with
    it is above ``iou_threshold``. Returns the kept indices (int64, best score first; equal scores keep the lower
    index first).
    """
    boxes = _boxes(boxes, "boxes")
    scores = as_float_array(scores, "scores").reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"scores: expected {len(boxes)} scores, one per box, got {len(scores)}")
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes, boxes)
    keep = []
    alive = np.ones(len(boxes), dtype=bool)
    for i in order:
        if not alive[i]:
            continue
        keep.append(i)
        alive &= ~(iou[i] > iou_threshold)
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, classes, iou_threshold: float = 0.5) -> np.ndarray:
    """NMS within each class separately (a 3 never suppresses an 8). Returns kept indices, best score first."""
    boxes = _boxes(boxes, "boxes")
    scores = as_float_array(scores, "scores").reshape(-1)
    classes = np.asarray(classes).reshape(-1)
    keep = [np.flatnonzero(classes == c)[nms(boxes[classes == c], scores[classes == c], iou_threshold)]
            for c in np.unique(classes)]
    keep = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


def precision_recall(detections, ground_truth, iou_threshold: float = 0.5):
    """Precision and recall of one class's detections, taken in order of decreasing score (PASCAL VOC matching).

    detections: a list over images of ``(boxes (K_i, 4), scores (K_i,))``.
    ground_truth: a list over the same images of boxes ``(M_i, 4)``.
    A detection is a true positive when its best-overlapping ground-truth box in its image has IoU >= the threshold
    and was not matched by a higher-scoring detection; otherwise it is a false positive (a duplicate included).
    Returns ``(precision (D,), recall (D,), scores (D,), n_ground_truth)`` over the D detections sorted by score.
    """
    if len(detections) != len(ground_truth):
        raise ValueError(f"ground_truth: expected one entry per image ({len(detections)}), got {len(ground_truth)}")
    rows = []  # (score, image, index)
    for img, (boxes, scores) in enumerate(detections):
        scores = np.asarray(scores, dtype=float).reshape(-1)
        rows += [(s, img, k) for k, s in enumerate(scores)]
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    gts = [_boxes(g, "ground truth") for g in ground_truth]
    n_gt = sum(len(g) for g in gts)
    matched = [np.zeros(len(g), dtype=bool) for g in gts]
    ious = [box_iou(_boxes(b, "detections"), g) if len(g) else None for (b, _), g in zip(detections, gts)]
    tp = np.zeros(len(rows))
    for r, (_, img, k) in enumerate(rows):
        if ious[img] is None:
            continue
        j = int(np.argmax(ious[img][k]))
        if ious[img][k, j] >= iou_threshold and not matched[img][j]:
            matched[img][j] = True
            tp[r] = 1.0
    ctp, cfp = np.cumsum(tp), np.cumsum(1.0 - tp)
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    recall = ctp / n_gt if n_gt else np.zeros_like(ctp)
    return precision, recall, np.array([r[0] for r in rows]), n_gt


def average_precision(detections, ground_truth, iou_threshold: float = 0.5) -> float:
    """VOC-style AP of one class (PASCAL VOC 2010 on: all points, no 11-point sampling).

    Arguments as for ``precision_recall``. The precision curve is first made non-increasing from the right (its
    "envelope"); AP is the area under that envelope as a step function of recall. No ground truth gives NaN.
    """
    precision, recall, _, n_gt = precision_recall(detections, ground_truth, iou_threshold)
    if n_gt == 0:
        return float("nan")
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def _split_by_class(detections, ground_truth, c):
    dets = [(np.asarray(b).reshape(-1, 4)[np.asarray(k) == c], np.asarray(s)[np.asarray(k) == c])
            for b, s, k in detections]
    gts = [np.asarray(b).reshape(-1, 4)[np.asarray(k) == c] for b, k in ground_truth]
    return dets, gts


def mean_average_precision(detections, ground_truth, num_classes: int, iou_threshold: float = 0.5):
    """mAP: the mean of the per-class APs over the classes that have ground truth.

    detections: a list over images of ``(boxes (K_i, 4), scores (K_i,), classes (K_i,))``.
    ground_truth: a list over the same images of ``(boxes (M_i, 4), classes (M_i,))``.
    Returns ``(mAP: float, per_class: (num_classes,) array with NaN for a class without ground truth)``.
    """
    if len(detections) != len(ground_truth):
        raise ValueError(f"ground_truth: expected one entry per image ({len(detections)}), got {len(ground_truth)}")
    per_class = np.array([average_precision(*_split_by_class(detections, ground_truth, c), iou_threshold)
                          for c in range(num_classes)])
    return float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan"), per_class


# ---------------------------------------------------------------------------------------------------------------
# The grid format


def encode_targets(boxes, classes, grid: int = 6, image_size: int = 48) -> np.ndarray:
    """Grid targets for a batch of images.

    boxes: a list over N images of (K_i, 4) boxes; classes: a list of (K_i,) integer classes.
    Returns (N, 6, grid, grid) float64: channels objectness, tx, ty, tw, th, class (see the module's docstring).
    Raises ValueError when two boxes of one image have their centres in the same cell (one object per cell).
    """
    if len(boxes) != len(classes):
        raise ValueError(f"classes: expected one entry per image ({len(boxes)}), got {len(classes)}")
    cell = image_size / grid
    target = np.zeros((len(boxes), TARGET_CHANNELS, grid, grid))
    for n, (b, k) in enumerate(zip(boxes, classes)):
        b = _boxes(b, f"boxes[{n}]")
        k = np.asarray(k).reshape(-1)
        if len(k) != len(b):
            raise ValueError(f"classes[{n}]: expected {len(b)} classes, one per box, got {len(k)}")
        cx, cy = (b[:, 0] + b[:, 2]) / 2 / cell, (b[:, 1] + b[:, 3]) / 2 / cell
        col = np.clip(np.floor(cx).astype(int), 0, grid - 1)
        row = np.clip(np.floor(cy).astype(int), 0, grid - 1)
        for i in range(len(b)):
            if target[n, 0, row[i], col[i]]:
                raise ValueError(f"boxes[{n}]: two boxes have their centres in cell (row {row[i]}, column "
                                 f"{col[i]}); the grid format holds one object per cell")
            target[n, :, row[i], col[i]] = (1.0, cx[i] - col[i], cy[i] - row[i],
                                            (b[i, 2] - b[i, 0]) / cell, (b[i, 3] - b[i, 1]) / cell, k[i])
    return target


def _cell_boxes(t: np.ndarray, cell: float) -> np.ndarray:
    """t: (N, >=5, S, S) with tx, ty, tw, th in channels 1-4 -> (N, S, S, 4) boxes in pixels."""
    S = t.shape[-1]
    cols, rows = np.meshgrid(np.arange(S), np.arange(S))
    cx, cy = (cols + t[:, 1]) * cell, (rows + t[:, 2]) * cell
    w, h = np.abs(t[:, 3]) * cell, np.abs(t[:, 4]) * cell
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def decode_targets(target, image_size: int = 48):
    """The inverse of ``encode_targets``: (N, 6, S, S) -> a list over images of (boxes (K, 4), classes (K,)),
    the objects in row-major cell order."""
    target = as_float_array(target, "target")
    if target.ndim != 4 or target.shape[1] != TARGET_CHANNELS:
        raise ValueError(f"target: expected shape (N, 6, S, S), got {target.shape}")
    boxes = _cell_boxes(target, image_size / target.shape[-1])
    out = []
    for n in range(len(target)):
        where = target[n, 0] > 0.5
        out.append((boxes[n][where], target[n, 5][where].round().astype(np.int64)))
    return out


def decode_predictions(pred, image_size: int = 48, score_threshold: float = 0.05):
    """Raw detector output -> candidate detections per image (before NMS).

    pred: (N, 5 + C, S, S). A cell's score is sigmoid(objectness) times its largest softmax class probability, its
    class that argmax. Cells scoring below ``score_threshold`` are dropped.
    Returns a list over images of ``(boxes (K, 4), scores (K,), classes (K,))``.
    """
    pred = as_float_array(pred, "pred")
    if pred.ndim != 4 or pred.shape[1] < 6:
        raise ValueError(f"pred: expected shape (N, 5 + C, S, S) with C >= 1, got {pred.shape}")
    logits = pred[:, 5:]
    probs = np.exp(log_softmax(logits, axis=1))
    scores = sigmoid(pred[:, 0]) * probs.max(axis=1)
    classes = probs.argmax(axis=1)
    boxes = _cell_boxes(pred, image_size / pred.shape[-1])
    out = []
    for n in range(len(pred)):
        where = scores[n] >= score_threshold
        order = np.argsort(-scores[n][where], kind="stable")
        out.append((boxes[n][where][order], scores[n][where][order], classes[n][where][order]))
    return out


def postprocess(pred, image_size: int = 48, score_threshold: float = 0.05, iou_threshold: float = 0.5):
    """``decode_predictions`` followed by per-class NMS in each image: the detector's final answer."""
    out = []
    for boxes, scores, classes in decode_predictions(pred, image_size, score_threshold):
        keep = batched_nms(boxes, scores, classes, iou_threshold)
        out.append((boxes[keep], scores[keep], classes[keep]))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Scenes of handwritten digits


@dataclass
class Scenes:
    """Images with several digits each, and their exact boxes and classes.

    images: (N, 1, size, size) pixels in [0, 1]; boxes: list of N arrays (K_i, 4); classes: list of N arrays (K_i,);
    touching: list of N bool arrays (K_i,), True for a digit whose box touches or overlaps another digit's box.
    """

    images: np.ndarray
    boxes: list
    classes: list
    touching: list

    def __len__(self):
        return len(self.images)

    def targets(self, grid: int = 6) -> np.ndarray:
        """(N, 6, grid, grid) grid targets (``encode_targets``)."""
        return encode_targets(self.boxes, self.classes, grid, self.images.shape[-1])

    @property
    def ground_truth(self):
        """A list over images of (boxes, classes), as ``mean_average_precision`` takes it."""
        return list(zip(self.boxes, self.classes))


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of a 2-D image to (h, w), corner pixels mapped to corner pixels."""
    ys = np.linspace(0, img.shape[0] - 1, h)
    xs = np.linspace(0, img.shape[1] - 1, w)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, img.shape[0] - 1), np.minimum(x0 + 1, img.shape[1] - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def _ink_crop(digit: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    return digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def make_scenes(n: int, digits, labels, size: int = 48, max_objects: int = 4, heights=(12, 16, 20), grid: int = 6,
                max_overlap: float = 0.15, seed=0) -> Scenes:
    """``n`` scenes of ``size x size`` pixels with 1 to ``max_objects`` digits each.

    digits: (D, 8, 8) digit images in [0, 1] to draw from; labels: (D,) their classes.
    Each digit is cropped to its ink, resized (bilinear) to one of ``heights`` pixels tall keeping its aspect ratio,
    and pasted (pixel-wise maximum) at a random position: its box is exactly the pasted rectangle. A placement is
    redrawn when its centre falls in a grid cell already holding a centre, or its box overlaps another by more than
    ``max_overlap`` of the smaller box's area (touching and slight overlap are allowed, hiding is not).
    """
    rng = as_rng(seed)
    digits = np.asarray(digits, dtype=float).reshape(-1, 8, 8)
    labels = np.asarray(labels).reshape(-1)
    cell = size / grid
    images = np.zeros((n, 1, size, size))
    all_boxes, all_classes, all_touch = [], [], []
    for s in range(n):
        want = int(rng.integers(1, max_objects + 1))
        boxes, classes, used = [], [], set()
        for _ in range(60 * want):
            if len(boxes) == want:
                break
            d = int(rng.integers(len(digits)))
            crop = _ink_crop(digits[d])
            h = int(rng.choice(heights))
            w = max(2, int(round(h * crop.shape[1] / crop.shape[0])))
            x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
            box = np.array([x0, y0, x0 + w, y0 + h], dtype=float)
            key = (int((y0 + h / 2) // cell), int((x0 + w / 2) // cell))
            if key in used:
                continue
            if boxes:
                others = np.array(boxes)
                inter = _intersection(box[None], others)[0]
                if np.any(inter > max_overlap * np.minimum(box_area(box[None])[0], box_area(others))):
                    continue
            patch = _resize(crop, h, w)
            images[s, 0, y0:y0 + h, x0:x0 + w] = np.maximum(images[s, 0, y0:y0 + h, x0:x0 + w], patch)
            boxes.append(box)
            classes.append(int(labels[d]))
            used.add(key)
        boxes = np.array(boxes).reshape(-1, 4)
        # touching: boxes closer than one pixel (or overlapping)
        gap_x = np.maximum(boxes[:, None, 0], boxes[None, :, 0]) - np.minimum(boxes[:, None, 2], boxes[None, :, 2])
        gap_y = np.maximum(boxes[:, None, 1], boxes[None, :, 1]) - np.minimum(boxes[:, None, 3], boxes[None, :, 3])
        close = (gap_x <= 1) & (gap_y <= 1)
        np.fill_diagonal(close, False)
        all_boxes.append(boxes)
        all_classes.append(np.array(classes, dtype=np.int64))
        all_touch.append(close.any(axis=1))
    return Scenes(np.clip(images, 0.0, 1.0), all_boxes, all_classes, all_touch)


def load_scenes(n_train: int = 4000, n_test: int = 400, dtype=np.float32):
    """The course's fixed detection data: ``(train, test)`` Scenes of 48x48 pixels, 1-4 digits each.

    The held-out scenes are drawn only from the digits that lesson 09 holds out (``train_test_split(...,
    test_fraction=0.25, seed=0)`` of scikit-learn's bundled 8x8 digits), so no held-out scene contains a digit image
    seen in training. Seeds are fixed: the same call gives the same scenes on every machine.
    """
    from .data import load_digits, train_test_split

    X, y = load_digits(images=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, seed=0)
    train = make_scenes(n_train, X_train[:, 0], y_train, seed=1301)
    test = make_scenes(n_test, X_test[:, 0], y_test, seed=1302)
    train.images, test.images = train.images.astype(dtype), test.images.astype(dtype)
    return train, test
