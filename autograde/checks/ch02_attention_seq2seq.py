"""Hidden checks for chapter 2: additive_scores, attention_context, AdditiveAttention."""

import numpy as np

from attnbook.grading.spec import Case, Exercise, Mistake
from attnbook.i18n import t


# --- additive_scores ---------------------------------------------------------------------------------

def _additive_inputs(rng, d_s, d_h, d_a, T, scale=1.0):
    s = scale * rng.normal(size=d_s)
    H = scale * rng.normal(size=(T, d_h))
    W_s = rng.normal(scale=1 / np.sqrt(d_s), size=(d_s, d_a))
    W_h = rng.normal(scale=1 / np.sqrt(d_h), size=(d_h, d_a))
    v = rng.normal(size=d_a)
    return s, H, W_s, W_h, v


def additive_scores_cases(rng):
    cases = []
    for d_s, d_h, d_a, T in [(3, 4, 5, 6), (6, 2, 3, 9), (2, 5, 7, 4), (4, 4, 4, 7)]:
        cases.append(Case(t("random state and encoder states, d_s={d_s}, d_h={d_h}, d_a={d_a}, T={T}", d_s=d_s,
                            d_h=d_h, d_a=d_a, T=T), _additive_inputs(rng, d_s, d_h, d_a, T), sizes={"T": T, "d_a": d_a}))
    for d_s, d_h, d_a in [(3, 2, 4), (5, 3, 2)]:
        cases.append(Case(t("a single encoder state (T=1), d_s={d_s}, d_h={d_h}, d_a={d_a}", d_s=d_s, d_h=d_h, d_a=d_a),
                          _additive_inputs(rng, d_s, d_h, d_a, 1), family="edges", sizes={"T": 1, "d_a": d_a}))
    cases.append(Case(t("large inputs (tanh saturates)"), _additive_inputs(rng, 3, 5, 4, 6, scale=30.0),
                      family="extremes", sizes={"T": 6, "d_a": 4}))
    return cases


SCORES_MISTAKES = (
    Mistake("scores-no-tanh", t("The tanh is missing: the scores must be v . tanh(s W_s + h_j W_h), not a linear "
            "function of s and h_j."),
            "def additive_scores(s, H, W_s, W_h, v):\n    return (s @ W_s + H @ W_h) @ v\n"),
    Mistake("tanh-after-v", t("tanh is applied after the dot product with v: it belongs inside, on each of "
            "the d_a entries of s W_s + h_j W_h."),
            "def additive_scores(s, H, W_s, W_h, v):\n    return np.tanh((s @ W_s + H @ W_h) @ v)\n"),
    Mistake("ignores-v", t("The vector v is not used: the d_a entries of tanh(...) are summed instead of "
            "taking their dot product with v."),
            "def additive_scores(s, H, W_s, W_h, v):\n    return np.tanh(s @ W_s + H @ W_h).sum(axis=-1)\n"),
    Mistake("ignores-state", t("The decoder state s is not used: every step would score the encoder states "
            "the same way. Add s @ W_s inside the tanh."),
            "def additive_scores(s, H, W_s, W_h, v):\n    return np.tanh(H @ W_h) @ v\n"),
    Mistake("normalised", t("The scores are normalised with a softmax: return the raw scores e; the "
            "softmax is the job of attention_context."),
            "def additive_scores(s, H, W_s, W_h, v):\n    e = np.tanh(s @ W_s + H @ W_h) @ v\n"
            "    z = np.exp(e - e.max())\n    return z / z.sum()\n"),
    Mistake("tanh-separately", t("tanh is applied to s W_s and h_j W_h separately: add them first, then apply tanh "
            "to the sum."),
            "def additive_scores(s, H, W_s, W_h, v):\n    return (np.tanh(s @ W_s) + np.tanh(H @ W_h)) @ v\n"),
)


# --- attention_context -------------------------------------------------------------------------------

EXTREME = {"atol": 1e-5, "rtol": 1e-3}  # float32 arithmetic is legal: near 1e4 it keeps about 3 digits


def attention_context_cases(rng):
    cases = []
    for T, d_h in [(5, 3), (8, 6), (3, 9), (12, 4)]:
        cases.append(Case(t("random scores, T={T}, d_h={d_h}", T=T, d_h=d_h),
                          (rng.normal(scale=2.0, size=T), rng.normal(size=(T, d_h))), sizes={"T": T}))
    cases.append(Case(t("a single encoder state (T=1)"), (rng.normal(size=1), rng.normal(size=(1, 5))), family="edges"))
    big = np.array([1e4, -1e4, 1e4 - 1.0, 0.0, 1e4 - 2.5])
    cases.append(Case(t("scores of about +1e4 and -1e4"), (big, rng.normal(size=(5, 3))), family="extremes", **EXTREME))
    cases.append(Case(t("all scores equal to -1e4"), (np.full(4, -1e4), rng.normal(size=(4, 2))), family="extremes",
                      **EXTREME))
    shifted = rng.normal(size=6) + 800.0
    cases.append(Case(t("scores near 800 (exp overflows in float64)"), (shifted, rng.normal(size=(6, 3))),
                      family="extremes", **EXTREME))
    return cases


