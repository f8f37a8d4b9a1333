"""Metrics on hand-made cases with known answers: coverage, sizes, over-redaction, leaks, AP."""

from __future__ import annotations

import numpy as np
import pytest

from faceless.eval import metrics as M


def test_coverage_uses_floor_ceil_pixels():
    hidden = np.zeros((10, 10), bool)
    hidden[2:4, 2:4] = True
    assert M.coverage(hidden, (2, 2, 4, 4)) == 1.0
    # (1.5, 1.5)-(4, 4) touches rows/cols 1..3: 9 pixels, 4 of them hidden.
    assert M.coverage(hidden, (1.5, 1.5, 4, 4)) == pytest.approx(4 / 9)
    assert M.coverage(hidden, (20, 20, 30, 30)) is None  # off the frame: not judged
    assert M.coverage(hidden, (-5, -5, 3, 3)) == pytest.approx(1 / 9)  # clipped


def test_recall_by_size_buckets():
    objs = [(5, True), (9.99, False), (10, True), (19, True), (25, False), (40, True),
            (79, True), (80, False), (500, True)]
    r = M.recall_by_size(objs)
    assert list(r) == ["0-10", "10-20", "20-40", "40-80", "80+"]
    assert r["0-10"] == {"n": 2, "recall": 0.5}
    assert r["10-20"] == {"n": 2, "recall": 1.0}
    assert r["20-40"] == {"n": 1, "recall": 0.0}
    assert r["40-80"] == {"n": 2, "recall": 1.0}
    assert r["80+"] == {"n": 2, "recall": 0.5}
    assert M.recall([]) is None and M.recall([True, False, False, True]) == 0.5


def test_over_redaction_grows_labels_by_a_fifth_per_side():
    h, w = 100, 100
    outside = M.outside_mask(h, w, [(40, 40, 60, 60)])
    # Grown by 4 px per side (20% of 20), the +1 of redaction_eval on the far side.
    assert not outside[36:65, 36:65].any() and outside[35, 50] and outside[50, 65]
    n_out = outside.sum()
    assert n_out == h * w - 29 * 29
    hidden = np.zeros((h, w), bool)
    hidden[30:70, 30:70] = True  # 40x40 mask around a 20x20 face
    assert M.over_redaction(hidden, outside) == pytest.approx((1600 - 29 * 29) / n_out)
    assert M.over_redaction(hidden, np.zeros((h, w), bool)) == 0.0


def test_changed_pixels_tolerance():
    a = np.full((2, 2, 3), 100, np.uint8)
    b = a.copy()
    b[0, 0, 1] = 102
    b[1, 1, 2] = 97
    assert M.changed_pixels(a, b).tolist() == [[False, False], [False, True]]


def test_false_regions():
    labels = [(10, 10, 20, 20)]
    regions = [(15, 15, 25, 25), (20, 10, 30, 20), (50, 50, 60, 60)]  # overlap, touch, away
    assert M.false_regions(regions, labels) == 2
    assert M.false_regions(regions, []) == 3


def test_longest_leak():
    frames = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11]
    leaked = [False, True, True, False, True, True, True, True, True, False]
    # 5, 6 then a gap at 7 (unlabelled), then 8, 9, 10: the longest run is 3 from frame 8.
    assert M.longest_run(frames, leaked) == (3, 8)
    assert M.longest_run([3, 1, 2], [True, True, True]) == (3, 1)  # order does not matter
    assert M.longest_run([1, 2], [False, False]) == (0, None)
    assert M.longest_run([], []) == (0, None)


def test_wider_ap_hand_made():
    # Two counted faces; predictions: a hit (0.9), a false alarm (0.8), a hit (0.7).
    # Normalised scores 1, 0.5, 0. At thresholds above 0.5: precision 1, recall 1/2; down to
    # just above 0: precision 1/2, recall 1/2; at 0: precision 2/3, recall 1.
    # Envelope: 1 over recall [0, .5], 2/3 over [.5, 1]: AP = .5 + 1/3.
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    pred = np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 0, 30, 10]], float)
    ap, curve = M.wider_ap([(pred, np.array([0.9, 0.8, 0.7]))], [(gt, np.array([1, 1], bool))])
    assert ap == pytest.approx(5 / 6)
    assert curve[0].tolist() == [1.0, 0.5] and curve[-1].tolist() == pytest.approx([2 / 3, 1])


