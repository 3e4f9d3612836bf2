"""Hidden checks for chapter 4: score functions, masked softmax, weighted sum, scaled dot-product attention.

Inputs are chosen so that every mistake in the catalogues changes the answer in every random draw:
n_q, n_k and d_k all differ in the random shapes (a transposed or reshaped K cannot pass), d_v != d_k
(scaling by the wrong size cannot pass), query and key entries have unit scale (unscaled scores do not
saturate the softmax, so a missing 1/sqrt(d_k) shows), masks always hide at least one key of a row that
keeps others, and the extreme cases put whole rows near +1e4 and others near -1e4.

Families: "random" are plain (n, d) inputs, "batch" the same with leading axes, "masks" everything with a
mask (fully masked rows included), "extremes" scores of about 1e4, "edges" single queries and keys.
"""

import numpy as np

from attnbook.grading.spec import Case, Exercise, Mistake
from attnbook.i18n import t

# (batch shape of Q, batch shape of K, n_q, n_k, d): non-square everywhere, n_q != d, one broadcast case.
PLAIN_SHAPES = [((), (), 3, 5, 4), ((), (), 6, 2, 7), ((), (), 4, 7, 3)]
BATCH_SHAPES = [((2,), (2,), 4, 3, 6), ((2, 3), (2, 3), 5, 2, 7), ((2, 3), (3,), 4, 6, 5)]


def _qk_sizes(Q, K):
    return {"d_k": Q.shape[-1], "n_k": K.shape[-2], "n_q": Q.shape[-2]}


def _score_cases(rng, with_zero=False):
    cases = []
    for shapes, family in ((PLAIN_SHAPES, "random"), (BATCH_SHAPES, "batch")):
        for bq, bk, n_q, n_k, d in shapes:
            Q, K = rng.normal(size=bq + (n_q, d)), rng.normal(size=bk + (n_k, d))
            cases.append(Case(t("random Q {q}, K {k}", q=Q.shape, k=K.shape), (Q, K), family=family,
                              sizes=_qk_sizes(Q, K)))
    Q, K = rng.normal(size=(1, 3)), rng.normal(size=(1, 3))
    cases.append(Case(t("one query and one key (n_q = n_k = 1)"), (Q, K), family="edges", sizes=_qk_sizes(Q, K)))
    Q = 10.0 ** rng.uniform(-2, 2, size=(4, 1)) * rng.normal(size=(4, 3))
    K = 10.0 ** rng.uniform(-2, 2, size=(6, 1)) * rng.normal(size=(6, 3))
    cases.append(Case(t("queries and keys of very different lengths"), (Q, K), family="edges", sizes=_qk_sizes(Q, K),
                      atol=1e-6 if with_zero else 1e-6 * np.abs(Q).max() * np.abs(K).max()))  # float32 is legal
    if with_zero:
        Q, K = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
        Q[1], K[2] = 0.0, 0.0
        cases.append(Case(t("an all-zero query and an all-zero key"), (Q, K), family="edges", sizes=_qk_sizes(Q, K)))
    return cases


def dot_scores_cases(rng):
    return _score_cases(rng)


def scaled_dot_scores_cases(rng):
    cases = _score_cases(rng)
    Q, K = rng.normal(size=(3, 64)), rng.normal(size=(5, 64))
    cases.append(Case(t("large d_k = 64"), (Q, K), sizes=_qk_sizes(Q, K)))
    return cases


def cosine_scores_cases(rng):
    return _score_cases(rng, with_zero=True)


def additive_scores_batch_cases(rng):
    cases = []
    for bq, bk, n_q, n_k, d_q, d_k, d_a, family in [((), (), 3, 5, 4, 2, 6, "random"), ((), (), 4, 2, 3, 5, 3, "random"),
                                                    ((), (), 2, 6, 5, 3, 4, "random"),
                                                    ((2,), (2,), 4, 3, 3, 5, 2, "batch"),
                                                    ((2, 3), (3,), 2, 4, 5, 3, 4, "batch"),
                                                    ((), (), 1, 1, 2, 3, 5, "edges")]:
        Q, K = rng.normal(size=bq + (n_q, d_q)), rng.normal(size=bk + (n_k, d_k))
        W_q, W_k = rng.normal(scale=0.6, size=(d_q, d_a)), rng.normal(scale=0.6, size=(d_k, d_a))
        v = rng.normal(size=d_a)
        label = (t("random Q {q}, K {k}, attention size {d_a}", q=Q.shape, k=K.shape, d_a=d_a) if family != "edges"
                 else t("one query and one key"))
        cases.append(Case(label, (Q, K, W_q, W_k, v), family=family, sizes={"d_a": d_a, "n_k": n_k}))
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
    """Return (scores, mask) with fully masked rows and partly masked rows, all of moderate size."""
    scores = rng.normal(scale=2.0, size=(2, n_q, n_k))
    mask = _mask(rng, (2, n_q, n_k))
    mask[0, 2], mask[1, 3] = False, False
    return scores, mask