CONTEXT_MISTAKES = (
    Mistake("unstable-softmax", t("The softmax overflows for large scores (exp(1e4) is inf, and inf/inf is "
            "NaN): subtract the largest score before exponentiating."),
            "def attention_context(e, H):\n    z = np.exp(e)\n    alpha = z / z.sum()\n    return alpha, alpha @ H\n"),
    Mistake("not-normalised", t("The weights are not normalised: divide the exponentials by their sum so "
            "that the weights add up to 1."),
            "def attention_context(e, H):\n    alpha = np.exp(e - np.max(e))\n    return alpha, alpha @ H\n"),
    Mistake("divided-by-sum-of-scores", t("The scores are divided by their sum instead of going through a "
            "softmax: weights must be exp(e_j) / sum_k exp(e_k) (positive, and they sum to 1)."),
            "def attention_context(e, H):\n    alpha = e / e.sum()\n    return alpha, alpha @ H\n"),
    Mistake("context-from-scores", t("The context is a weighted sum with the raw scores e: use the softmax "
            "weights alpha."),
            "def attention_context(e, H):\n    z = np.exp(e - np.max(e))\n    alpha = z / z.sum()\n"
            "    return alpha, e @ H\n"),
    Mistake("sum-over-features", t("The weighted states are summed over the feature axis: the context sums "
            "over the T positions and has one entry per feature (shape (d_h,))."),
            "def attention_context(e, H):\n    z = np.exp(e - np.max(e))\n    alpha = z / z.sum()\n"
            "    return alpha, (alpha[:, None] * H).sum(axis=1)\n"),
)


# --- AdditiveAttention -------------------------------------------------------------------------------

def _module_case(rng, label, B, T, d_q, d_k, d_a, lengths=None, v_scale=1.0, min_gap=0.0, family="random"):
    f32 = np.float32
    while True:
        case = _draw_module_case(rng, label, B, T, d_q, d_k, d_a, lengths, v_scale, f32, family)
        if min_gap <= 0 or (_top_two_gap(case.kwargs, lengths) > min_gap and _padding_dominates(case.kwargs, lengths)):
            return case


def _scores(kwargs):
    p, (query, keys) = kwargs["params"], kwargs["inputs"][:2]
    return (np.tanh((query @ p["W_q.weight"].T)[:, None, :] + keys @ p["W_k.weight"].T) @ p["v.weight"][0]).astype(float)


def _padding_dominates(kwargs, lengths):
    """True when some row's largest score sits on a padded position, far above its real ones (exp underflows)."""
    e = _scores(kwargs)
    return any(n < e.shape[1] and row[n:].max() > row[:n].max() + 800 for row, n in zip(e, lengths))


def _top_two_gap(kwargs, lengths):
    """Return the smallest gap between the two largest real scores of a row (float64 reference maths)."""
    gaps = [np.diff(np.sort(row[:n])[-2:])[0] for row, n in zip(_scores(kwargs), lengths) if n >= 2]
    return min(gaps) if gaps else np.inf


def _draw_module_case(rng, label, B, T, d_q, d_k, d_a, lengths, v_scale, f32, family):
    params = {
        "W_q.weight": rng.normal(scale=1 / np.sqrt(d_q), size=(d_a, d_q)).astype(f32),
        "W_k.weight": rng.normal(scale=1 / np.sqrt(d_k), size=(d_a, d_k)).astype(f32),
        "v.weight": (v_scale * rng.normal(size=(1, d_a))).astype(f32),
    }
    query = rng.normal(size=(B, d_q)).astype(f32)
    keys = rng.normal(size=(B, T, d_k)).astype(f32)          # padded positions hold random values too
    inputs = [query, keys]
    if lengths is not None:
        inputs.append(np.arange(T)[None, :] < np.asarray(lengths)[:, None])
    return Case(label, (), {"init": {"query_dim": d_q, "key_dim": d_k, "attn_dim": d_a}, "params": params,
                            "inputs": inputs}, driver="module_with_parameters", atol=1e-5, rtol=1e-4, family=family)


