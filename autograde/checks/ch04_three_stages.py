"""Hidden checks for chapter 4: score functions, masked softmax, weighted sum, scaled dot-product attention.

Inputs are chosen so that every mistake in the catalogues changes the answer in every random draw:
n_q, n_k and d_k all differ in the random shapes (a transposed or reshaped K cannot pass), d_v != d_k
(scaling by the wrong size cannot pass), query and key entries have unit scale (unscaled scores do not
saturate the softmax, so a missing 1/sqrt(d_k) shows), masks always hide at least one key of a row that
keeps others, and the extreme cases put whole rows near +1e4 and others near -1e4.
"""

import numpy as np

from attnbook.grading.spec import Case, Exercise, Mistake

# (batch shape of Q, batch shape of K, n_q, n_k, d): non-square everywhere, n_q != d, one broadcast case.
SCORE_SHAPES = [((), (), 3, 5, 4), ((2,), (2,), 4, 3, 6), ((2, 3), (2, 3), 5, 2, 7), ((2, 3), (3,), 4, 6, 5)]


def _score_cases(rng, with_zero=False):
    cases = []
    for bq, bk, n_q, n_k, d in SCORE_SHAPES:
        Q, K = rng.normal(size=bq + (n_q, d)), rng.normal(size=bk + (n_k, d))
        cases.append(Case(f"random Q {Q.shape}, K {K.shape}", (Q, K)))
    cases.append(Case("one query and one key (n_q = n_k = 1)", (rng.normal(size=(1, 3)), rng.normal(size=(1, 3)))))
    lengths = 10.0 ** rng.uniform(-2, 2, size=(2, 4, 1))
    cases.append(Case("queries and keys of very different lengths",
                      (lengths[0] * rng.normal(size=(4, 3)), lengths[1] * rng.normal(size=(4, 3)))))
    if with_zero:
        Q, K = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
        Q[0, 1], K[1, 2] = 0.0, 0.0
        cases.append(Case("an all-zero query and an all-zero key", (Q, K)))
    return cases


def dot_scores_cases(rng):
    return _score_cases(rng)


def scaled_dot_scores_cases(rng):
    cases = _score_cases(rng)
    cases.append(Case("large d_k = 64", (rng.normal(size=(3, 64)), rng.normal(size=(5, 64)))))
    return cases


def cosine_scores_cases(rng):
    return _score_cases(rng, with_zero=True)


def additive_scores_batch_cases(rng):
    cases = []
    for bq, bk, n_q, n_k, d_q, d_k, d_a in [((), (), 3, 5, 4, 2, 6), ((2,), (2,), 4, 3, 3, 5, 2),
                                           ((2, 3), (3,), 2, 4, 5, 3, 4), ((2,), (2,), 1, 1, 2, 3, 5)]:
        Q, K = rng.normal(size=bq + (n_q, d_q)), rng.normal(size=bk + (n_k, d_k))
        W_q, W_k = rng.normal(scale=0.6, size=(d_q, d_a)), rng.normal(scale=0.6, size=(d_k, d_a))
        v = rng.normal(size=d_a)
        cases.append(Case(f"random Q {Q.shape}, K {K.shape}, attention size {d_a}", (Q, K, W_q, W_k, v)))
    return cases


def _mask(rng, shape):
    """Return a random bool mask of `shape` where every row keeps key 0 and hides at least one key."""
    mask = rng.random(shape) < 0.6
    mask[..., 0] = True
    mask[..., -1] = False
    return mask


def _extreme_scores(rng, batch=(2,), n_q=4, n_k=5):
    """Return scores with one row near +1e4, one near -1e4, one mixing both, and one of moderate size."""
    scores = rng.normal(size=batch + (n_q, n_k))
    scores[..., 0, :] += 1e4
    scores[..., 1, :] -= 1e4
    scores[..., 2, :] += np.where(np.arange(n_k) % 2 == 0, 1e4, -1e4)
    return scores