def test_wider_ap_ignored_faces_are_neither_hits_nor_proposals():
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    pred = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    # Only the first face counts; a match to the second is not a false alarm.
    ap, _ = M.wider_ap([(pred, np.array([0.9, 0.95]))], [(gt, np.array([1, 0], bool))])
    assert ap == pytest.approx(1.0)
    # Nothing found: AP 0; nothing labelled anywhere: AP 0, no division by zero.
    assert M.wider_ap([(np.zeros((0, 4)), np.zeros(0))], [(gt, np.ones(2, bool))])[0] == 0
    assert M.wider_ap([(pred, np.array([0.5, 0.6]))], [(np.zeros((0, 4)), np.zeros(0, bool))]
                      )[0] == 0


def _reference_ap(preds, gts, iou=0.5, n=1000):
    """The official WIDER FACE evaluation, written loop by loop as it is published."""
    scores = np.concatenate([s for _, s in preds])
    lo, hi = scores.min(), scores.max()
    pr = np.zeros((n, 2))
    count = 0
    for (pb, ps), (gb, keep) in zip(preds, gts, strict=True):
        count += int(keep.sum())
        if len(gb) == 0 or len(pb) == 0:
            continue
        ps = (ps - lo) / (hi - lo)
        o = np.argsort(-ps, kind="stable")
        pb, ps = pb[o], ps[o]
        rec_l, prop = np.zeros(len(gb)), np.ones(len(pb))
        pred_rec = np.zeros(len(pb))
        for h in range(len(pb)):
            ov = []
            for g in gb:
                iw = min(pb[h, 2], g[2]) - max(pb[h, 0], g[0]) + 1
                ih = min(pb[h, 3], g[3]) - max(pb[h, 1], g[1]) + 1
                if iw > 0 and ih > 0:
                    ua = ((pb[h, 2] - pb[h, 0] + 1) * (pb[h, 3] - pb[h, 1] + 1)
                          + (g[2] - g[0] + 1) * (g[3] - g[1] + 1) - iw * ih)
                    ov.append(iw * ih / ua)
                else:
                    ov.append(0.0)
            j = int(np.argmax(ov))
            if ov[j] >= iou:
                if not keep[j]:
                    rec_l[j], prop[h] = -1, -1
                elif rec_l[j] == 0:
                    rec_l[j] = 1
            pred_rec[h] = (rec_l == 1).sum()
        for t in range(n):
            th = 1 - (t + 1) / n
            idx = np.where(ps >= th)[0]
            if len(idx):
                r = idx[-1]
                pr[t, 0] += (prop[: r + 1] == 1).sum()
                pr[t, 1] += pred_rec[r]
    prec = np.where(pr[:, 0] > 0, pr[:, 1] / np.maximum(pr[:, 0], 1), 0)
    rec = pr[:, 1] / count
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def test_wider_ap_matches_the_reference_on_random_sets():
    rng = np.random.default_rng(3)
    for _ in range(5):
        preds, gts = [], []
        for _ in range(4):
            g = rng.uniform(0, 200, (rng.integers(1, 8), 2))
            gb = np.hstack([g, g + rng.uniform(5, 40, g.shape)])
            # Predictions: jittered copies of some faces plus random boxes.
            hits = gb[rng.random(len(gb)) < 0.7] + rng.normal(0, 3, (1, 4))
            q = rng.uniform(0, 200, (rng.integers(0, 5), 2))
            pb = np.vstack([hits, np.hstack([q, q + 20])])
            preds.append((pb, rng.random(len(pb))))
            gts.append((gb, rng.random(len(gb)) < 0.8))
        assert M.wider_ap(preds, gts)[0] == pytest.approx(_reference_ap(preds, gts), abs=1e-12)
