"""The Wisconsin diagnostic breast-cancer set (569 biopsies, 30 features each), bundled inside scikit-learn:
loads offline."""
from __future__ import annotations

import numpy as np


def load_breast_cancer(dtype=np.float64):
    """Return X, y: X (569, 30) the raw features of each biopsy's cell nuclei (radius, texture, ... in their own
    units, so standardize before training), y (569,) int64 with **1 = malignant** (212) and 0 = benign (357).

    Note: scikit-learn's own ``target`` codes it the other way (0 = malignant); here 1 marks the finding to detect.
    Source: Street, Wolberg & Mangasarian, UCI ML repository, as shipped by scikit-learn.
    """
    from sklearn.datasets import load_breast_cancer as _sklearn_breast_cancer

    bunch = _sklearn_breast_cancer()
    return bunch.data.astype(dtype), (1 - bunch.target).astype(np.int64)
