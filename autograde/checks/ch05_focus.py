"""Hidden checks for chapter 5: softmax_with_temperature, attention_entropy, top_k_mask."""

import numpy as np

from attnbook.grading.spec import Case, Exercise, Mistake
from attnbook.i18n import t


def _tau(rng):
    """Return a temperature far enough from 1 that multiplying by it differs from dividing by it."""
    return float(rng.choice([rng.uniform(0.3, 0.7), rng.uniform(1.5, 3.0)]))


EXTREME = {"atol": 1e-5, "rtol": 1e-3}  # float32 arithmetic is legal: near 1e4 it keeps about 3 digits


def softmax_cases(rng):
    cases = []
    for shape, family in [((7,), "random"), ((3, 6), "random"), ((4, 2), "random"), ((2, 3, 5), "batch")]:
        tau = _tau(rng)
        cases.append(Case(t("random scores of shape {shape}, tau={tau}", shape=shape, tau=f"{tau:.2f}"),
                          (rng.normal(scale=2.0, size=shape), tau), family=family, sizes={"tau": tau}))
    cases.append(Case(t("large scores (about ±1e4), tau=2"), (rng.normal(size=(3, 5)) * 1e4, 2.0), family="extremes",
                      **EXTREME))
    cases.append(Case(t("very small temperature tau=0.001"), (rng.normal(size=(2, 6)), 1e-3), family="extremes",
                      **EXTREME))
    far_apart = rng.normal(size=(2, 5))
    far_apart[0] += 800.0
    cases.append(Case(t("two rows on very different scales (one near 800, one near 0), tau=1"), (far_apart, 1.0),
                      family="extremes", **EXTREME))
    masked = rng.normal(size=(3, 4))
    masked[0, 1] = masked[2, 0] = masked[2, 3] = -np.inf
    cases.append(Case(t("masked keys with score -inf, tau=0.5"), (masked, 0.5), family="masks"))
    cases.append(Case(t("a single key per row (n=1)"), (rng.normal(size=(3, 1)), _tau(rng)), family="edges"))
    cases.append(Case(t("tau=0 raises ValueError"), (rng.normal(size=(2, 3)), 0.0), raises="ValueError"))
    cases.append(Case(t("negative tau raises ValueError"), (rng.normal(size=(2, 3)), -1.0), raises="ValueError"))
    return cases


def _distributions(rng, shape):
    z = rng.normal(scale=1.5, size=shape)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def entropy_cases(rng):
    cases = [Case(t("random attention weights of shape {shape}", shape=shape), (_distributions(rng, shape),),
                  family=family, sizes={"n": shape[-1]})
             for shape, family in [((6,), "random"), ((3, 5), "random"), ((5, 2), "random"), ((2, 4, 7), "batch")]]
    rows, keep = np.arange(4), rng.integers(0, 6, size=4)          # one kept entry per row, never zeroed
    zeros = _distributions(rng, (4, 6))
    zeros[rng.random((4, 6)) < 0.3] = 0.0
    zeros[rows, (keep + rng.integers(1, 6, size=4)) % 6] = 0.0      # at least one zero weight per row
    zeros[rows, keep] += 0.5
    zeros /= zeros.sum(-1, keepdims=True)
    cases.append(Case(t("weights with some exact zeros (masked keys)"), (zeros,), family="masks", sizes={"n": 6}))
    cases.append(Case(t("one-hot rows"), (np.eye(5)[rng.integers(0, 5, size=3)],), family="edges", sizes={"n": 5}))
    cases.append(Case(t("uniform rows over 8 keys"), (np.full((2, 8), 1 / 8),), family="edges", sizes={"n": 8},
                      public=True))
    cases.append(Case(t("a single key per row (n=1)"), (np.ones((3, 1)),), family="edges", public=True))
    return cases


def top_k_cases(rng):
    cases = [Case(t("random scores of shape {shape}, k={k}", shape=shape, k=k), (rng.normal(size=shape), k),
                  family=family)
             for shape, k, family in [((8,), 3, "random"), ((4, 6), 2, "random"), ((5, 3), 1, "random"),
                                      ((6, 5), 3, "random"), ((2, 3, 7), 4, "batch")]]
    cases.append(Case(t("k equal to the row length"), (rng.normal(size=(3, 4)), 4), family="edges"))
    cases.append(Case(t("k one larger than the row length"), (rng.normal(size=(3, 5)), 6), family="edges"))
    cases.append(Case(t("k a few larger than the row length"), (rng.normal(size=(2, 4)), 7), family="edges"))
    ties = np.array([[3.0, 1.0, 3.0, 3.0], [0.0, 2.0, 2.0, 1.0], [5.0, 5.0, 5.0, 5.0]])
    cases.append(Case(t("tied scores (equal scores: the earlier position is kept first), k=2"), (ties, 2),
                      family="edges", public=True))
    cases.append(Case(t("k=0 raises ValueError"), (rng.normal(size=(2, 4)), 0), raises="ValueError"))
    return cases


