"""Spec of ex13 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex13, object detection and saliency (lesson 13).

``detection_loss(pred, target) -> (loss, dpred)``: the grid detector's loss, lesson 13's convention: objectness is the
binary cross-entropy of every cell (mean over all N S S cells), the box term the squared error of the four box
numbers of the responsible cells (mean over their 4 M numbers, weight 5), the class term the softmax cross-entropy of
the responsible cells (mean over the M cells, weight 2). dpred is checked against central differences of the loss
written out below; one case has logits near +-800 (checked against the solution's exact values).
``saliency(model, x, cls) -> dx``: the gradient of sum_n scores[n, cls[n]] with respect to x for a bpkit Sequential
(the class scores are the last layer's outputs, before any softmax), checked against central differences, on fully
connected models and on lesson 09's CNN in small (Conv2d, ReLU, MaxPool2d, Flatten, Linear; inputs drawn away from
the kinks). Backprop with no optimizer: every weight of the model is compared, exactly, before and after the call.
"""
from bpkit.exercises.authoring import *  # noqa: F403


LAMBDA_BOX, LAMBDA_CLS = 5.0, 2.0

# ---- detection_loss --------------------------------------------------------------------------------------------

LOSS_SETUPS = [(1, 2, 3), (2, 3, 4), (3, 2, 2), (2, 4, 3)]   # (N, S, C): every named dimension differs somewhere


def _target(rng, n, s, c):
    """(N, 6, S, S): 1 to S*S - 1 objects per image in random cells, never a symmetric object map (a transposed
    objectness target must differ), boxes tx, ty in [0, 1), tw, th in [0.5, 3], classes in [0, C)."""
    target = np.zeros((n, 6, s, s))
    for i in range(n):
        while True:
            obj = rng.random((s, s)) < 0.4
            if 0 < obj.sum() < s * s and not np.array_equal(obj, obj.T):
                break
        k = int(obj.sum())
        target[i, 0][obj] = 1.0
        target[i, 1][obj], target[i, 2][obj] = rng.random(k), rng.random(k)
        target[i, 3][obj], target[i, 4][obj] = rng.uniform(0.5, 3, k), rng.uniform(0.5, 3, k)
        target[i, 5][obj] = rng.integers(0, c, k)
    return target


def _loss_cases(rng):
    cases = [{"pred": rng.standard_normal((n, 5 + c, s, s)), "target": _target(rng, n, s, c),
              "label": f"N={n}, {s}x{s} grid, {c} classes"} for n, s, c in LOSS_SETUPS]
    big = rng.standard_normal((2, 5 + 3, 3, 3))
    big[:, 0] *= 800.0                                       # objectness logits near +-800
    big[:, 5:] = np.where(rng.random(big[:, 5:].shape) < 0.5, 800.0, 0.0) + big[:, 5:]   # class logits 0..800
    cases.append({"pred": big, "target": _target(rng, 2, 3, 3), "stable": 1,
                  "label": "N=2, 3x3 grid, 3 classes, logits near 800 (stability)"})
    return finish_cases(cases)


def _log_softmax(s, axis):
    s = s - s.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _loss_value(pred, target):
    """The loss written out once more, for central differences (float64)."""
    obj = target[:, 0]
    m = obj.sum()
    z = pred[:, 0]
    l_obj = np.mean(np.logaddexp(0.0, z) - z * obj)
    l_box = np.sum(obj[:, None] * (pred[:, 1:5] - target[:, 1:5]) ** 2) / (4 * m)
    logp = _log_softmax(pred[:, 5:], axis=1)
    picked = np.take_along_axis(logp, target[:, 5:6].astype(int), axis=1)[:, 0]
    l_cls = -np.sum(obj * picked) / m
    return l_obj + LAMBDA_BOX * l_box + LAMBDA_CLS * l_cls


def _loss_expected(case):
    if case.get("stable"):     # central differences cannot resolve logits of 800: the solution's exact values
        loss, dpred = EXERCISE.reference("detection_loss")(case["pred"].copy(), case["target"].copy())
        return {"loss": np.asarray(loss, dtype=np.float64), "dpred": np.asarray(dpred)}
    return {"loss": np.asarray(_loss_value(case["pred"], case["target"])),
            "dpred": gradient(_loss_value, {"pred": case["pred"], "target": case["target"]}, "pred")}