def _fully_masked(rng, n_q=4, n_k=5):
    """Return (scores, mask) with fully masked rows, partly masked rows and a row of scores near 1e4."""
    scores = rng.normal(size=(2, n_q, n_k))
    scores[:, 0] += 1e4
    mask = _mask(rng, (2, n_q, n_k))
    mask[0, 2], mask[1, 3] = False, False
    return scores, mask


def masked_softmax_cases(rng):
    cases = [Case("random scores (3, 6), no mask", (rng.normal(scale=2.0, size=(3, 6)),))]
    scores = rng.normal(scale=2.0, size=(2, 3, 5))
    cases.append(Case("batched scores (2, 3, 5), one mask (5,) for every row", (scores, _mask(rng, (5,)))))
    scores = rng.normal(scale=2.0, size=(2, 2, 3, 4))
    cases.append(Case("scores (2, 2, 3, 4), mask (2, 1, 1, 4) per batch item", (scores, _mask(rng, (2, 1, 1, 4)))))
    causal = np.tril(np.ones((4, 6), dtype=bool), k=2)
    cases.append(Case("a causal-style mask (4, 6)", (rng.normal(scale=2.0, size=(2, 4, 6)), causal)))
    cases.append(Case("scores near +1e4 and -1e4, no mask", (_extreme_scores(rng),)))
    cases.append(Case("scores near +1e4 and -1e4, with a mask", (_extreme_scores(rng), _mask(rng, (2, 4, 5)))))
    cases.append(Case("fully masked rows", _fully_masked(rng)))
    cases.append(Case("a single key (n_k = 1)", (rng.normal(size=(3, 1)),)))
    return cases


def weighted_sum_cases(rng):
    cases = []
    for bw, bv, n_q, n_k, d_v in [((), (), 3, 5, 2), ((2,), (2,), 4, 3, 6), ((2, 3), (3,), 2, 4, 5)]:
        weights = rng.dirichlet(np.ones(n_k), size=bw + (n_q,))
        V = rng.normal(size=bv + (n_k, d_v))
        cases.append(Case(f"random weights {weights.shape}, V {V.shape}", (weights, V)))
    weights = rng.dirichlet(np.ones(4), size=(2, 3))
    weights[0, 1] = 0.0
    cases.append(Case("a query whose weights are all zero (fully masked)", (weights, rng.normal(size=(2, 4, 3)))))
    cases.append(Case("weights that do not sum to 1", (rng.uniform(0.1, 2.0, size=(3, 4)), rng.normal(size=(4, 2)))))
    cases.append(Case("one-hot weights", (np.eye(5)[rng.integers(0, 5, size=(2, 3))], rng.normal(size=(2, 5, 4)))))
    cases.append(Case("one query and one key", (np.ones((1, 1)), rng.normal(size=(1, 3)))))
    return cases


def sdpa_cases(rng):
    cases = []
    for bq, bk, n_q, n_k, d_k, d_v, mask_shape in [((), (), 3, 5, 4, 6, None), ((2,), (2,), 4, 6, 8, 3, (6,)),
                                                   ((2, 2), (2, 2), 3, 5, 6, 2, (3, 5)),
                                                   ((3,), (), 4, 3, 5, 7, (3, 1, 3))]:
        Q, K = rng.normal(size=bq + (n_q, d_k)), rng.normal(size=bk + (n_k, d_k))
        V = rng.normal(size=bk + (n_k, d_v))
        kwargs = {} if mask_shape is None else {"mask": _mask(rng, mask_shape)}
        label = f"random Q {Q.shape}, K {K.shape}, V {V.shape}" + (f", mask {mask_shape}" if mask_shape else "")
        cases.append(Case(label, (Q, K, V), kwargs))
    causal = np.tril(np.ones((5, 5), dtype=bool))
    causal[:, 0] = True
    Q, K, V = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    cases.append(Case("self-attention shapes with a causal mask", (Q, K, V), {"mask": causal}))
    Q, K, V = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 5, 6)), rng.normal(size=(2, 5, 3))
    Q[:, 0] *= 10 / np.linalg.norm(Q[:, 0], axis=-1, keepdims=True)
    K[:, 0] = 20 * Q[:, 0]                                  # score of query 0 on key 0: 2000 / sqrt(6)
    mask = _mask(rng, (2, 4, 5))
    cases.append(Case("one very large score", (Q, K, V)))
    mask[0, 2], mask[1, 3] = False, False
    cases.append(Case("fully masked rows", (Q, K, V), {"mask": mask}))
    cases.append(Case("one query and one key", tuple(rng.normal(size=(2, 1, s)) for s in (3, 3, 2))))
    return cases