SOFTMAX_HEADER = ("def softmax_with_temperature(scores, tau):\n"
                  "    if not tau > 0:\n        raise ValueError('tau must be positive')\n"
                  "    z = np.asarray(scores, dtype=float) / tau\n")
SOFTMAX_STABLE = ("    z = z - np.max(z, axis=-1, keepdims=True)\n"
                  "    e = np.exp(z)\n    return e / np.sum(e, axis=-1, keepdims=True)\n")

SOFTMAX_MISTAKES = (
    Mistake("multiplies-by-tau", t("The scores are multiplied by tau: the temperature divides them (scores / tau), "
            "so a larger tau must give flatter weights."),
            SOFTMAX_HEADER.replace("/ tau", "* tau") + SOFTMAX_STABLE),
    Mistake("softmax-over-first-axis", t("The softmax runs over the first axis (columns): each row, the last axis, must sum to 1."),
            SOFTMAX_HEADER + "    z = z - np.max(z, axis=0, keepdims=True)\n"
            "    e = np.exp(z)\n    return e / np.sum(e, axis=0, keepdims=True)\n"),
    Mistake("unstable-exp", t("exp(scores / tau) overflows for large scores or a small temperature (inf / inf = NaN): "
            "subtract each row's maximum before exponentiating."),
            SOFTMAX_HEADER + "    e = np.exp(z)\n    return e / np.sum(e, axis=-1, keepdims=True)\n"),
    Mistake("global-max", t("The maximum of the whole array is subtracted, not each row's own maximum: a row far below "
            "the largest score underflows to 0 / 0 = NaN."),
            SOFTMAX_HEADER + "    z = z - np.max(z)\n    e = np.exp(z)\n    return e / np.sum(e, axis=-1, keepdims=True)\n"),
    Mistake("normalised-over-everything", t("The exponentials are divided by their sum over the whole array: "
            "normalise each row separately (sum over the last axis, keepdims=True)."),
            SOFTMAX_HEADER + "    z = z - np.max(z, axis=-1, keepdims=True)\n    e = np.exp(z)\n    return e / np.sum(e)\n"),
    Mistake("no-tau-check", t("A temperature tau <= 0 must raise ValueError; here it is used as if it were valid."),
            SOFTMAX_HEADER.replace("    if not tau > 0:\n        raise ValueError('tau must be positive')\n", "")
            + SOFTMAX_STABLE),
    Mistake("only-zero-tau-rejected", t("Only tau == 0 raises ValueError: a negative tau is not a temperature either "
            "(it reverses the ranking of the keys)."),
            SOFTMAX_HEADER.replace("if not tau > 0:", "if tau == 0:") + SOFTMAX_STABLE),
)

ENTROPY_HEADER = "def attention_entropy(weights):\n    p = np.asarray(weights, dtype=float)\n" \
                 "    safe = np.where(p > 0, p, 1.0)\n"

ENTROPY_MISTAKES = (
    Mistake("log2", t("The logarithm is base 2 (bits): the course measures entropy in nats, with the natural log np.log."),
            ENTROPY_HEADER + "    return -np.sum(p * np.log2(safe), axis=-1)\n"),
    Mistake("nan-for-zero-weights", t("Zero weights give 0 * log(0) = 0 * (-inf) = NaN: by convention 0 ln 0 = 0, "
            "so leave zero weights out of the sum."),
            "def attention_entropy(weights):\n    p = np.asarray(weights, dtype=float)\n"
            "    return -np.sum(p * np.log(p), axis=-1)\n"),
    Mistake("missing-minus", t("The minus sign is missing: entropy is -sum(p ln p), which is never negative."),
            ENTROPY_HEADER + "    return np.sum(p * np.log(safe), axis=-1)\n"),
    Mistake("entropy-sum-over-first-axis", t("The sum runs over the first axis: sum over the last axis, one entropy per row."),
            ENTROPY_HEADER + "    return -np.sum(p * np.log(safe), axis=0)\n"),
    Mistake("mean-not-sum", t("The terms -p ln p are averaged over the keys: entropy is their sum."),
            ENTROPY_HEADER + "    return -np.mean(p * np.log(safe), axis=-1)\n"),
    Mistake("normalised-by-log-n", t("The entropy is divided by ln n (a normalised entropy between 0 and 1): "
            "return the entropy itself, in nats."),
            ENTROPY_HEADER + "    return -np.sum(p * np.log(safe), axis=-1) / np.log(p.shape[-1])\n"),
)

