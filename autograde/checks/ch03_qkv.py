"""Hidden checks for chapter 3: hard_lookup, soft_lookup, project_qkv, nadaraya_watson."""

import numpy as np

from attnbook.grading.spec import Case, Exercise, Mistake
from attnbook.i18n import t

# ---------------------------------------------------------------- hard_lookup


def _decoy_table(rng, d_v=2):
    """Keys where the best dot product, the nearest key, the largest |score| and the smallest score differ."""
    scale = rng.uniform(1.0, 2.0)
    keys = scale * np.array([[1.0, 0.1, 0.0],     # nearest to the query
                             [3.0, 0.0, 0.0],     # the largest dot product
                             [-5.0, 0.0, 0.0],    # the largest |dot product| and the smallest
                             [0.0, 1.0, 0.0]])
    keys = keys + rng.uniform(-0.01, 0.01, size=keys.shape)
    query = np.array([1.0, 0.0, 0.0]) + rng.uniform(-0.01, 0.01, size=3)
    perm = rng.permutation(4)
    return query, keys[perm], rng.normal(size=(4, d_v))


def _tied_table(rng, n=6, d=3, d_v=4):
    """Integer keys (exact arithmetic) where two keys share the best score."""
    query = rng.integers(1, 4, size=d).astype(float)
    keys = rng.integers(-3, 4, size=(n, d)).astype(float)
    best = np.abs(keys @ query).max() + 1.0
    first, second = np.sort(rng.choice(n, size=2, replace=False))
    keys[first] = keys[second] = 0.0
    keys[first, 0] = keys[second, 0] = np.ceil(best / query[0])  # same key; its score beats every other one
    return query, keys, rng.normal(size=(n, d_v))


def hard_lookup_cases(rng):
    cases = []
    for n, d, d_v in [(6, 3, 2), (10, 5, 4), (3, 2, 5), (25, 8, 3), (12, 4, 3), (8, 6, 2)]:
        cases.append(Case(t("random table, n={n} keys of size d={d}, values of size d_v={d_v}", n=n, d=d, d_v=d_v),
                          (rng.normal(size=d), rng.normal(size=(n, d)), rng.normal(size=(n, d_v)))))
    cases.append(Case(t("a long key beats a nearer one; a key with a large negative score"), _decoy_table(rng),
                      family="edges"))
    cases.append(Case(t("two keys tie for the best score"), _tied_table(rng), family="edges"))
    cases.append(Case(t("a table with a single pair"), (rng.normal(size=4), rng.normal(size=(1, 4)),
                                                        rng.normal(size=(1, 3))), family="edges"))
    cases.append(Case(t("empty table (n=0) raises ValueError"), (rng.normal(size=3), np.zeros((0, 3)),
                                                                np.zeros((0, 2))), raises="ValueError"))
    return cases


HARD_HEADER = "def hard_lookup(query, keys, values):\n    keys, values = np.asarray(keys, dtype=float), np.asarray(values, dtype=float)\n" \
              "    if len(keys) == 0:\n        raise ValueError('empty')\n"

HARD_MISTAKES = (
    Mistake("argmin", t("The key with the smallest dot product is chosen: take np.argmax of the scores."),
            HARD_HEADER + "    return values[np.argmin(keys @ query)]\n"),
    Mistake("abs-score", t("Keys are ranked by the absolute value of the dot product: a large negative score means "
            "the key points away from the query; rank by the signed dot product."),
            HARD_HEADER + "    return values[np.argmax(np.abs(keys @ query))]\n"),
    Mistake("nearest-key", t("The key nearest to the query in Euclidean distance is chosen: this exercise ranks "
            "keys by the dot product q . k_j, which also grows with the key's length."),
            HARD_HEADER + "    return values[np.argmin(np.sum((keys - query) ** 2, axis=1))]\n"),
    Mistake("returns-key", t("The best key is returned: return the value stored with it (the same row of values)."),
            HARD_HEADER + "    return keys[np.argmax(keys @ query)]\n"),
    Mistake("returns-index", t("The index of the best key is returned: return that row of values."),
            HARD_HEADER + "    return int(np.argmax(keys @ query))\n"),
    Mistake("cosine-ranking", t("Keys are ranked by cosine similarity (the angle only): the dot product also grows "
            "with the key's length, so rank by q . k_j itself."),
            HARD_HEADER + "    cos = keys @ query / np.maximum(np.linalg.norm(keys, axis=1) * np.linalg.norm(query), 1e-12)\n"
            "    return values[np.argmax(cos)]\n"),
    Mistake("ties-last", t("When several keys tie for the best score, the last one is chosen: ties go to the first "
            "(compare with > rather than >=, or use np.argmax)."),
            "def hard_lookup(query, keys, values):\n    best, best_score = None, -np.inf\n"
            "    for j in range(len(keys)):\n        score = keys[j] @ query\n        if score >= best_score:\n"
            "            best, best_score = j, score\n    if best is None:\n        raise ValueError('empty')\n"
            "    return np.asarray(values, dtype=float)[best]\n"),
)