# ---------------------------------------------------------------------------------------------- mistakes
def _scores_mistake(key, message, name, body):
    return Mistake(key, message, f"def {name}(Q, K):\n    Q, K = np.asarray(Q, float), np.asarray(K, float)\n{body}")


DOT_MISTAKES = (
    _scores_mistake("dot-transposed-result", "The result is transposed: rows must be queries and columns keys "
                    "(Q K^T, not K Q^T).", "dot_scores", "    return K @ np.swapaxes(Q, -1, -2)\n"),
    _scores_mistake("dot-np-dot-mixes-batches", "np.dot pairs every batch item of Q with every batch item of K: "
                    "use @ (np.matmul), which pairs batch items one to one.",
                    "dot_scores", "    return np.dot(Q, np.swapaxes(K, -1, -2))\n"),
    _scores_mistake("dot-reshape-not-transpose", "K was reshaped instead of transposed: reshape keeps the order of "
                    "the numbers, so rows of K get cut into pieces. Swap the last two axes instead.",
                    "dot_scores", "    return Q @ K.reshape(K.shape[:-2] + (K.shape[-1], K.shape[-2]))\n"),
    _scores_mistake("dot-scaled", "The scores are divided by sqrt(d): the plain dot product has no scale.",
                    "dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])\n"),
)

SCALED_MISTAKES = (
    _scores_mistake("scaled-no-scale", "The scores are not scaled: divide the dot products by sqrt(d_k).",
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2)\n"),
    _scores_mistake("scaled-scale-by-d_k", "The scores are divided by d_k instead of sqrt(d_k).",
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / Q.shape[-1]\n"),
    _scores_mistake("scaled-multiply-by-sqrt", "The scores are multiplied by sqrt(d_k) instead of divided by it.",
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) * np.sqrt(Q.shape[-1])\n"),
    _scores_mistake("scaled-scale-by-n_k", "The scale uses the number of keys: d_k is the length of each query and "
                    "key vector, the last axis.",
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-2])\n"),
    _scores_mistake("scaled-d_k-from-axis-1", "d_k is read from axis 1, which is a batch or query axis when there are "
                    "batch dimensions: read it from the last axis (shape[-1]).",
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[1])\n"),
    _scores_mistake("scaled-transposed-result", "The result is transposed: rows must be queries and columns keys.",
                    "scaled_dot_scores", "    return K @ np.swapaxes(Q, -1, -2) / np.sqrt(Q.shape[-1])\n"),
)


def _cosine_mistake(key, message, body):
    return Mistake(key, message, "def cosine_scores(Q, K, eps=1e-8):\n"
                   "    Q, K = np.asarray(Q, float), np.asarray(K, float)\n" + body)