EXTREME = {"atol": 1e-5, "rtol": 1e-3}  # float32 arithmetic is legal: near 1e4 it keeps about 3 digits


def masked_softmax_cases(rng):
    cases = [Case(t("random scores {shape}, no mask", shape=shape), (rng.normal(scale=2.0, size=shape),))
             for shape in [(3, 6), (5, 4), (2, 7)]]
    for shape in [(2, 3, 5), (2, 2, 3, 4)]:
        cases.append(Case(t("batched scores {shape}, no mask", shape=shape), (rng.normal(scale=2.0, size=shape),),
                          family="batch"))
    scores = rng.normal(scale=2.0, size=(2, 3, 5))
    cases.append(Case(t("batched scores (2, 3, 5), one mask (5,) for every row"), (scores, _mask(rng, (5,))),
                      family="masks"))
    scores = rng.normal(scale=2.0, size=(2, 2, 3, 4))
    cases.append(Case(t("scores (2, 2, 3, 4), mask (2, 1, 1, 4) per batch item"), (scores, _mask(rng, (2, 1, 1, 4))),
                      family="masks"))
    causal = np.tril(np.ones((4, 6), dtype=bool), k=2)
    cases.append(Case(t("a causal-style mask (4, 6)"), (rng.normal(scale=2.0, size=(2, 4, 6)), causal), family="masks"))
    cases.append(Case(t("fully masked rows"), _fully_masked(rng), family="masks"))
    cases.append(Case(t("scores near +1e4 and -1e4, no mask"), (_extreme_scores(rng),), family="extremes", **EXTREME))
    cases.append(Case(t("scores near +1e4 and -1e4, with a mask"), (_extreme_scores(rng), _mask(rng, (2, 4, 5))),
                      family="extremes", **EXTREME))
    cases.append(Case(t("a single key (n_k = 1)"), (rng.normal(size=(3, 1)),), family="edges"))
    return cases


def weighted_sum_cases(rng):
    cases = []
    for bw, bv, n_q, n_k, d_v, family in [((), (), 3, 5, 2, "random"), ((), (), 4, 3, 6, "random"),
                                          ((), (), 2, 6, 4, "random"), ((2,), (2,), 4, 3, 6, "batch"),
                                          ((2, 3), (3,), 2, 4, 5, "batch")]:
        weights = rng.dirichlet(np.ones(n_k), size=bw + (n_q,))
        V = rng.normal(size=bv + (n_k, d_v))
        cases.append(Case(t("random weights {w}, V {v}", w=weights.shape, v=V.shape), (weights, V), family=family,
                          sizes={"n_k": n_k, "d_v": d_v}))
    weights = rng.dirichlet(np.ones(4), size=(2, 3))
    weights[0, 1] = 0.0
    cases.append(Case(t("a query whose weights are all zero (fully masked)"), (weights, rng.normal(size=(2, 4, 3))),
                      family="masks", sizes={"n_k": 4, "d_v": 3}))
    cases.append(Case(t("weights that do not sum to 1"), (rng.uniform(0.1, 2.0, size=(3, 4)), rng.normal(size=(4, 2))),
                      family="edges", sizes={"n_k": 4, "d_v": 2}))
    cases.append(Case(t("one-hot weights"), (np.eye(5)[rng.integers(0, 5, size=(2, 3))], rng.normal(size=(2, 5, 4))),
                      family="edges", sizes={"n_k": 5, "d_v": 4}))
    cases.append(Case(t("one query and one key"), (np.ones((1, 1)), rng.normal(size=(1, 3))), family="edges"))
    return cases