def _wrong_loss(kind):
    """A catalogued wrong loss: the reference with one convention broken."""
    def wrong(pred, target):
        obj = target[:, 0]
        obj_bce = obj.transpose(0, 2, 1) if kind == "objectness_wrong_cell" else obj
        n_cells = obj.size
        m = obj.sum()
        box_mask = np.ones_like(obj) if kind == "box_on_empty_cells" else obj
        cls_mask = np.ones_like(obj) if kind == "class_on_empty_cells" else obj
        box_norm, cls_norm = (4 * n_cells, n_cells) if kind == "mean_over_all_cells" else (4 * m, m)
        z = pred[:, 0]
        p = np.exp(-np.logaddexp(0.0, -z))
        dpred = np.zeros_like(pred)
        dpred[:, 0] = (p - obj_bce) / n_cells
        diff = pred[:, 1:5] - target[:, 1:5]
        dpred[:, 1:5] = LAMBDA_BOX * 2 * diff * box_mask[:, None] / box_norm
        logp = _log_softmax(pred[:, 5:], axis=1)
        onehot = (np.arange(pred.shape[1] - 5)[None, :, None, None] == target[:, 5:6]).astype(pred.dtype)
        dpred[:, 5:] = LAMBDA_CLS * (np.exp(logp) - onehot) * cls_mask[:, None] / cls_norm
        loss = (np.mean(np.logaddexp(0.0, z) - z * obj_bce)
                + LAMBDA_BOX * np.sum(box_mask[:, None] * diff ** 2) / box_norm
                - LAMBDA_CLS * np.sum(cls_mask[:, None] * onehot * logp) / cls_norm)
        return float(loss), dpred
    return wrong


DETECTION_LOSS = function_spec(
    "detection_loss", "detection_loss(pred, target) -> (loss, dpred)", make_cases=_loss_cases,
    call=drivers.function("detection_loss", args=("pred", "target"), returns=("loss", "dpred")),
    expected=_loss_expected, finite_differences=True,
    checks=[returns_check(("loss", "dpred"), 0.5), unchanged_check(("pred", "target"), 0.5),
            value_check("loss", 1.0, "the loss written out", hint="L = mean BCE over all cells + 5 * (sum of the "
                        "responsible cells' squared box errors) / (4 M) + 2 * (sum of their cross-entropies) / M"),
            value_check("dpred", 2.0, "central differences",
                        parts=(("objectness", 1, 0, 1), ("box", 1, 1, 5), ("class", 1, 5, None)),
                        hint="objectness: (sigmoid(z) - o) / (N S S) in every "
                        "cell; box: 5 * 2 (b - t) / (4 M) and class: 2 (softmax - onehot) / M in the responsible "
                        "cells only, 0 elsewhere")],
    mistakes=[
        Mistake("box_on_empty_cells", "your box term also reads the empty cells (whose box targets mean nothing): "
                "multiply the box error by the objectness target, so an empty cell gets no box gradient",
                _wrong_loss("box_on_empty_cells")),
        Mistake("class_on_empty_cells", "your class term also reads the empty cells: take the cross-entropy of the "
                "responsible cells only (mask it with the objectness target)", _wrong_loss("class_on_empty_cells")),
        Mistake("objectness_wrong_cell", "your objectness target comes from the wrong cell (rows and columns "
                "swapped): the target of cell (row i, column j) is target[:, 0, i, j], the cell the prediction "
                "pred[:, 0, i, j] is for", _wrong_loss("objectness_wrong_cell")),
        Mistake("mean_over_all_cells", "you averaged the box and class terms over all N S S cells: the lesson's "
                "convention averages them over the M responsible cells (4 M numbers for the box), so their size "
                "does not depend on how empty the grid is", _wrong_loss("mean_over_all_cells")),
    ],
    release_hint="objectness with binary cross-entropy on every cell; box and class terms on the responsible cells "
                 "only (mask with target[:, 0]), averaged over those M cells; scatter the gradients into zeros")


# ---- saliency --------------------------------------------------------------------------------------------------

SALIENCY_SETUPS = [(1, [4, 5, 3], "tanh"), (5, [3, 4, 4, 2], "sigmoid"), (3, [6, 5, 4], "tanh"),
                   (4, [2, 3, 5], "sigmoid")]   # (N, layer widths from input to classes, activation)
CNN_SETUPS = [(2, 1, (6, 4), 3, 4), (3, 2, (4, 6), 2, 3)]   # (N, channels, (H, W), filters, classes): lesson 09's
#                                                            CNN in small, non-square images