# ---------------------------------------------------------------- soft_lookup


def _huge_scores(rng, sign, n=5, d=3, d_v=2):
    """Scores between 800 and 1000 in absolute value: exp overflows (+) or underflows to 0 (-)."""
    keys = rng.normal(scale=0.01, size=(n, d))
    keys[:, 0] = rng.uniform(0.8, 1.0, size=n)
    query = np.zeros(d)
    query[0] = sign * 1000.0
    return query, keys, rng.normal(size=(n, d_v))


EXTREME = {"atol": 1e-5, "rtol": 1e-3}  # float32 arithmetic is legal: near 1000 it keeps about 4 digits


def soft_lookup_cases(rng):
    cases = []
    for n, d, d_v in [(5, 3, 2), (8, 4, 6), (12, 6, 3), (4, 2, 7)]:
        cases.append(Case(t("random table, n={n} keys of size d={d}, values of size d_v={d_v}", n=n, d=d, d_v=d_v),
                          (rng.normal(scale=0.7, size=d), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))),
                          sizes={"d": d, "n": n}))
    cases.append(Case(t("scores around +1000"), _huge_scores(rng, +1), family="extremes", **EXTREME))
    cases.append(Case(t("scores around -1000"), _huge_scores(rng, -1), family="extremes", **EXTREME))
    cases.append(Case(t("a table with a single pair"), (rng.normal(size=4), rng.normal(size=(1, 4)),
                                                        rng.normal(size=(1, 3))), family="edges"))
    cases.append(Case(t("empty table (n=0) raises ValueError"), (rng.normal(size=3), np.zeros((0, 3)),
                                                                np.zeros((0, 2))), raises="ValueError"))
    return cases


SOFT_HEADER = "def soft_lookup(query, keys, values):\n    keys, values = np.asarray(keys, dtype=float), np.asarray(values, dtype=float)\n" \
              "    if len(keys) == 0:\n        raise ValueError('empty')\n    scores = keys @ query\n"

SOFT_MISTAKES = (
    Mistake("unstable-softmax", t("The softmax is not numerically stable: for large scores exp overflows to inf (or "
            "underflows to 0) and the weights become NaN. Subtract the largest score before np.exp."),
            SOFT_HEADER + "    w = np.exp(scores) / np.exp(scores).sum()\n    return w, w @ values\n"),
    Mistake("not-normalised", t("The weights are not normalised: divide the exponentials by their sum so the weights "
            "add up to 1."),
            SOFT_HEADER + "    w = np.exp(scores - scores.max())\n    return w, w @ values\n"),
    Mistake("no-exp", t("The scores are divided by their sum without np.exp: that is not a softmax (weights can be "
            "negative). Exponentiate first, then normalise."),
            SOFT_HEADER + "    w = scores / scores.sum()\n    return w, w @ values\n"),
    Mistake("sums-keys", t("The weighted sum is taken over the keys: the result is the weighted sum of the values."),
            SOFT_HEADER + "    w = np.exp(scores - scores.max())\n    w = w / w.sum()\n    return w, w @ keys\n"),
    Mistake("swapped-outputs", t("The outputs are in the wrong order: return (weights, value)."),
            SOFT_HEADER + "    w = np.exp(scores - scores.max())\n    w = w / w.sum()\n    return w @ values, w\n"),
    Mistake("scaled-scores", t("The scores are divided by sqrt(d): this exercise uses plain dot products q . k_j "
            "(the scale belongs to scaled dot-product attention, chapter 4)."),
            SOFT_HEADER + "    scores = scores / np.sqrt(keys.shape[1])\n    w = np.exp(scores - scores.max())\n"
            "    w = w / w.sum()\n    return w, w @ values\n"),
    Mistake("distance-scores", t("The weights come from (negative squared) distances between query and keys: this "
            "exercise scores keys by the dot product q . k_j."),
            SOFT_HEADER + "    scores = -np.sum((keys - query) ** 2, axis=1)\n    w = np.exp(scores - scores.max())\n"
            "    w = w / w.sum()\n    return w, w @ values\n"),
)

# ---------------------------------------------------------------- project_qkv