def _sdpa_sizes(Q, K, V):
    return {"d_k": Q.shape[-1], "d_v": V.shape[-1], "n_k": K.shape[-2]}


def sdpa_cases(rng):
    cases = []
    for bq, bk, n_q, n_k, d_k, d_v, mask_shape, family in [
            ((), (), 3, 5, 4, 6, None, "random"), ((), (), 4, 6, 8, 3, None, "random"),
            ((), (), 5, 3, 6, 2, None, "random"), ((2,), (2,), 4, 6, 8, 3, None, "batch"),
            ((2, 2), (2, 2), 3, 5, 6, 2, None, "batch"), ((3,), (), 4, 3, 5, 7, None, "batch"),
            ((2,), (2,), 4, 6, 8, 3, (6,), "masks"), ((2, 2), (2, 2), 3, 5, 6, 2, (3, 5), "masks"),
            ((3,), (), 4, 3, 5, 7, (3, 1, 3), "masks")]:
        Q, K = rng.normal(size=bq + (n_q, d_k)), rng.normal(size=bk + (n_k, d_k))
        V = rng.normal(size=bk + (n_k, d_v))
        kwargs = {} if mask_shape is None else {"mask": _mask(rng, mask_shape)}
        label = (t("random Q {q}, K {k}, V {v}", q=Q.shape, k=K.shape, v=V.shape) if mask_shape is None else
                 t("random Q {q}, K {k}, V {v}, mask {m}", q=Q.shape, k=K.shape, v=V.shape, m=mask_shape))
        cases.append(Case(label, (Q, K, V), kwargs, family=family, sizes=_sdpa_sizes(Q, K, V)))
    causal = np.tril(np.ones((5, 5), dtype=bool))
    Q, K, V = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    cases.append(Case(t("self-attention shapes with a causal mask"), (Q, K, V), {"mask": causal}, family="masks",
                      sizes=_sdpa_sizes(Q, K, V)))
    Q, K, V = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 5, 6)), rng.normal(size=(2, 5, 3))
    mask = _mask(rng, (2, 4, 5))
    mask[0, 2], mask[1, 3] = False, False
    cases.append(Case(t("fully masked rows"), (Q, K, V), {"mask": mask}, family="masks", sizes=_sdpa_sizes(Q, K, V)))
    Q, K = Q.copy(), K.copy()
    Q[:, 0] *= 10 / np.linalg.norm(Q[:, 0], axis=-1, keepdims=True)
    K[:, 0] = 20 * Q[:, 0]                                  # score of query 0 on key 0: 2000 / sqrt(6)
    cases.append(Case(t("one very large score"), (Q, K, V), family="extremes", sizes=_sdpa_sizes(Q, K, V), **EXTREME))
    cases.append(Case(t("one very large score, fully masked rows"), (Q, K, V), {"mask": mask}, family="extremes",
                      sizes=_sdpa_sizes(Q, K, V), **EXTREME))
    Q, K, V = (rng.normal(size=(2, 1, s)) for s in (3, 3, 2))
    cases.append(Case(t("one query and one key"), (Q, K, V), family="edges", sizes=_sdpa_sizes(Q, K, V)))
    return cases


# ---------------------------------------------------------------------------------------------- mistakes
def _scores_mistake(key, message, name, body):
    return Mistake(key, message, f"def {name}(Q, K):\n    Q, K = np.asarray(Q, float), np.asarray(K, float)\n{body}")


DOT_MISTAKES = (
    _scores_mistake("dot-transposed-result", t("The result is transposed: rows must be queries and columns keys "
                    "(Q K^T, not K Q^T)."), "dot_scores", "    return K @ np.swapaxes(Q, -1, -2)\n"),
    _scores_mistake("dot-np-dot-mixes-batches", t("np.dot pairs every batch item of Q with every batch item of K: "
                    "use @ (np.matmul), which pairs batch items one to one."),
                    "dot_scores", "    return np.dot(Q, np.swapaxes(K, -1, -2))\n"),
    _scores_mistake("dot-reshape-not-transpose", t("K was reshaped instead of transposed: reshape keeps the order of "
                    "the numbers, so rows of K get cut into pieces. Swap the last two axes instead."),
                    "dot_scores", "    return Q @ K.reshape(K.shape[:-2] + (K.shape[-1], K.shape[-2]))\n"),
    _scores_mistake("dot-scaled", t("The scores are divided by sqrt(d): the plain dot product has no scale."),
                    "dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])\n"),
    _scores_mistake("dot-full-transpose", t("K.T reverses every axis of K, batch axes included: with batch "
                    "dimensions transpose only the last two axes (np.swapaxes(K, -1, -2))."),
                    "dot_scores", "    return Q @ K.T\n"),
)