def _saliency_cases(rng):
    cases = []
    for n, widths, activation in SALIENCY_SETUPS:
        cases.append(drivers.network_case(rng, n, widths, activation, inputs="x", labels="cls"))
    for n, channels, size, filters, classes in CNN_SETUPS:
        cases.append(drivers.cnn_case(rng, n, channels, size, filters, classes, inputs="x", labels="cls"))
    return finish_cases(cases)


def _saliency_expected(case):
    model = drivers.build_model(case)
    rows = np.arange(len(case["cls"]))
    return {"dx": gradient(lambda x: model.forward(x)[rows, case["cls"]].sum(), {"x": case["x"]}, "x")}


def _wrong_saliency(kind):
    def wrong(model, x, cls):
        scores = model.forward(x)
        n, c = scores.shape
        onehot = np.zeros_like(scores)
        onehot[np.arange(n), cls] = 1.0
        if kind == "all_classes":
            dscores = np.ones_like(scores)
        elif kind == "probability":
            p = np.exp(scores - scores.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p_cls = p[np.arange(n), cls][:, None]
            dscores = p_cls * (onehot - p)           # d p_cls / d scores
        elif kind == "loss":
            p = np.exp(scores - scores.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            dscores = (p - onehot) / n               # the cross-entropy's gradient
        elif kind == "batch_mean":
            dscores = onehot / n
        else:                                        # "optimizer_step", "weights_as_matrices": the right upstream
            dscores = onehot
        if kind == "weights_as_matrices":            # Linear's dx = dout W^T written for every layer with a W
            d = dscores
            for layer in reversed(model.layers):
                d = d @ layer.params["W"].T if "W" in layer.params else layer.backward(d)
            return d
        dx = model.backward(dscores)
        if kind == "optimizer_step":                 # the training loop's habit: a step with the grads just filled
            for layer, name in model.parameters():
                layer.params[name] -= 0.1 * layer.grads[name]
        return dx
    return wrong


SALIENCY = function_spec(
    "saliency", "saliency(model, x, cls) -> dx", make_cases=_saliency_cases,
    call=drivers.model_function("saliency", args=("x", "cls"), returns=("dx",), weights_unchanged=True),
    expected=_saliency_expected, finite_differences=True,
    checks=[returns_check(("dx",), 0.5, hint="return one array of x's shape ((N, C, H, W) for the CNN): let every "
                          "layer's own backward carry the gradient, Conv2d, MaxPool2d and Flatten included"),
            unchanged_check(("x", "cls"), 0.5),
            value_check("dx", 2.0, "central differences", hint="forward, then backward with an upstream gradient "
                        "that is 1 at (n, cls[n]) and 0 everywhere else; no loss and no optimizer step"),
            weights_check(1.0)],
    mistakes=[
        Mistake("all_classes", "your upstream gradient is 1 for every class, which explains the sum of all scores: "
                "put 1 only at each row's own class cls[n]", _wrong_saliency("all_classes")),
        Mistake("probability", "you differentiated the softmax probability of the class: a saliency map explains "
                "the class score itself (the model's output before any softmax), so the upstream gradient is "
                "one-hot", _wrong_saliency("probability")),
        Mistake("loss", "that is the gradient of the cross-entropy loss (softmax - onehot) / N: a saliency map asks "
                "how the class score moves, not the loss; send a one-hot upstream gradient",
                _wrong_saliency("loss")),
        Mistake("batch_mean", "you divided by the batch size: each image's map is the gradient of its own score, "
                "not of a mean over the batch", _wrong_saliency("batch_mean")),
        Mistake("optimizer_step", "a saliency map is backprop with no update: no optimizer step, no W -= lr * dW, "
                "no new array put into layer.params. Forward, backward of the one-hot upstream gradient, return dx "
                "(backward only fills layer.grads, which is fine); to experiment, work on copy.deepcopy(model)",
                _wrong_saliency("optimizer_step")),
        Mistake("weights_as_matrices", "you multiplied by W.T for every layer that has a W: that is a Linear "
                "layer's backward only. A Conv2d's W is (F, C, kh, kw) and its input gradient is a transposed "
                "convolution: call each layer's own backward (model.backward does them all, in reverse order)",
                _wrong_saliency("weights_as_matrices")),
    ],
    release_hint="one forward pass, then model.backward of a one-hot upstream gradient (1 at each row's class); "
                 "return what backward returns",
    hands_over=drivers.MODEL_CLASSES)


EXERCISE = exercise("ex13", "Object detection and saliency: the masked detection loss, and gradients with respect "
                            "to the input", [DETECTION_LOSS, SALIENCY])
