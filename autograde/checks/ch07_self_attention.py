"""Hidden checks for chapter 7: causal_mask, self_attention, sinusoidal_positional_encoding."""

import numpy as np

from attnbook.grading.spec import Case, Exercise, Mistake
from attnbook.i18n import t


# ---------------------------------------------------------------------------------------------------
# causal_mask

def causal_mask_cases(rng):
    cases = [Case(t("random length T={T}", T=int(T)), (int(T),))
             for T in sorted(rng.choice(np.arange(2, 13), size=3, replace=False))]
    cases += [
        Case(t("a long sequence, T=40"), (40,), family="edges", public=True),
        Case(t("a single position, T=1"), (1,), family="edges", public=True),
        Case(t("an empty sequence, T=0"), (0,), family="edges", public=True),
        Case(t("a negative length raises ValueError"), (-int(rng.integers(1, 5)),), raises="ValueError"),
    ]
    return cases


MASK_HEADER = "def causal_mask(T):\n    if T < 0:\n        raise ValueError('negative T')\n"

MASK_MISTAKES = (
    Mistake("strict-lower-triangle", t("The diagonal is False: a position may attend to itself (s <= t, not s < t). "
            "Without it the first row is fully masked."),
            MASK_HEADER + "    return np.tril(np.ones((T, T), dtype=bool), k=-1)\n"),
    Mistake("upper-triangle", t("The mask is transposed: True above the diagonal lets each query see the future. "
            "Rows are queries t, columns keys s; keep s <= t."),
            MASK_HEADER + "    return np.triu(np.ones((T, T), dtype=bool))\n"),
    Mistake("inverted", t("The mask is inverted: it marks the positions to block. In this course True means "
            "'may attend', so the past and the diagonal are True."),
            MASK_HEADER + "    return np.triu(np.ones((T, T), dtype=bool), k=1)\n"),
    Mistake("numbers-not-booleans", t("The mask holds numbers (0.0/1.0), not booleans: return an array of dtype bool."),
            MASK_HEADER + "    return np.tril(np.ones((T, T)))\n"),
    Mistake("additive-float-mask", t("This is an additive float mask (0 where attending is allowed, -inf where it "
            "is not, like PyTorch's generate_square_subsequent_mask): return booleans, True where attending is "
            "allowed."), MASK_HEADER + "    return np.triu(np.full((T, T), -np.inf), k=1)\n"),
    Mistake("all-true", t("Every entry is True: a causal mask must block every key after the query."),
            MASK_HEADER + "    return np.ones((T, T), dtype=bool)\n"),
)


# ---------------------------------------------------------------------------------------------------
# self_attention

def _weights(rng, d_model, d_k, d_v):
    """Return W_q, W_k (d_model, d_k) and W_v (d_model, d_v) with entries of variance 1/d_model."""
    s = 1.0 / np.sqrt(d_model)
    return (rng.normal(scale=s, size=(d_model, d_k)), rng.normal(scale=s, size=(d_model, d_k)),
            rng.normal(scale=s, size=(d_model, d_v)))