def project_qkv_cases(rng):
    cases = []
    for batch, T, d, d_k, d_v, family in [((), 5, 4, 3, 2, "random"), ((), 6, 5, 2, 3, "random"),
                                          ((), 4, 3, 4, 5, "random"), ((2,), 6, 5, 2, 3, "batch"),
                                          ((2, 3), 4, 3, 4, 5, "batch"), ((), 1, 6, 2, 3, "edges")]:
        X = rng.normal(size=(*batch, T, d))
        W_q, W_k, W_v = rng.normal(size=(d, d_k)), rng.normal(size=(d, d_k)), rng.normal(size=(d, d_v))
        label = (t("random input, batch dims {batch}, T={T}, d={d}, d_k={d_k}, d_v={d_v}", batch=batch, T=T, d=d,
                   d_k=d_k, d_v=d_v) if batch else
                 t("random input, T={T}, d={d}, d_k={d_k}, d_v={d_v}", T=T, d=d, d_k=d_k, d_v=d_v))
        cases.append(Case(label, (X, W_q, W_k, W_v), family=family))
    X = rng.normal(size=(3, 4))
    cases.append(Case(t("W_q and W_k with different numbers of columns raise ValueError"),
                      (X, rng.normal(size=(4, 3)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))),
                      raises="ValueError"))
    cases.append(Case(t("X with 4 features but weights with 5 rows raises ValueError"),
                      (X, rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))),
                      raises="ValueError"))
    return cases


QKV_HEADER = "def project_qkv(X, W_q, W_k, W_v):\n    X = np.asarray(X, dtype=float)\n" \
             "    if W_q.shape[1] != W_k.shape[1]:\n        raise ValueError('d_k differs')\n"

QKV_MISTAKES = (
    Mistake("swapped-qk", t("Queries and keys are swapped: Q = X @ W_q and K = X @ W_k."),
            QKV_HEADER + "    return X @ W_k, X @ W_q, X @ W_v\n"),
    Mistake("shared-qk", t("The keys use the query matrix: K = X @ W_k has its own matrix (with one shared matrix "
            "the scores Q K^T would be symmetric)."),
            QKV_HEADER + "    return X @ W_q, X @ W_q, X @ W_v\n"),
    Mistake("values-not-projected", t("The values are the raw inputs: V = X @ W_v is a linear map of X too."),
            QKV_HEADER + "    return X @ W_q, X @ W_k, X\n"),
    Mistake("values-with-key-matrix", t("The values use the key matrix: V = X @ W_v."),
            QKV_HEADER + "    return X @ W_q, X @ W_k, X @ W_k\n"),
    Mistake("batch-flattened", t("The batch dimensions are lost: the input was flattened to 2-D and not reshaped "
            "back. X @ W already works on (..., T, d) arrays."),
            QKV_HEADER + "    X2 = X.reshape(-1, X.shape[-1])\n    return X2 @ W_q, X2 @ W_k, X2 @ W_v\n"),
)

# ---------------------------------------------------------------- nadaraya_watson


def _regression(rng, n, m, lo, hi, bandwidth):
    x_keys = np.sort(rng.uniform(lo, hi, size=n))
    y_values = np.sin(2 * x_keys) + 0.4 * x_keys + rng.normal(scale=0.3, size=n)
    x_query = rng.uniform(lo - 0.5, hi + 0.5, size=m)
    return x_query, x_keys, y_values, bandwidth


def nadaraya_watson_cases(rng):
    cases = [
        Case(t("random data, n=30 keys, m=17 queries, small bandwidth"),
             _regression(rng, 30, 17, 0.0, 5.0, rng.uniform(0.3, 0.7))),
        Case(t("random data, n=12 keys, m=9 queries, large bandwidth"),
             _regression(rng, 12, 9, -3.0, 3.0, rng.uniform(2.5, 4.0))),
        Case(t("random data, n=7 keys, m=20 queries, very small bandwidth"),
             _regression(rng, 7, 20, 0.0, 2.0, rng.uniform(0.15, 0.3))),
    ]
    x_query, x_keys, y_values, _ = _regression(rng, 10, 4, 0.0, 5.0, 0.4)
    far = np.array([-1000.0, -40.0, 60.0, 1.0e4]) + rng.uniform(-1, 1, size=4)
    cases.append(Case(t("queries far from every key"), (np.concatenate([far, x_query]), x_keys, y_values,
                                                        rng.uniform(0.3, 0.5)), family="extremes"))
    cases.append(Case(t("a single key"), (rng.uniform(-2, 2, size=5), rng.uniform(-1, 1, size=1), rng.normal(size=1),
                                          rng.uniform(0.3, 0.7)), family="edges"))
    cases.append(Case(t("two keys at the same place"), (rng.uniform(-2, 2, size=6), np.array([0.5, 0.5, 2.0]),
                                                        rng.normal(size=3), rng.uniform(0.3, 0.7)), family="edges"))
    cases.append(Case(t("bandwidth 0 raises ValueError"), (x_query, x_keys, y_values, 0.0), raises="ValueError"))
    cases.append(Case(t("negative bandwidth raises ValueError"), (x_query, x_keys, y_values, -rng.uniform(0.3, 0.7)),
                      raises="ValueError"))
    cases.append(Case(t("no keys at all raises ValueError"), (x_query, np.zeros(0), np.zeros(0), 0.5),
                      raises="ValueError"))
    return cases