SCALED_MISTAKES = (
    _scores_mistake("scaled-no-scale", t("The scores are not scaled: divide the dot products by sqrt(d_k)."),
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2)\n"),
    _scores_mistake("scaled-scale-by-d_k", t("The scores are divided by d_k instead of sqrt(d_k)."),
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / Q.shape[-1]\n"),
    _scores_mistake("scaled-multiply-by-sqrt", t("The scores are multiplied by sqrt(d_k) instead of divided by it."),
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) * np.sqrt(Q.shape[-1])\n"),
    _scores_mistake("scaled-scale-by-n_k", t("The scale uses the number of keys: d_k is the length of each query "
                    "and key vector, the last axis."),
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-2])\n"),
    _scores_mistake("scaled-d_k-from-axis-1", t("d_k is read from axis 1, which is a batch or query axis when there "
                    "are batch dimensions: read it from the last axis (shape[-1])."),
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[1])\n"),
    _scores_mistake("scaled-d_k-from-len", t("d_k is taken as len(Q), the number of queries (or of batch items): it "
                    "is the length of each query vector, Q.shape[-1]."),
                    "scaled_dot_scores", "    return Q @ np.swapaxes(K, -1, -2) / np.sqrt(len(Q))\n"),
    _scores_mistake("scaled-transposed-result", t("The result is transposed: rows must be queries and columns keys."),
                    "scaled_dot_scores", "    return K @ np.swapaxes(Q, -1, -2) / np.sqrt(Q.shape[-1])\n"),
)


def _cosine_mistake(key, message, body):
    return Mistake(key, message, "def cosine_scores(Q, K, eps=1e-8):\n"
                   "    Q, K = np.asarray(Q, float), np.asarray(K, float)\n" + body)


COSINE_MISTAKES = (
    _cosine_mistake("cosine-not-normalised", t("The vectors are not normalised: this is the dot product. Divide each "
                    "query and key by its length."), "    return Q @ np.swapaxes(K, -1, -2)\n"),
    _cosine_mistake("cosine-only-queries-normalised", t("Only the queries are normalised: divide the keys by their "
                    "lengths too."), "    Qn = Q / np.maximum(np.linalg.norm(Q, axis=-1, keepdims=True), eps)\n"
                    "    return Qn @ np.swapaxes(K, -1, -2)\n"),
    _cosine_mistake("cosine-norm-over-wrong-axis", t("The norms are taken over the wrong axis: each vector is a row, "
                    "so take the norm over the last axis."),
                    "    Qn = Q / np.maximum(np.linalg.norm(Q, axis=-2, keepdims=True), eps)\n"
                    "    Kn = K / np.maximum(np.linalg.norm(K, axis=-2, keepdims=True), eps)\n"
                    "    return Qn @ np.swapaxes(Kn, -1, -2)\n"),
    _cosine_mistake("cosine-no-eps", t("An all-zero vector gives NaN (0/0): divide by max(norm, eps)."),
                    "    Qn = Q / np.linalg.norm(Q, axis=-1, keepdims=True)\n"
                    "    Kn = K / np.linalg.norm(K, axis=-1, keepdims=True)\n"
                    "    return Qn @ np.swapaxes(Kn, -1, -2)\n"),
    _cosine_mistake("cosine-squared-norm", t("The vectors are divided by their squared lengths: divide by the length "
                    "itself, so that unit vectors come out."),
                    "    Qn = Q / np.maximum(np.sum(Q ** 2, axis=-1, keepdims=True), eps)\n"
                    "    Kn = K / np.maximum(np.sum(K ** 2, axis=-1, keepdims=True), eps)\n"
                    "    return Qn @ np.swapaxes(Kn, -1, -2)\n"),
    _cosine_mistake("cosine-norm-of-whole-array", t("Q and K are divided by the norm of the whole array (np.linalg.norm "
                    "without axis): each query and each key must be divided by its own length (axis=-1)."),
                    "    return (Q / max(np.linalg.norm(Q), eps)) @ np.swapaxes(K / max(np.linalg.norm(K), eps), -1, -2)\n"),
)