TOPK_HEADER = "def top_k_mask(scores, k):\n    if k < 1:\n        raise ValueError('k must be at least 1')\n" \
              "    scores = np.asarray(scores)\n"
TOPK_SCATTER = "    mask = np.zeros(scores.shape, dtype=bool)\n    np.put_along_axis(mask, order, True, axis=-1)\n" \
               "    return mask\n"

TOPK_MISTAKES = (
    Mistake("k-smallest", t("The mask keeps the k smallest scores: keep the k largest (sort -scores, or take the "
            "end of an ascending sort)."),
            TOPK_HEADER + "    order = np.argsort(scores, axis=-1, kind='stable')[..., :k]\n" + TOPK_SCATTER),
    Mistake("keeps-k-plus-one", t("The mask keeps k + 1 entries per row: exactly k (or the whole row when k is larger)."),
            TOPK_HEADER + "    order = np.argsort(-scores, axis=-1, kind='stable')[..., :k + 1]\n" + TOPK_SCATTER),
    Mistake("strict-threshold", t("Comparing with > against the k-th largest score keeps only k - 1 entries: "
            "the k-th largest itself must be kept."),
            TOPK_HEADER + "    kth = np.sort(scores, axis=-1)[..., -k:][..., :1]\n    return scores > kth\n"),
    Mistake("index-wraps-for-large-k", t("For k larger than the row, the index n - k is negative and silently wraps "
            "around to the other end of the sorted row: a k larger than the row must keep every entry."),
            TOPK_HEADER + "    n = scores.shape[-1]\n    kth = np.sort(scores, axis=-1)[..., n - k][..., None]\n"
            "    return scores >= kth\n"),
    Mistake("float-mask", t("The mask holds 0/1 numbers: return a boolean array (dtype bool)."),
            TOPK_HEADER + "    order = np.argsort(-scores, axis=-1, kind='stable')[..., :k]\n"
            "    mask = np.zeros(scores.shape)\n    np.put_along_axis(mask, order, 1.0, axis=-1)\n    return mask\n"),
    Mistake("topk-along-first-axis", t("The k largest are chosen along the first axis (per column): choose within each row, "
            "along the last axis."),
            TOPK_HEADER + "    order = np.argsort(-scores, axis=0, kind='stable')[:k]\n"
            "    mask = np.zeros(scores.shape, dtype=bool)\n    np.put_along_axis(mask, order, True, axis=0)\n"
            "    return mask\n"),
    Mistake("keeps-ties-beyond-k", t("Every score equal to the k-th largest is kept (scores >= the k-th largest): "
            "with ties a row then keeps more than k entries. Keep exactly min(k, n), ties to the earlier position."),
            TOPK_HEADER + "    n = scores.shape[-1]\n    kth = np.sort(scores, axis=-1)[..., n - min(k, n)][..., None]\n"
            "    return scores >= kth\n"),
    Mistake("ties-to-later-position", t("Among equal scores the later position is kept (a reversed ascending sort): "
            "the rule is that the earlier position wins, as a stable sort of -scores gives."),
            TOPK_HEADER + "    order = np.argsort(scores, axis=-1, kind='stable')[..., ::-1][..., :k]\n" + TOPK_SCATTER),
)

EXERCISES = [
    Exercise("softmax_with_temperature", softmax_cases, SOFTMAX_MISTAKES,
             weights={"random": 0.5, "batch": 0.0625, "extremes": 0.1875, "masks": 0.0625, "edges": 0.0625,
                      "arguments": 0.125}),
    Exercise("attention_entropy", entropy_cases, ENTROPY_MISTAKES,
             weights={"random": 2 / 3, "batch": 1 / 12, "masks": 1 / 6, "edges": 1 / 12}),
    Exercise("top_k_mask", top_k_cases, TOPK_MISTAKES,
             weights={"random": 0.625, "batch": 0.0625, "edges": 0.25, "arguments": 0.0625}),
]
