"""bpkit.detection: IoU by hand, NMS against a brute-force loop, AP against a hand-computed case, the grid format's
round trip, and the digit scenes (exact boxes, classes, fixed split)."""
import numpy as np
import pytest

from bpkit.detection import (average_precision, batched_nms, box_iou, decode_predictions, decode_targets,
                             encode_targets, load_scenes, make_scenes, mean_average_precision, nms, postprocess,
                             precision_recall)


# ------------------------------------------------------------------------------------------------ IoU

def test_box_iou_hand_cases():
    a = np.array([[0, 0, 2, 2]])
    b = np.array([[0, 0, 2, 2],      # identical: 1
                  [1, 0, 3, 2],      # half overlapping: 2 / (4 + 4 - 2) = 1/3
                  [1, 1, 3, 3],      # corner: 1 / 7
                  [2, 0, 4, 2],      # touching along an edge: 0
                  [5, 5, 6, 6],      # far: 0
                  [0.5, 0.5, 1.5, 1.5]])  # inside: 1 / 4
    np.testing.assert_allclose(box_iou(a, b), [[1, 1 / 3, 1 / 7, 0, 0, 1 / 4]], rtol=1e-12)


def test_box_iou_all_pairs_symmetric_and_bounded():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 40, (7, 2))
    a = np.hstack([xy, xy + rng.uniform(1, 10, (7, 2))])
    b = a[:4] + rng.uniform(-3, 3, (4, 4)) * [1, 1, 0, 0]
    iou = box_iou(a, b)
    assert iou.shape == (7, 4)
    np.testing.assert_allclose(iou, box_iou(b, a).T)
    assert np.all((iou >= 0) & (iou <= 1))
    np.testing.assert_allclose(np.diag(box_iou(a, a)), 1.0)


def test_box_iou_degenerate_and_empty():
    zero = np.array([[1, 1, 1, 1.0]])
    assert box_iou(zero, zero)[0, 0] == 0.0
    assert box_iou(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    with pytest.raises(ValueError, match=r"\(K, 4\)"):
        box_iou(np.zeros((2, 3)), np.zeros((2, 4)))


# ------------------------------------------------------------------------------------------------ NMS

def brute_force_nms(boxes, scores, thr):
    """The definition, one box at a time: take the best remaining, drop everything overlapping it too much."""
    remaining = list(range(len(boxes)))
    keep = []
    while remaining:
        best = max(remaining, key=lambda i: (scores[i], -i))
        keep.append(best)
        remaining = [i for i in remaining if i != best and box_iou(boxes[[best]], boxes[[i]])[0, 0] <= thr]
    return keep


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_matches_brute_force(seed, thr):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 30))
    xy = rng.uniform(0, 30, (k, 2))
    boxes = np.hstack([xy, xy + rng.uniform(4, 15, (k, 2))])
    scores = rng.random(k).round(1)      # rounded: ties happen, and must keep the lower index first
    np.testing.assert_array_equal(nms(boxes, scores, thr), brute_force_nms(boxes, scores, thr))


def test_nms_hand_case_and_order():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=float)
    scores = np.array([0.6, 0.9, 0.7, 0.5])
    keep = nms(boxes, scores, 0.5)
    np.testing.assert_array_equal(keep, [1, 2])         # box 1 suppresses 0 and 3; best first
    assert keep.dtype == np.int64
    assert len(nms(np.zeros((0, 4)), np.zeros(0))) == 0


def test_batched_nms_keeps_other_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], dtype=float)
    np.testing.assert_array_equal(batched_nms(boxes, [0.9, 0.8], [3, 8]), [0, 1])
    np.testing.assert_array_equal(batched_nms(boxes, [0.8, 0.9], [3, 3]), [1])


# ------------------------------------------------------------------------------------------------ AP