COSINE_MISTAKES = (
    _cosine_mistake("cosine-not-normalised", "The vectors are not normalised: this is the dot product. Divide each "
                    "query and key by its length.", "    return Q @ np.swapaxes(K, -1, -2)\n"),
    _cosine_mistake("cosine-only-queries-normalised", "Only the queries are normalised: divide the keys by their "
                    "lengths too.", "    Qn = Q / np.maximum(np.linalg.norm(Q, axis=-1, keepdims=True), eps)\n"
                    "    return Qn @ np.swapaxes(K, -1, -2)\n"),
    _cosine_mistake("cosine-norm-over-wrong-axis", "The norms are taken over the wrong axis: each vector is a row, so "
                    "take the norm over the last axis.",
                    "    Qn = Q / np.maximum(np.linalg.norm(Q, axis=-2, keepdims=True), eps)\n"
                    "    Kn = K / np.maximum(np.linalg.norm(K, axis=-2, keepdims=True), eps)\n"
                    "    return Qn @ np.swapaxes(Kn, -1, -2)\n"),
    _cosine_mistake("cosine-no-eps", "An all-zero vector gives NaN (0/0): divide by max(norm, eps).",
                    "    Qn = Q / np.linalg.norm(Q, axis=-1, keepdims=True)\n"
                    "    Kn = K / np.linalg.norm(K, axis=-1, keepdims=True)\n"
                    "    return Qn @ np.swapaxes(Kn, -1, -2)\n"),
    _cosine_mistake("cosine-squared-norm", "The vectors are divided by their squared lengths: divide by the length "
                    "itself, so that unit vectors come out.",
                    "    Qn = Q / np.maximum(np.sum(Q ** 2, axis=-1, keepdims=True), eps)\n"
                    "    Kn = K / np.maximum(np.sum(K ** 2, axis=-1, keepdims=True), eps)\n"
                    "    return Qn @ np.swapaxes(Kn, -1, -2)\n"),
)


def _additive_mistake(key, message, body):
    return Mistake(key, message, "def additive_scores_batch(Q, K, W_q, W_k, v):\n"
                   "    Q, K = np.asarray(Q, float), np.asarray(K, float)\n"
                   "    Pq, Pk = Q @ W_q, K @ W_k\n" + body)


ADDITIVE_MISTAKES = (
    _additive_mistake("additive-no-tanh", "tanh is missing: without it the score splits into a query part plus a key "
                      "part, and every query ranks the keys the same way.",
                      "    return (Pq[..., :, None, :] + Pk[..., None, :, :]) @ v\n"),
    _additive_mistake("additive-tanh-outside", "tanh is applied after the dot product with v: apply it to the sum "
                      "q_i W_q + k_j W_k, then take the dot product with v.",
                      "    return np.tanh((Pq[..., :, None, :] + Pk[..., None, :, :]) @ v)\n"),
    _additive_mistake("additive-tanh-separately", "tanh is applied to the projected query and key separately: apply it "
                      "to their sum.", "    return (np.tanh(Pq)[..., :, None, :] + np.tanh(Pk)[..., None, :, :]) @ v\n"),
    _additive_mistake("additive-no-v", "The vector v is missing: the hidden units are summed instead of weighted by v.",
                      "    return np.tanh(Pq[..., :, None, :] + Pk[..., None, :, :]).sum(axis=-1)\n"),
    _additive_mistake("additive-transposed-result", "The result is transposed: the new axes are swapped, so rows are "
                      "keys. Give the queries the axis [..., :, None, :] and the keys [..., None, :, :].",
                      "    return np.tanh(Pq[..., None, :, :] + Pk[..., :, None, :]) @ v\n"),
)


def _softmax_mistake(key, message, body):
    return Mistake(key, message, "def masked_softmax(scores, mask=None):\n"
                   "    scores = np.asarray(scores, dtype=float)\n" + body)


_MASK_NEG_INF = "    if mask is not None:\n        scores = np.where(mask, scores, -np.inf)\n"
_GUARDED = ("    m = np.max(scores, axis=-1, keepdims=True)\n    m = np.where(np.isfinite(m), m, 0.0)\n"
            "    e = np.exp(scores - m)\n    s = e.sum(axis=-1, keepdims=True)\n"
            "    return np.where(s > 0, e / np.where(s > 0, s, 1.0), 0.0)\n")