def self_attention_cases(rng):
    cases = []
    # (batch shape, T, d_model, d_k, d_v): d_model, d_k, d_v all differ so transposes and wrong widths show.
    shapes = [((), 5, 4, 3, 2), ((), 7, 6, 4, 5), ((), 6, 3, 5, 4), ((3,), 6, 5, 8, 3), ((2, 2), 4, 3, 2, 4)]
    for batch, T, d_model, d_k, d_v in shapes:
        W = _weights(rng, d_model, d_k, d_v)
        X = rng.normal(size=batch + (T, d_model))
        sizes = {"d_k": d_k, "d_model": d_model, "d_v": d_v}
        if batch:
            cases.append(Case(t("random input, batch {batch}, T={T}, d_model={d_model}, d_k={d_k}, d_v={d_v}",
                                batch=batch, T=T, d_model=d_model, d_k=d_k, d_v=d_v), (X, *W), family="batch",
                              sizes=sizes))
            cases.append(Case(t("causal, batch {batch}, T={T}, d_model={d_model}, d_k={d_k}, d_v={d_v}", batch=batch,
                                T=T, d_model=d_model, d_k=d_k, d_v=d_v), (X, *W), {"causal": True}, family="masks",
                              sizes=sizes))
        else:
            cases.append(Case(t("random input, T={T}, d_model={d_model}, d_k={d_k}, d_v={d_v}", T=T, d_model=d_model,
                                d_k=d_k, d_v=d_v), (X, *W), sizes=sizes))
            cases.append(Case(t("causal, T={T}, d_model={d_model}, d_k={d_k}, d_v={d_v}", T=T, d_model=d_model,
                                d_k=d_k, d_v=d_v), (X, *W), {"causal": True}, family="masks", sizes=sizes))
    W = _weights(rng, 4, 3, 5)
    cases.append(Case(t("a single position, T=1, causal"), (rng.normal(size=(1, 4)), *W), {"causal": True},
                      family="edges"))
    cases.append(Case(t("a single position, T=1"), (rng.normal(size=(1, 4)), *W), family="edges"))
    X = 1e3 * rng.normal(size=(6, 4))
    cases.append(Case(t("huge scores (inputs of size 1000)"), (X, *W), family="extremes", **EXTREME))
    cases.append(Case(t("huge scores (inputs of size 1000), causal"), (X, *W), {"causal": True}, family="extremes",
                      **EXTREME))
    return cases


EXTREME = {"atol": 1e-5, "rtol": 1e-3}  # float32 arithmetic is legal: near 1e5 it keeps about 3 digits


SA_HEAD = "def self_attention(X, W_q, W_k, W_v, causal=False):\n    X = np.asarray(X, dtype=float)\n"
SA_QKV = "    Q, K, V = X @ W_q, X @ W_k, X @ W_v\n"
SA_SCORES = "    S = Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1])\n"
SA_MASK = ("    T = X.shape[-2]\n    if causal:\n"
           "        S = np.where(np.tril(np.ones((T, T), dtype=bool)), S, -np.inf)\n")
SA_SOFTMAX = ("    S = S - S.max(axis=-1, keepdims=True)\n    A = np.exp(S)\n"
              "    A = A / A.sum(axis=-1, keepdims=True)\n")
SA_RETURN = "    return A @ V, A\n"


def _sa(qkv=SA_QKV, scores=SA_SCORES, mask=SA_MASK, softmax=SA_SOFTMAX, ret=SA_RETURN, after=""):
    return SA_HEAD + qkv + scores + mask + softmax + after + ret