def test_average_precision_hand_computed():
    # Two images, three ground-truth boxes. Detections by score: 0.9 TP, 0.8 FP (IoU 1/3), 0.7 TP, 0.6 duplicate
    # of an already-matched box (FP), 0.5 never found -> recall 2/3 at most.
    gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), np.array([[0, 0, 10, 10]], float)]
    dets = [(np.array([[0, 0, 10, 10], [5, 0, 15, 10], [0, 0, 10, 10.5]], float), np.array([0.9, 0.8, 0.6])),
            (np.array([[0, 0, 10, 10]], float), np.array([0.7]))]
    precision, recall, scores, n_gt = precision_recall(dets, gt, 0.5)
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3, 2 / 4])
    np.testing.assert_allclose(recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert n_gt == 3
    # envelope: precision 1 up to recall 1/3, then 2/3 up to recall 2/3, then 0: AP = 1/3 * 1 + 1/3 * 2/3
    assert average_precision(dets, gt, 0.5) == pytest.approx(1 / 3 + 2 / 9, rel=1e-12)


def test_average_precision_extremes():
    gt = [np.array([[0, 0, 4, 4]], float)]
    assert average_precision([(gt[0], np.array([1.0]))], gt) == pytest.approx(1.0)
    assert average_precision([(np.zeros((0, 4)), np.zeros(0))], gt) == 0.0
    assert np.isnan(average_precision([(gt[0], np.array([1.0]))], [np.zeros((0, 4))]))
    # IoU threshold matters: a box with IoU 10/16 = 0.625 is right at 0.5 and wrong at 0.75
    shifted = [(np.array([[0, 0, 4, 2.5]], float), np.array([1.0]))]
    assert average_precision(shifted, gt, 0.5) == 1.0 and average_precision(shifted, gt, 0.75) == 0.0


def test_mean_average_precision_over_classes():
    gt = [(np.array([[0, 0, 4, 4], [10, 10, 14, 14]], float), np.array([3, 8]))]
    perfect = [(gt[0][0], np.array([0.9, 0.8]), np.array([3, 8]))]
    swapped = [(gt[0][0], np.array([0.9, 0.8]), np.array([8, 3]))]
    m, per = mean_average_precision(perfect, gt, 10)
    assert m == 1.0 and per[3] == 1.0 and per[8] == 1.0 and np.isnan(per[0])
    assert mean_average_precision(swapped, gt, 10)[0] == 0.0


# ------------------------------------------------------------------------------------------------ grid format

def test_encode_decode_round_trip():
    scenes = make_scenes(20, *digits_and_labels(), seed=5)
    target = encode_targets(scenes.boxes, scenes.classes, grid=6, image_size=48)
    assert target.shape == (20, 6, 6, 6)
    assert target[:, 0].sum() == sum(len(b) for b in scenes.boxes)
    for (boxes, classes), b0, k0 in zip(decode_targets(target), scenes.boxes, scenes.classes):
        row, col = (b0[:, 1] + b0[:, 3]) / 2 // 8, (b0[:, 0] + b0[:, 2]) / 2 // 8
        order = np.lexsort((col, row))                  # decode_targets lists objects in row-major cell order
        np.testing.assert_allclose(boxes, b0[order], atol=1e-9)
        np.testing.assert_array_equal(classes, k0[order])


def test_decode_predictions_of_a_perfect_output_gives_the_boxes():
    scenes = make_scenes(10, *digits_and_labels(), seed=6)
    target = scenes.targets()
    pred = np.zeros((10, 15, 6, 6))
    pred[:, 0] = np.where(target[:, 0] > 0, 20.0, -20.0)
    pred[:, 1:5] = target[:, 1:5]
    np.put_along_axis(pred[:, 5:], target[:, 5:6].astype(int), 20.0, axis=1)
    m, _ = mean_average_precision(postprocess(pred), scenes.ground_truth, 10)
    assert m == 1.0
    for (boxes, scores, classes), b0 in zip(decode_predictions(pred, score_threshold=0.5), scenes.boxes):
        assert len(boxes) == len(b0) and np.all(scores > 0.99)


def test_encoder_cell_arithmetic_by_hand():
    # a 10 x 12 box centred at (21, 30): cell column 2, row 3 of 8-pixel cells; offsets (5/8, 6/8)
    target = encode_targets([np.array([[16, 24, 26, 36]], float)], [np.array([7])], grid=6, image_size=48)
    np.testing.assert_allclose(target[0, :, 3, 2], [1, 5 / 8, 6 / 8, 10 / 8, 12 / 8, 7])
    assert target[0, 0].sum() == 1


def test_encoder_refuses_two_objects_in_one_cell():
    boxes = [np.array([[0, 0, 6, 6], [1, 1, 7, 7]], float)]
    with pytest.raises(ValueError, match="one object per cell"):
        encode_targets(boxes, [np.array([1, 2])])


# ------------------------------------------------------------------------------------------------ scenes

def digits_and_labels():
    from bpkit.data import load_digits
    X, y = load_digits(images=True)
    return X[:200, 0], y[:200]


def test_scenes_boxes_are_exact_and_classes_right():
    digits, labels = digits_and_labels()
    scenes = make_scenes(40, digits, labels, seed=3)
    assert scenes.images.shape == (40, 1, 48, 48)
    assert all(1 <= len(b) <= 4 for b in scenes.boxes)
    for img, boxes in zip(scenes.images[:, 0], scenes.boxes):
        ink = np.zeros_like(img, dtype=bool)
        for x1, y1, x2, y2 in boxes.astype(int):
            patch = img[y1:y2, x1:x2]
            # the box is tight: ink reaches each of its four edges
            assert patch[0].max() > 0 and patch[-1].max() > 0 and patch[:, 0].max() > 0 and patch[:, -1].max() > 0
            ink[y1:y2, x1:x2] = True
        assert img[~ink].max(initial=0) == 0      # no ink outside the boxes
        assert 0 <= img.min() and img.max() <= 1
    heights = np.concatenate([b[:, 3] - b[:, 1] for b in scenes.boxes])
    assert set(heights) <= {12, 16, 20}


def test_scenes_are_deterministic_and_split_is_held_out():
    train, test = load_scenes(n_train=30, n_test=20)
    again_train, again_test = load_scenes(n_train=30, n_test=20)
    np.testing.assert_array_equal(train.images, again_train.images)
    np.testing.assert_array_equal(test.images, again_test.images)
    assert train.images.dtype == np.float32
    assert not np.array_equal(train.images[:20], test.images)
    counts = np.bincount(np.concatenate(train.classes), minlength=10)
    assert counts.min() > 0