SOFTMAX_MISTAKES = (
    _softmax_mistake("softmax-unstable", "The softmax overflows for large scores (np.exp(1e4) is inf, and inf/inf is "
                     "NaN): subtract each row's maximum before exponentiating.",
                     _MASK_NEG_INF + "    e = np.exp(scores)\n    return e / e.sum(axis=-1, keepdims=True)\n"),
    _softmax_mistake("softmax-global-max", "The maximum of the whole array is subtracted, not the maximum of each row: "
                     "a row whose scores are all far below it underflows to 0/0 = NaN.",
                     _MASK_NEG_INF + "    e = np.exp(scores - np.max(scores))\n"
                     "    return e / e.sum(axis=-1, keepdims=True)\n"),
    _softmax_mistake("softmax-nan-fully-masked", "A fully masked row gives NaN (its maximum is -inf, and -inf - -inf is "
                     "NaN): such a row must be all zeros.",
                     _MASK_NEG_INF + "    e = np.exp(scores - np.max(scores, axis=-1, keepdims=True))\n"
                     "    return e / e.sum(axis=-1, keepdims=True)\n"),
    _softmax_mistake("softmax-mask-after-softmax", "The mask is applied after the softmax: the remaining weights no "
                     "longer sum to 1. Set masked scores to -inf before the softmax.",
                     "    m = np.max(scores, axis=-1, keepdims=True)\n    e = np.exp(scores - m)\n"
                     "    w = e / e.sum(axis=-1, keepdims=True)\n"
                     "    return w if mask is None else w * mask\n"),
    _softmax_mistake("softmax-mask-filled-with-zero", "Masked scores are set to 0, which is an ordinary score, so "
                     "masked keys still get weight: set them to -inf.",
                     "    if mask is not None:\n        scores = np.where(mask, scores, 0.0)\n" + _GUARDED),
    _softmax_mistake("softmax-mask-inverted", "The mask is inverted: True means the key may be attended to, False that "
                     "it is hidden.", "    if mask is not None:\n        scores = np.where(mask, -np.inf, scores)\n"
                     + _GUARDED),
    _softmax_mistake("softmax-wrong-axis", "The softmax runs over the wrong axis: normalise over keys (the last axis), "
                     "so that each query's weights sum to 1.",
                     _MASK_NEG_INF + _GUARDED.replace("axis=-1", "axis=-2")),
    _softmax_mistake("softmax-large-negative-fill", "Masked scores are set to a large negative number instead of -inf: "
                     "a fully masked row then becomes uniform instead of all zeros.",
                     "    if mask is not None:\n        scores = np.where(mask, scores, -1e9)\n" + _GUARDED),
)


def _ws_mistake(key, message, body):
    return Mistake(key, message, "def weighted_sum(weights, V):\n"
                   "    weights, V = np.asarray(weights, float), np.asarray(V, float)\n" + body)


WEIGHTED_SUM_MISTAKES = (
    _ws_mistake("weighted-np-dot-mixes-batches", "np.dot pairs every batch item of the weights with every batch item of "
                "V: use @ (np.matmul).", "    return np.dot(weights, V)\n"),
    _ws_mistake("weighted-sum-over-features", "The sum runs over the value dimensions instead of over keys: output "
                "dimension m is the weighted sum of dimension m of the values.",
                "    return (weights[..., :, :, None] * V[..., None, :, :]).sum(axis=-1)\n"),
    _ws_mistake("weighted-renormalised", "The weights are normalised again: use them as given (a row of zero weights "
                "must give a zero output, not NaN).",
                "    return (weights / weights.sum(axis=-1, keepdims=True)) @ V\n"),
    _ws_mistake("weighted-softmax-again", "A softmax is applied to the weights: stage 3 uses the weights it is given.",
                "    e = np.exp(weights - weights.max(axis=-1, keepdims=True))\n"
                "    return (e / e.sum(axis=-1, keepdims=True)) @ V\n"),
    _ws_mistake("weighted-mean-not-sum", "The result is divided by the number of keys: the weights already say how much "
                "of each value to take; sum, do not average.", "    return weights @ V / weights.shape[-1]\n"),
)