def _additive_mistake(key, message, body):
    return Mistake(key, message, "def additive_scores_batch(Q, K, W_q, W_k, v):\n"
                   "    Q, K = np.asarray(Q, float), np.asarray(K, float)\n"
                   "    Pq, Pk = Q @ W_q, K @ W_k\n" + body)


ADDITIVE_MISTAKES = (
    _additive_mistake("additive-no-tanh", t("tanh is missing: without it the score splits into a query part plus a "
                      "key part, and every query ranks the keys the same way."),
                      "    return (Pq[..., :, None, :] + Pk[..., None, :, :]) @ v\n"),
    _additive_mistake("additive-tanh-outside", t("tanh is applied after the dot product with v: apply it to the sum "
                      "q_i W_q + k_j W_k, then take the dot product with v."),
                      "    return np.tanh((Pq[..., :, None, :] + Pk[..., None, :, :]) @ v)\n"),
    _additive_mistake("additive-tanh-separately", t("tanh is applied to the projected query and key separately: apply "
                      "it to their sum."),
                      "    return (np.tanh(Pq)[..., :, None, :] + np.tanh(Pk)[..., None, :, :]) @ v\n"),
    _additive_mistake("additive-no-v", t("The vector v is missing: the hidden units are summed instead of weighted by "
                      "v."), "    return np.tanh(Pq[..., :, None, :] + Pk[..., None, :, :]).sum(axis=-1)\n"),
    _additive_mistake("additive-transposed-result", t("The result is transposed: the new axes are swapped, so rows are "
                      "keys. Give the queries the axis [..., :, None, :] and the keys [..., None, :, :]."),
                      "    return np.tanh(Pq[..., None, :, :] + Pk[..., :, None, :]) @ v\n"),
)


def _softmax_mistake(key, message, body, implies=()):
    return Mistake(key, message, "def masked_softmax(scores, mask=None):\n"
                   "    scores = np.asarray(scores, dtype=float)\n" + body, implies)


_MASK_NEG_INF = "    if mask is not None:\n        scores = np.where(mask, scores, -np.inf)\n"
_GUARDED = ("    m = np.max(scores, axis=-1, keepdims=True)\n    m = np.where(np.isfinite(m), m, 0.0)\n"
            "    e = np.exp(scores - m)\n    s = e.sum(axis=-1, keepdims=True)\n"
            "    return np.where(s > 0, e / np.where(s > 0, s, 1.0), 0.0)\n")