SA_MISTAKES = (
    Mistake("no-scaling", t("The scores are not divided by sqrt(d_k): the softmax gets too sharp as d_k grows."),
            _sa(scores="    S = Q @ np.swapaxes(K, -1, -2)\n")),
    Mistake("divides-by-d_k", t("The scores are divided by d_k instead of sqrt(d_k)."),
            _sa(scores="    S = Q @ np.swapaxes(K, -1, -2) / K.shape[-1]\n")),
    Mistake("scales-by-d_model", t("The scale uses the input width d_model; it must use the key width d_k "
            "(the number of columns of W_k)."),
            _sa(scores="    S = Q @ np.swapaxes(K, -1, -2) / np.sqrt(X.shape[-1])\n")),
    Mistake("scales-by-d_v", t("The scale uses the width of the values d_v; it must use the key width d_k."),
            _sa(scores="    S = Q @ np.swapaxes(K, -1, -2) / np.sqrt(V.shape[-1])\n")),
    Mistake("keys-from-query-projection", t("The keys come from the query projection (X @ W_q): keys must be X @ W_k. "
            "With one projection the scores are symmetric."),
            _sa(qkv="    Q, K, V = X @ W_q, X @ W_q, X @ W_v\n")),
    Mistake("values-not-projected", t("The output sums the inputs X: it must sum the values V = X @ W_v."),
            _sa(ret="    return A @ X, A\n")),
    Mistake("softmax-over-queries", t("The softmax runs over the queries (axis -2): each row, one query over all "
            "keys, must sum to 1."),
            _sa(softmax="    S = S - S.max(axis=-2, keepdims=True)\n    A = np.exp(S)\n"
                        "    A = A / A.sum(axis=-2, keepdims=True)\n")),
    Mistake("unstable-softmax", t("The softmax is not stabilised: with huge scores np.exp overflows and gives NaN. "
            "Subtract each row's maximum first."),
            _sa(softmax="    A = np.exp(S)\n    A = A / A.sum(axis=-1, keepdims=True)\n")),
    Mistake("ignores-causal", t("causal=True is ignored: the queries still read the keys after them."),
            _sa(mask="")),
    Mistake("mask-after-softmax", t("The causal mask is applied after the softmax (weights zeroed, not "
            "renormalised): rows no longer sum to 1. Mask the scores with -inf before the softmax."),
            _sa(mask="    T = X.shape[-2]\n",
                after="    if causal:\n        A = A * np.tril(np.ones((T, T)))\n")),
    Mistake("causal-off-by-one", t("The causal mask excludes the diagonal (s < t): a position must be allowed to "
            "attend to itself, otherwise the first row has no key at all."),
            _sa(mask=SA_MASK.replace("dtype=bool)", "dtype=bool), k=-1"))),
    Mistake("causal-mask-transposed", t("The causal mask is transposed: queries read the future (keys s >= t) "
            "instead of the past (s <= t)."),
            _sa(mask=SA_MASK.replace("np.tril(", "np.triu("))),
)


# ---------------------------------------------------------------------------------------------------
# sinusoidal_positional_encoding

def pe_cases(rng):
    cases = []
    for T, d in [(int(rng.integers(8, 30)), int(rng.choice([4, 6, 8]))),
                 (int(rng.integers(8, 30)), int(rng.choice([5, 7, 9]))),
                 (int(rng.integers(60, 200)), int(rng.choice([16, 32]))),
                 (int(rng.integers(20, 60)), int(rng.choice([11, 13, 15])))]:
        label = (t("T={T} positions, odd d={d}", T=T, d=d) if d % 2 else t("T={T} positions, even d={d}", T=T, d=d))
        cases.append(Case(label, (T, d)))
    cases += [
        Case(t("a single position, T=1, d=6"), (1, 6), family="edges", public=True),
        Case(t("a single column, T=7, d=1"), (7, 1), family="edges", public=True),
        Case(t("no positions, T=0, d=4"), (0, 4), family="edges", public=True),
        Case(t("d=0 raises ValueError"), (3, 0), raises="ValueError"),
        Case(t("T<0 raises ValueError"), (-2, 4), raises="ValueError"),
    ]
    return cases


PE_HEAD = ("def sinusoidal_positional_encoding(T, d):\n    if T < 0 or d < 1:\n        raise ValueError('bad size')\n"
           "    p = np.arange(T)[:, None]\n")
PE_GOOD_ANGLES = "    ang = p / 10000 ** (np.arange(0, d, 2) / d)\n"
PE_FILL = ("    PE = np.zeros((T, d))\n    PE[:, 0::2] = np.sin(ang)\n    PE[:, 1::2] = np.cos(ang[:, : d // 2])\n"
           "    return PE\n")