NW_HEADER = "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n    if bandwidth <= 0:\n" \
            "        raise ValueError('bandwidth')\n    x_query, x_keys = np.asarray(x_query, dtype=float), np.asarray(x_keys, dtype=float)\n" \
            "    diff2 = (x_query[:, None] - x_keys[None, :]) ** 2\n"
NW_STABLE_TAIL = "    s = s - s.max(axis=1, keepdims=True)\n    w = np.exp(s)\n    w = w / w.sum(axis=1, keepdims=True)\n" \
                 "    return w @ y_values\n"

NW_MISTAKES = (
    Mistake("nw-unstable-softmax", t("Queries far from every key give NaN: every exp underflows to 0 and 0/0 is NaN. "
            "Subtract each query's largest score before np.exp."),
            NW_HEADER + "    w = np.exp(-diff2 / (2 * bandwidth ** 2))\n"
            "    w = w / w.sum(axis=1, keepdims=True)\n    return w @ y_values\n"),
    Mistake("missing-factor-2", t("The factor 2 is missing: the Gaussian kernel's exponent is "
            "-(x - x_i)^2 / (2 bandwidth^2)."),
            NW_HEADER + "    s = -diff2 / bandwidth ** 2\n" + NW_STABLE_TAIL),
    Mistake("bandwidth-not-squared", t("The bandwidth is not squared: the exponent is -(x - x_i)^2 / (2 bandwidth^2), "
            "not / (2 bandwidth)."),
            NW_HEADER + "    s = -diff2 / (2 * bandwidth)\n" + NW_STABLE_TAIL),
    Mistake("distance-not-squared", t("The distance is not squared: the Gaussian kernel uses (x - x_i)^2, "
            "not |x - x_i|."),
            NW_HEADER + "    s = -np.sqrt(diff2) / (2 * bandwidth ** 2)\n" + NW_STABLE_TAIL),
    Mistake("wrong-sign", t("The exponent has the wrong sign: the weights must fall with distance, "
            "exp(-(x - x_i)^2 / (2 bandwidth^2))."),
            NW_HEADER + "    s = diff2 / (2 * bandwidth ** 2)\n" + NW_STABLE_TAIL),
    Mistake("normalised-over-queries", t("The softmax runs over the queries (axis 0): each query's weights must sum "
            "to 1 over the keys (axis 1)."),
            NW_HEADER + "    s = -diff2 / (2 * bandwidth ** 2)\n    s = s - s.max(axis=0, keepdims=True)\n"
            "    w = np.exp(s)\n    w = w / w.sum(axis=0, keepdims=True)\n    return w @ y_values\n"),
    Mistake("nw-not-normalised", t("The kernel weights are not normalised: divide by their sum over the keys, so the "
            "prediction is a weighted average of the y_i."),
            NW_HEADER + "    w = np.exp(-diff2 / (2 * bandwidth ** 2))\n    return w @ y_values\n"),
    Mistake("returns-weights", t("The attention weights are returned: return the predictions, weights @ y_values."),
            NW_HEADER + "    s = -diff2 / (2 * bandwidth ** 2)\n    s = s - s.max(axis=1, keepdims=True)\n"
            "    w = np.exp(s)\n    return w / w.sum(axis=1, keepdims=True)\n"),
    Mistake("no-bandwidth-check", t("A bandwidth <= 0 is accepted: raise ValueError, since the kernel is undefined "
            "(and a negative bandwidth only hides behind the square)."),
            NW_HEADER.replace("    if bandwidth <= 0:\n        raise ValueError('bandwidth')\n", "")
            + "    s = -diff2 / (2 * bandwidth ** 2)\n" + NW_STABLE_TAIL),
)

EXERCISES = [
    Exercise("hard_lookup", hard_lookup_cases, HARD_MISTAKES,
             weights={"random": 2 / 3, "edges": 1 / 4, "arguments": 1 / 12}),
    Exercise("soft_lookup", soft_lookup_cases, SOFT_MISTAKES, outputs=("weights", "value"),
             weights={"random": 0.625, "extremes": 0.1875, "edges": 0.0625, "arguments": 0.125}),
    Exercise("project_qkv", project_qkv_cases, QKV_MISTAKES, outputs=("Q", "K", "V"),
             weights={"random": 2 / 3, "batch": 1 / 6, "edges": 1 / 12, "arguments": 1 / 12}),
    Exercise("nadaraya_watson", nadaraya_watson_cases, NW_MISTAKES,
             weights={"random": 0.6, "extremes": 0.15, "edges": 0.1, "arguments": 0.15}),
]