SOFTMAX_MISTAKES = (
    _softmax_mistake("softmax-unstable", t("The softmax overflows for large scores (np.exp(1e4) is inf, and inf/inf "
                     "is NaN): subtract each row's maximum before exponentiating."),
                     _MASK_NEG_INF + "    e = np.exp(scores)\n    return e / e.sum(axis=-1, keepdims=True)\n",
                     implies=("softmax-nan-fully-masked",)),
    _softmax_mistake("softmax-global-max", t("The maximum of the whole array is subtracted, not the maximum of each "
                     "row: a row whose scores are all far below it underflows to 0/0 = NaN."),
                     _MASK_NEG_INF + "    e = np.exp(scores - np.max(scores))\n"
                     "    s = e.sum(axis=-1, keepdims=True)\n"
                     "    return np.where(s > 0, e / np.where(s > 0, s, 1.0), 0.0)\n"),
    _softmax_mistake("softmax-nan-fully-masked", t("A fully masked row gives NaN (its maximum is -inf, and -inf - -inf "
                     "is NaN): such a row must be all zeros."),
                     _MASK_NEG_INF + "    e = np.exp(scores - np.max(scores, axis=-1, keepdims=True))\n"
                     "    return e / e.sum(axis=-1, keepdims=True)\n"),
    _softmax_mistake("softmax-mask-after-softmax", t("The mask is applied after the softmax: the remaining weights no "
                     "longer sum to 1. Set masked scores to -inf before the softmax."),
                     "    m = np.max(scores, axis=-1, keepdims=True)\n    e = np.exp(scores - m)\n"
                     "    w = e / e.sum(axis=-1, keepdims=True)\n"
                     "    return w if mask is None else w * mask\n"),
    _softmax_mistake("softmax-mask-filled-with-zero", t("Masked scores are set to 0, which is an ordinary score, so "
                     "masked keys still get weight: set them to -inf."),
                     "    if mask is not None:\n        scores = np.where(mask, scores, 0.0)\n" + _GUARDED),
    _softmax_mistake("softmax-mask-inverted", t("The mask is inverted: True means the key may be attended to, False "
                     "that it is hidden."), "    if mask is not None:\n        scores = np.where(mask, -np.inf, scores)\n"
                     + _GUARDED),
    _softmax_mistake("softmax-wrong-axis", t("The softmax runs over the wrong axis: normalise over keys (the last "
                     "axis), so that each query's weights sum to 1."),
                     _MASK_NEG_INF + _GUARDED.replace("axis=-1", "axis=-2")),
    _softmax_mistake("softmax-large-negative-fill", t("Masked scores are set to a large negative number (such as "
                     "-1e9) instead of -inf: a fully masked row then becomes uniform instead of all zeros."),
                     "    if mask is not None:\n        scores = np.where(mask, scores, -1e9)\n" + _GUARDED),
    _softmax_mistake("softmax-additive-mask", t("A large negative number is added to the masked scores instead of "
                     "replacing them by -inf: a fully masked row then keeps its unmasked softmax instead of zeros."),
                     "    if mask is not None:\n        scores = scores - 1e9 * ~np.asarray(mask, bool)\n" + _GUARDED),
)


def _ws_mistake(key, message, body):
    return Mistake(key, message, "def weighted_sum(weights, V):\n"
                   "    weights, V = np.asarray(weights, float), np.asarray(V, float)\n" + body)


WEIGHTED_SUM_MISTAKES = (
    _ws_mistake("weighted-np-dot-mixes-batches", t("np.dot pairs every batch item of the weights with every batch item "
                "of V: use @ (np.matmul)."), "    return np.dot(weights, V)\n"),
    _ws_mistake("weighted-sum-over-features", t("The sum runs over the value dimensions instead of over keys: output "
                "dimension m is the weighted sum of dimension m of the values."),
                "    return (weights[..., :, :, None] * V[..., None, :, :]).sum(axis=-1)\n"),
    _ws_mistake("weighted-renormalised", t("The weights are normalised again: use them as given (a row of zero "
                "weights must give a zero output, not NaN)."),
                "    return (weights / weights.sum(axis=-1, keepdims=True)) @ V\n"),
    _ws_mistake("weighted-softmax-again", t("A softmax is applied to the weights: stage 3 uses the weights it is "
                "given."), "    e = np.exp(weights - weights.max(axis=-1, keepdims=True))\n"
                "    return (e / e.sum(axis=-1, keepdims=True)) @ V\n"),
    _ws_mistake("weighted-mean-not-sum", t("The result is divided by the number of keys: the weights already say how "
                "much of each value to take; sum, do not average."), "    return weights @ V / weights.shape[-1]\n"),
)


def _sdpa_mistake(key, message, scores, softmax, implies=()):
    return Mistake(key, message, "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
                   "    Q, K, V = np.asarray(Q, float), np.asarray(K, float), np.asarray(V, float)\n"
                   f"    s = {scores}\n" + softmax + "    return w @ V, w\n", implies)


_SCALED = "Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])"
_MASK_S = "    if mask is not None:\n        s = np.where(mask, s, -np.inf)\n"
_SAFE = ("    m = np.max(s, axis=-1, keepdims=True)\n    m = np.where(np.isfinite(m), m, 0.0)\n"
         "    e = np.exp(s - m)\n    t = e.sum(axis=-1, keepdims=True)\n"
         "    w = np.where(t > 0, e / np.where(t > 0, t, 1.0), 0.0)\n")