PE_MISTAKES = (
    Mistake("sin-cos-swapped", t("Sine and cosine are swapped: even columns (2i) hold the sine, odd columns (2i+1) "
            "the cosine. Row 0 must start 0, 1, 0, 1, ..."),
            PE_HEAD + PE_GOOD_ANGLES + "    PE = np.zeros((T, d))\n    PE[:, 0::2] = np.cos(ang)\n"
            "    PE[:, 1::2] = np.sin(ang[:, : d // 2])\n    return PE\n"),
    Mistake("halves-concatenated", t("The sines and cosines are stored as two halves [sin ... | cos ...]: they must be "
            "interleaved, sin and cos of the same angle side by side in columns 2i and 2i+1."),
            PE_HEAD + PE_GOOD_ANGLES + "    return np.concatenate([np.sin(ang), np.cos(ang[:, : d // 2])], axis=1)\n"),
    Mistake("exponent-i-over-d", t("The exponent is i/d with i counting pairs; it must be 2i/d (equivalently the even "
            "column index over d), so the frequencies fall twice as fast."),
            PE_HEAD + "    ang = p / 10000 ** (np.arange((d + 1) // 2) / d)\n" + PE_FILL),
    Mistake("exponent-per-column", t("Each column got its own frequency 10000^(2j/d) with j the column index; the sine "
            "and cosine of one pair (columns 2i and 2i+1) must share the angle p / 10000^(2i/d)."),
            PE_HEAD + "    ang = p / 10000 ** (2 * np.arange(d) / d)\n"
            "    return np.where(np.arange(d) % 2 == 0, np.sin(ang), np.cos(ang))\n"),
    Mistake("tensor2tensor-timescales", t("This is tensor2tensor's variant: sines and cosines in two halves, with "
            "frequencies spaced by 1/(d/2 - 1) instead of 2i/d. The course's table interleaves them, sin and cos of "
            "p / 10000^(2i/d) in columns 2i and 2i+1."),
            PE_HEAD + "    half = d // 2\n    inc = np.log(10000.0) / max(half - 1, 1)\n"
            "    ang = p * np.exp(-inc * np.arange(half))[None, :]\n"
            "    PE = np.concatenate([np.sin(ang), np.cos(ang)], axis=1)\n"
            "    return np.pad(PE, ((0, 0), (0, d - 2 * half)))\n"),
    Mistake("odd-d-shape-error", t("For an odd d there is one more sine column than cosine columns: take the cosines "
            "of all angles but the last (angles[:, :d // 2]) for the odd columns."),
            PE_HEAD + PE_GOOD_ANGLES + "    PE = np.zeros((T, d))\n    PE[:, 0::2] = np.sin(ang)\n"
            "    PE[:, 1::2] = np.cos(ang)\n    return PE\n"),
    Mistake("positions-from-one", t("Positions start at 1: the first row is position p = 0 (all sines 0, all cosines 1)."),
            PE_HEAD.replace("np.arange(T)", "np.arange(1, T + 1)") + PE_GOOD_ANGLES + PE_FILL),
    Mistake("odd-d-last-column-zero", t("For odd d the last column is left at zero: it is the sine of its own pair "
            "(2i = d - 1)."),
            PE_HEAD + "    ang = p / 10000 ** (np.arange(0, d - 1, 2) / d)\n    PE = np.zeros((T, d))\n"
            "    PE[:, 0:2 * (d // 2):2] = np.sin(ang)\n    PE[:, 1::2] = np.cos(ang)\n    return PE\n"),
    Mistake("transposed-table", t("The table is transposed: return shape (T, d), one row per position."),
            PE_HEAD + PE_GOOD_ANGLES + PE_FILL.replace("return PE\n", "return PE.T\n")),
)

EXERCISES = [
    Exercise("causal_mask", causal_mask_cases, MASK_MISTAKES,
             weights={"random": 2 / 3, "edges": 1 / 4, "arguments": 1 / 12}),
    Exercise("self_attention", self_attention_cases, SA_MISTAKES, outputs=("out", "weights"),
             weights={"random": 0.5, "batch": 1 / 7, "masks": 3 / 14, "extremes": 1 / 14, "edges": 1 / 14}),
    Exercise("sinusoidal_positional_encoding", pe_cases, PE_MISTAKES,
             weights={"random": 0.7, "edges": 0.15, "arguments": 0.15}),
]