def _sdpa_mistake(key, message, scores, softmax):
    return Mistake(key, message, "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
                   "    Q, K, V = np.asarray(Q, float), np.asarray(K, float), np.asarray(V, float)\n"
                   f"    s = {scores}\n" + softmax + "    return w @ V, w\n")


_SCALED = "Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])"
_MASK_S = "    if mask is not None:\n        s = np.where(mask, s, -np.inf)\n"
_SAFE = ("    m = np.max(s, axis=-1, keepdims=True)\n    m = np.where(np.isfinite(m), m, 0.0)\n"
         "    e = np.exp(s - m)\n    t = e.sum(axis=-1, keepdims=True)\n"
         "    w = np.where(t > 0, e / np.where(t > 0, t, 1.0), 0.0)\n")

SDPA_MISTAKES = (
    _sdpa_mistake("sdpa-no-scale", "The scores are not scaled: divide Q K^T by sqrt(d_k) before the softmax.",
                  "Q @ np.swapaxes(K, -1, -2)", _MASK_S + _SAFE),
    _sdpa_mistake("sdpa-scale-by-d_k", "The scores are divided by d_k instead of sqrt(d_k).",
                  "Q @ np.swapaxes(K, -1, -2) / Q.shape[-1]", _MASK_S + _SAFE),
    _sdpa_mistake("sdpa-scale-by-d_v", "The scale uses the size of the values: it must be sqrt(d_k), the size of "
                  "the queries and keys.", "Q @ np.swapaxes(K, -1, -2) / np.sqrt(V.shape[-1])", _MASK_S + _SAFE),
    _sdpa_mistake("sdpa-softmax-wrong-axis", "The softmax runs over queries (axis -2): normalise over keys, the last "
                  "axis, so that each query's weights sum to 1.", _SCALED,
                  _MASK_S + _SAFE.replace("axis=-1", "axis=-2")),
    _sdpa_mistake("sdpa-mask-after-softmax", "The mask is applied after the softmax: the remaining weights no longer "
                  "sum to 1. Set masked scores to -inf before the softmax.", _SCALED,
                  _SAFE + "    if mask is not None:\n        w = w * mask\n"),
    _sdpa_mistake("sdpa-mask-filled-with-zero", "Masked scores are set to 0, an ordinary score, so masked keys still "
                  "get weight: set them to -inf.", _SCALED,
                  "    if mask is not None:\n        s = np.where(mask, s, 0.0)\n" + _SAFE),
    _sdpa_mistake("sdpa-mask-inverted", "The mask is inverted: True means the key may be attended to.", _SCALED,
                  "    if mask is not None:\n        s = np.where(mask, -np.inf, s)\n" + _SAFE),
    _sdpa_mistake("sdpa-nan-fully-masked", "A fully masked row gives NaN: its weights and output must be zeros.",
                  _SCALED, _MASK_S + "    e = np.exp(s - np.max(s, axis=-1, keepdims=True))\n"
                  "    w = e / e.sum(axis=-1, keepdims=True)\n"),
    _sdpa_mistake("sdpa-unstable-softmax", "The softmax overflows for large scores (exp of a large score is inf, "
                  "inf/inf is NaN): subtract each row's maximum first.", _SCALED,
                  _MASK_S + "    e = np.exp(s)\n    w = e / e.sum(axis=-1, keepdims=True)\n"),
)

EXERCISES = [
    Exercise("dot_scores", dot_scores_cases, DOT_MISTAKES),
    Exercise("scaled_dot_scores", scaled_dot_scores_cases, SCALED_MISTAKES),
    Exercise("cosine_scores", cosine_scores_cases, COSINE_MISTAKES),
    Exercise("additive_scores_batch", additive_scores_batch_cases, ADDITIVE_MISTAKES),
    Exercise("masked_softmax", masked_softmax_cases, SOFTMAX_MISTAKES),
    Exercise("weighted_sum", weighted_sum_cases, WEIGHTED_SUM_MISTAKES),
    Exercise("scaled_dot_product_attention", sdpa_cases, SDPA_MISTAKES),
]