SDPA_MISTAKES = (
    _sdpa_mistake("sdpa-no-scale", t("The scores are not scaled: divide Q K^T by sqrt(d_k) before the softmax."),
                  "Q @ np.swapaxes(K, -1, -2)", _MASK_S + _SAFE),
    _sdpa_mistake("sdpa-scale-by-d_k", t("The scores are divided by d_k instead of sqrt(d_k)."),
                  "Q @ np.swapaxes(K, -1, -2) / Q.shape[-1]", _MASK_S + _SAFE),
    _sdpa_mistake("sdpa-scale-by-d_v", t("The scale uses the size of the values: it must be sqrt(d_k), the size of "
                  "the queries and keys."), "Q @ np.swapaxes(K, -1, -2) / np.sqrt(V.shape[-1])", _MASK_S + _SAFE),
    _sdpa_mistake("sdpa-softmax-wrong-axis", t("The softmax runs over queries (axis -2): normalise over keys, the last "
                  "axis, so that each query's weights sum to 1."), _SCALED,
                  _MASK_S + _SAFE.replace("axis=-1", "axis=-2")),
    _sdpa_mistake("sdpa-mask-after-softmax", t("The mask is applied after the softmax: the remaining weights no longer "
                  "sum to 1. Set masked scores to -inf before the softmax."), _SCALED,
                  _SAFE + "    if mask is not None:\n        w = w * mask\n"),
    _sdpa_mistake("sdpa-mask-filled-with-zero", t("Masked scores are set to 0, an ordinary score, so masked keys still "
                  "get weight: set them to -inf."), _SCALED,
                  "    if mask is not None:\n        s = np.where(mask, s, 0.0)\n" + _SAFE),
    _sdpa_mistake("sdpa-mask-inverted", t("The mask is inverted: True means the key may be attended to."), _SCALED,
                  "    if mask is not None:\n        s = np.where(mask, -np.inf, s)\n" + _SAFE),
    _sdpa_mistake("sdpa-nan-fully-masked", t("A fully masked row gives NaN (as PyTorch's own function does): its "
                  "weights and output must be zeros."),
                  _SCALED, _MASK_S + "    e = np.exp(s - np.max(s, axis=-1, keepdims=True))\n"
                  "    w = e / e.sum(axis=-1, keepdims=True)\n"),
    _sdpa_mistake("sdpa-unstable-softmax", t("The softmax overflows for large scores (exp of a large score is inf, "
                  "inf/inf is NaN): subtract each row's maximum first."), _SCALED,
                  _MASK_S + "    e = np.exp(s)\n    w = e / e.sum(axis=-1, keepdims=True)\n",
                  implies=("sdpa-nan-fully-masked",)),
    _sdpa_mistake("sdpa-large-negative-fill", t("Masked scores are set to a large negative number (such as -1e9) "
                  "instead of -inf: a fully masked row then attends uniformly to every key instead of getting zero "
                  "weights and a zero output."), _SCALED,
                  "    if mask is not None:\n        s = np.where(mask, s, -1e9)\n" + _SAFE),
)

EXERCISES = [
    Exercise("dot_scores", dot_scores_cases, DOT_MISTAKES,
             weights={"random": 0.625, "batch": 0.25, "edges": 0.125}),
    Exercise("scaled_dot_scores", scaled_dot_scores_cases, SCALED_MISTAKES,
             weights={"random": 0.625, "batch": 0.25, "edges": 0.125}),
    Exercise("cosine_scores", cosine_scores_cases, COSINE_MISTAKES,
             weights={"random": 0.625, "batch": 0.125, "edges": 0.25}),
    Exercise("additive_scores_batch", additive_scores_batch_cases, ADDITIVE_MISTAKES,
             weights={"random": 0.625, "batch": 0.25, "edges": 0.125}),
    Exercise("masked_softmax", masked_softmax_cases, SOFTMAX_MISTAKES,
             weights={"random": 0.4375, "batch": 0.125, "masks": 0.25, "extremes": 0.125, "edges": 0.0625}),
    Exercise("weighted_sum", weighted_sum_cases, WEIGHTED_SUM_MISTAKES,
             weights={"random": 0.625, "batch": 0.125, "masks": 0.125, "edges": 0.125}),
    Exercise("scaled_dot_product_attention", sdpa_cases, SDPA_MISTAKES, outputs=("out", "weights"),
             weights={"random": 0.5, "batch": 0.125, "masks": 0.25, "extremes": 0.0625, "edges": 0.0625}),
]