def _lengths(rng, B, T):
    lengths = rng.integers(1, T + 1, size=B)
    lengths[rng.integers(B)] = T                              # the longest sequence sets the padded length
    lengths[(rng.integers(B) + 1) % B] = max(1, T // 2)        # and at least one row is padded
    return lengths


def additive_attention_cases(rng):
    cases = []
    for B, T, d_q, d_k, d_a in [(3, 7, 6, 5, 3), (4, 5, 3, 6, 4), (2, 6, 5, 5, 5)]:
        cases.append(_module_case(rng, t("no mask (mask=None), B={B}, T={T}, d_q={d_q}, d_k={d_k}, attn_dim={d_a}",
                                         B=B, T=T, d_q=d_q, d_k=d_k, d_a=d_a), B, T, d_q, d_k, d_a))
    for B, T, d_q, d_k, d_a in [(4, 6, 5, 3, 7), (3, 9, 2, 6, 4), (5, 5, 4, 4, 4)]:
        cases.append(_module_case(rng, t("padded batch, B={B}, T={T}, d_q={d_q}, d_k={d_k}, attn_dim={d_a}", B=B, T=T,
                                         d_q=d_q, d_k=d_k, d_a=d_a), B, T, d_q, d_k, d_a, lengths=_lengths(rng, B, T),
                                  family="masks"))
    cases.append(_module_case(rng, t("mask with every token real"), 3, 4, 3, 5, 6, lengths=[4, 4, 4], family="masks"))
    cases.append(_module_case(rng, t("rows with a single real token"), 3, 6, 4, 3, 5, lengths=[1, 6, 1],
                              family="masks"))
    cases.append(_module_case(rng, t("sequences of one token (T=1)"), 4, 1, 3, 2, 5, lengths=[1, 1, 1, 1],
                              family="edges"))
    cases.append(_module_case(rng, t("large scores (about 1e4)"), 3, 5, 3, 4, 6, lengths=[5, 3, 2],
                              v_scale=4e3, min_gap=50.0, family="extremes"))  # one-hot weights: rounding cannot matter
    return cases


ATTN_HEADER = ("class AdditiveAttention(nn.Module):\n"
               "    def __init__(self, query_dim, key_dim, attn_dim):\n        super().__init__()\n"
               "        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)\n"
               "        self.W_k = nn.Linear(key_dim, attn_dim, bias=False)\n"
               "        self.v = nn.Linear(attn_dim, 1, bias=False)\n\n"
               "    def forward(self, query, keys, mask=None):\n")
SCORES = "        scores = self.v(torch.tanh(self.W_q(query)[:, None, :] + self.W_k(keys)))[..., 0]\n"
MASK = "        if mask is not None:\n            scores = scores.masked_fill(~mask, float('-inf'))\n"
SOFTMAX = "        weights = torch.softmax(scores, dim=-1)\n"
CONTEXT = "        return (weights[..., None] * keys).sum(dim=1), weights\n"

ATTN_MISTAKES = (
    Mistake("mask-ignored", t("The mask is ignored: padded positions receive attention. Give them a score "
            "of -inf before the softmax."),
            ATTN_HEADER + SCORES + SOFTMAX + CONTEXT),
    Mistake("mask-filled-with-zero", t("Padded scores are set to 0 instead of -inf: a score of 0 still gets "
            "weight exp(0) in the softmax. Use float('-inf')."),
            ATTN_HEADER + SCORES + "        if mask is not None:\n            scores = scores.masked_fill(~mask, 0.0)\n"
            + SOFTMAX + CONTEXT),
    Mistake("mask-after-softmax", t("The mask is applied after the softmax without renormalising: the weights "
            "of a padded row no longer sum to 1. Mask the scores before the softmax."),
            ATTN_HEADER + SCORES + SOFTMAX + "        if mask is not None:\n            weights = weights * mask\n"
            + CONTEXT),
    Mistake("softmax-over-batch", t("The softmax runs over the batch axis (dim=0): it must normalise over the "
            "T keys of each sequence (dim=-1)."),
            ATTN_HEADER + SCORES + MASK + "        weights = torch.softmax(scores, dim=0)\n" + CONTEXT),
    Mistake("module-no-tanh", t("The tanh is missing from the scores: they must be v . tanh(q W_q + k_j W_k)."),
            ATTN_HEADER + "        scores = self.v(self.W_q(query)[:, None, :] + self.W_k(keys))[..., 0]\n"
            + MASK + SOFTMAX + CONTEXT),
    Mistake("context-from-projected-keys", t("The context sums the projected keys k_j W_k: it must be the "
            "weighted sum of the keys themselves (the encoder states), of size key_dim."),
            ATTN_HEADER + SCORES + MASK + SOFTMAX
            + "        return (weights[..., None] * self.W_k(keys)).sum(dim=1), weights\n"),
    Mistake("mask-inverted", t("The mask is used the wrong way round: True marks a real token (keep it) and "
            "False a padded one (score -inf)."),
            ATTN_HEADER + SCORES + "        if mask is not None:\n"
            "            scores = scores.masked_fill(mask, float('-inf'))\n" + SOFTMAX + CONTEXT),
)

EXERCISES = [
    Exercise("additive_scores", additive_scores_cases, SCORES_MISTAKES,
             weights={"random": 5 / 6, "edges": 1 / 12, "extremes": 1 / 12}),
    Exercise("attention_context", attention_context_cases, CONTEXT_MISTAKES, outputs=("alpha", "c"),
             weights={"random": 2 / 3, "edges": 1 / 12, "extremes": 1 / 4}),
    Exercise("AdditiveAttention", additive_attention_cases, ATTN_MISTAKES, outputs=("context", "weights"),
             weights={"random": 0.5, "masks": 1 / 3, "edges": 1 / 12, "extremes": 1 / 12}),
]
