"""Hidden checks for chapter 6: split_heads, merge_heads, multi_head_attention, MultiHeadAttention."""

import numpy as np

from attnbook.grading.spec import Case, Exercise, Mistake
from attnbook.i18n import t


def _variant(source: str, old: str, new: str, count: int = 1) -> str:
    """Return `source` with `old` replaced by `new`; fail loudly if `old` does not occur `count` times."""
    found = source.count(old)
    if found != count:
        raise ValueError(f"mistake template: {old!r} occurs {found} times, expected {count}")
    return source.replace(old, new)


# ---------------------------------------------------------------------------------------------- split_heads

def split_heads_cases(rng):
    cases = []
    for lead, T, D, H in [((), 5, 6, 2), ((), 4, 12, 3), ((), 7, 10, 5), ((3,), 5, 8, 4), ((2, 3), 4, 6, 2)]:
        X = rng.normal(size=lead + (T, D))
        cases.append(Case(t("random X of shape {shape}, {H} heads", shape=X.shape, H=H), (X, H),
                          family="batch" if lead else "random"))
    cases.append(Case(t("one head"), (rng.normal(size=(4, 6)), 1), family="edges"))
    cases.append(Case(t("as many heads as features"), (rng.normal(size=(3, 4)), 4), family="edges"))
    cases.append(Case(t("a single position (T=1)"), (rng.normal(size=(1, 6)), 3), family="edges"))
    cases.append(Case(t("D not a multiple of num_heads raises ValueError"), (rng.normal(size=(4, 6)), 4),
                      raises="ValueError"))
    cases.append(Case(t("batch dims with D not a multiple of num_heads raises ValueError"),
                      (rng.normal(size=(2, 3, 10)), 3), raises="ValueError"))
    return cases


SPLIT_HEADER = ("def split_heads(X, num_heads):\n    X = np.asarray(X)\n    *lead, T, D = X.shape\n"
                "    if num_heads < 1 or D % num_heads:\n        raise ValueError('bad num_heads')\n"
                "    d = D // num_heads\n")

SPLIT_MISTAKES = (
    Mistake("split-reshape-without-transpose",
            t("The heads are made by a reshape alone, without swapping axes: X.reshape(..., H, T, D/H) cuts the "
            "flat row-major data in the wrong places, so a head mixes features of different positions. "
            "Reshape to (..., T, H, D/H) first, then swap the H and T axes."),
            SPLIT_HEADER + "    return X.reshape(*lead, num_heads, T, d)\n"),
    Mistake("split-interleaved-features",
            t("The features are dealt out to the heads in turn (head h gets features h, h+H, h+2H, ...): each "
            "head must get one consecutive block of D/H features. Reshape to (..., T, H, D/H), not (..., T, D/H, H)."),
            SPLIT_HEADER + "    return np.moveaxis(X.reshape(*lead, T, d, num_heads), -1, -3)\n"),
    Mistake("split-heads-axis-not-moved",
            t("The result has shape (..., T, H, D/H): the heads axis must come before the position axis, "
            "(..., H, T, D/H). Swap the two axes after reshaping."),
            SPLIT_HEADER + "    return X.reshape(*lead, T, num_heads, d)\n"),
    Mistake("split-heads-before-batch-dims",
            t("The heads axis is put in front of the batch dimensions: with batch dims the result must have "
            "shape (..., H, T, D/H), the heads just before the positions."),
            SPLIT_HEADER + "    return np.stack(np.split(X, num_heads, axis=-1), axis=0)\n"),
)

# ---------------------------------------------------------------------------------------------- merge_heads

def merge_heads_cases(rng):
    cases = []
    for shape in [(2, 5, 3), (4, 3, 2), (3, 4, 5), (3, 2, 4, 3), (2, 3, 2, 6, 2)]:
        cases.append(Case(t("random heads of shape {shape}", shape=shape), (rng.normal(size=shape),),
                          family="batch" if len(shape) > 3 else "random"))
    cases.append(Case(t("one head"), (rng.normal(size=(1, 4, 3)),), family="edges"))
    cases.append(Case(t("a single position (T=1)"), (rng.normal(size=(3, 1, 4)),), family="edges"))
    cases.append(Case(t("a 2-D array has no heads axis: raises ValueError"), (rng.normal(size=(4, 6)),),
                      raises="ValueError"))
    return cases


MERGE_HEADER = ("def merge_heads(X):\n    X = np.asarray(X)\n    if X.ndim < 3:\n        raise ValueError('no heads')\n"
                "    *lead, H, T, d = X.shape\n")

MERGE_MISTAKES = (
    Mistake("merge-reshape-without-transpose",
            t("The heads are merged by a reshape alone: (..., H, T, d) -> (..., T, H*d) without first swapping "
            "the H and T axes puts features of different positions into one row."),
            MERGE_HEADER + "    return X.reshape(*lead, T, H * d)\n"),
    Mistake("merge-interleaved-features",
            t("The heads' features are interleaved (feature j of every head, then feature j+1, ...): "
            "concatenate whole heads, head 0's d features first."),
            MERGE_HEADER + "    return np.moveaxis(X, -3, -1).reshape(*lead, T, H * d)\n"),
    Mistake("merge-sum-of-heads",
            t("The heads are summed (or averaged) instead of concatenated: the result must keep every head's "
            "features side by side, shape (..., T, H*d)."),
            MERGE_HEADER + "    return X.sum(axis=-3)\n"),
    Mistake("merge-concatenated-along-positions",
            t("The heads are stacked along the position axis, shape (..., H*T, d): concatenate along the "
            "feature axis instead."),
            MERGE_HEADER + "    return X.reshape(*lead, H * T, d)\n"),
)

# ---------------------------------------------------------------------------------------------- multi_head_attention

def _mha_inputs(rng, lead, n_q, n_kv, d_q, d_kv, D, D_v, d_out):
    """Random inputs whose per-head scores have a spread near 1 (no saturated softmax)."""
    X_q, X_kv = rng.normal(size=lead + (n_q, d_q)), rng.normal(size=lead + (n_kv, d_kv))
    W_q = rng.normal(scale=d_q ** -0.5, size=(d_q, D))
    W_k = rng.normal(scale=d_kv ** -0.5, size=(d_kv, D))
    W_v = rng.normal(scale=d_kv ** -0.5, size=(d_kv, D_v))
    W_o = rng.normal(scale=D_v ** -0.5, size=(D_v, d_out))
    return X_q, X_kv, W_q, W_k, W_v, W_o


def _some_allowed(rng, shape, p=0.6):
    """Return a random bool mask of `shape` with at least one True in every row."""
    mask = rng.random(shape) < p
    rows = mask.reshape(-1, shape[-1])
    rows[np.arange(len(rows)), rng.integers(0, shape[-1], size=len(rows))] = True
    return rows.reshape(shape)


def _mha_sizes(args, H):
    X_q, X_kv, W_q, W_k, W_v, W_o = args
    return {"D/H": W_q.shape[1] // H, "D": W_q.shape[1], "d_q": X_q.shape[-1]}


def multi_head_attention_cases(rng):
    cases = []
    configs = [  # lead, n_q, n_kv, d_q, d_kv, D, D_v, d_out, H
        ((), 4, 6, 5, 7, 8, 12, 3, 2),
        ((), 5, 3, 6, 4, 12, 6, 5, 3),
        ((), 3, 7, 4, 5, 16, 8, 6, 4),
        ((2,), 5, 3, 6, 4, 12, 6, 5, 3),
        ((2, 3), 3, 7, 4, 5, 16, 8, 6, 4),
        ((3,), 6, 6, 8, 8, 8, 8, 8, 2),
    ]
    for lead, n_q, n_kv, d_q, d_kv, D, D_v, d_out, H in configs:
        args = _mha_inputs(rng, lead, n_q, n_kv, d_q, d_kv, D, D_v, d_out)
        cases.append(Case(t("random inputs, batch {lead}, n_q={n_q}, n_kv={n_kv}, D={D}, D_v={D_v}, {H} heads",
                            lead=lead, n_q=n_q, n_kv=n_kv, D=D, D_v=D_v, H=H), args + (H,),
                          family="batch" if lead else "random", sizes=_mha_sizes(args, H)))
    args = _mha_inputs(rng, (2,), 5, 5, 6, 6, 12, 12, 6)
    cases.append(Case(t("self-attention shapes with a causal mask of shape (n_q, n_kv)"),
                      args + (3,), {"mask": np.tril(np.ones((5, 5), dtype=bool))}, family="masks"))
    args = _mha_inputs(rng, (2,), 4, 6, 5, 5, 8, 10, 4)
    cases.append(Case(t("a padding mask of shape (B, 1, n_kv)"), args + (2,), {"mask": _some_allowed(rng, (2, 1, 6))},
                      family="masks"))
    args = _mha_inputs(rng, (2,), 4, 5, 6, 6, 8, 8, 6)
    cases.append(Case(t("a different mask for each batch item, shape (B, n_q, n_kv), B = 2 = H"),
                      args + (2,), {"mask": _some_allowed(rng, (2, 4, 5))}, family="masks"))
    args = _mha_inputs(rng, (4,), 4, 5, 6, 6, 8, 8, 6)
    cases.append(Case(t("a different mask for each batch item, shape (B, n_q, n_kv), B = 4 = H"),
                      args + (4,), {"mask": _some_allowed(rng, (4, 4, 5))}, family="masks"))
    args = _mha_inputs(rng, (), 3, 4, 5, 5, 8, 8, 4)
    mask = _some_allowed(rng, (3, 4))
    mask[1] = False
    cases.append(Case(t("a query with every key masked"), args + (2,), {"mask": mask}, family="masks"))
    args = _mha_inputs(rng, (), 3, 4, 5, 5, 6, 6, 5)
    cases.append(Case(t("a single head"), args + (1,), family="edges", sizes=_mha_sizes(args, 1)))
    args = _mha_inputs(rng, (), 1, 5, 4, 4, 8, 8, 3)
    cases.append(Case(t("a single query (n_q=1)"), args + (4,), family="edges", sizes=_mha_sizes(args, 4)))
    args = _mha_inputs(rng, (), 3, 4, 5, 5, 8, 8, 4)
    cases.append(Case(t("D = 8 features into 3 heads raises ValueError"), args + (3,), raises="ValueError"))
    return cases


MHA_REFERENCE_SHAPED = '''def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads, mask=None):
    H = num_heads
    D, D_v = W_q.shape[-1], W_v.shape[-1]
    if D % H or D_v % H:
        raise ValueError("heads")

    def heads(Z):
        *lead, n, width = Z.shape
        return np.swapaxes(Z.reshape(*lead, n, H, width // H), -2, -3)

    Q, K, V = heads(X_q @ W_q), heads(X_kv @ W_k), heads(X_kv @ W_v)
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(D // H)
    if mask is not None:
        allowed = np.broadcast_to(np.asarray(mask, dtype=bool), scores.shape[:-3] + scores.shape[-2:])[..., None, :, :]
        scores = np.where(allowed, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(scores - top)
    total = e.sum(axis=-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    O = weights @ V
    *lead, _, n_q, _ = O.shape
    concat = np.swapaxes(O, -2, -3).reshape(*lead, n_q, D_v)
    return concat @ W_o, weights
'''

_M = MHA_REFERENCE_SHAPED

MHA_MISTAKES = (
    Mistake("mha-split-without-transpose",
            t("The heads are split by a reshape alone, (..., n, D) -> (..., H, n, D/H): this mixes features of "
            "different positions into one head. Reshape to (..., n, H, D/H), then swap the H and n axes."),
            _variant(_M, "np.swapaxes(Z.reshape(*lead, n, H, width // H), -2, -3)",
                     "Z.reshape(*lead, H, n, width // H)")),
    Mistake("mha-scale-by-sqrt-D",
            t("The scores are divided by sqrt(D), the total width: each head's scores must be divided by the "
            "square root of the head's own width, sqrt(D/H)."),
            _variant(_M, "np.sqrt(D // H)", "np.sqrt(D)")),
    Mistake("mha-no-scaling",
            t("The scores are not scaled: divide each head's scores by sqrt(D/H)."),
            _variant(_M, " / np.sqrt(D // H)", "")),
    Mistake("mha-no-output-projection",
            t("The output projection is missing: the concatenated heads must be multiplied by W_o."),
            _variant(_M, "return concat @ W_o, weights", "return concat, weights")),
    Mistake("mha-merge-without-transpose",
            t("The heads are merged by a reshape alone, (..., H, n_q, d) -> (..., n_q, H*d), which mixes "
            "positions: swap the H and n_q axes before reshaping."),
            _variant(_M, "np.swapaxes(O, -2, -3).reshape(*lead, n_q, D_v)", "O.reshape(*lead, n_q, D_v)")),
    Mistake("mha-softmax-over-queries",
            t("The softmax runs over the queries (axis -2) instead of the keys: every row of weights must sum to 1."),
            _variant(_variant(_M, "top = scores.max(axis=-1, keepdims=True)", "top = scores.max(axis=-2, keepdims=True)"),
                     "total = e.sum(axis=-1, keepdims=True)", "total = e.sum(axis=-2, keepdims=True)")),
    Mistake("mha-mask-inverted",
            t("The mask is used the other way round (True = blocked, PyTorch's attn_mask convention): in this "
            "course True means 'may attend'."),
            _variant(_M, "scores = np.where(allowed, scores, -np.inf)", "scores = np.where(allowed, -np.inf, scores)")),
    Mistake("mha-mask-not-broadcast-over-heads",
            t("The mask is applied to the scores (..., H, n_q, n_kv) without an axis for the heads, so a mask of "
            "shape (B, n_q, n_kv) is matched against the heads axis: insert a heads axis, mask[..., None, :, :]."),
            _variant(_M, "allowed = np.broadcast_to(np.asarray(mask, dtype=bool), scores.shape[:-3] + "
                         "scores.shape[-2:])[..., None, :, :]", "allowed = np.asarray(mask, dtype=bool)")),
    Mistake("mha-large-negative-fill", t("Masked scores are set to a large negative number (such as -1e9) instead "
            "of -inf: a query with every key masked then attends uniformly to all keys instead of getting zero "
            "weights and a zero output."),
            _variant(_M, "scores = np.where(allowed, scores, -np.inf)", "scores = np.where(allowed, scores, -1e9)")),
    Mistake("mha-scale-by-input-width", t("The scores are divided by the square root of the input width d_q: each "
            "head's scores must be divided by sqrt(D/H), the width of one head of queries and keys."),
            _variant(_M, "np.sqrt(D // H)", "np.sqrt(X_q.shape[-1])")),
    Mistake("mha-values-split-with-D", t("The values are split into heads with the width of the queries, D/H: the "
            "values have their own width D_v, so each head of values has D_v/H columns."),
            _variant(_M, "return np.swapaxes(Z.reshape(*lead, n, H, width // H), -2, -3)",
                     "return np.swapaxes(Z.reshape(*lead, n, H, D // H), -2, -3)")),
    Mistake("mha-weights-averaged-over-heads",
            t("The weights are averaged over the heads: return every head's weights, shape (..., H, n_q, n_kv)."),
            _variant(_M, "return concat @ W_o, weights", "return concat @ W_o, weights.mean(axis=-3)")),
)

# ---------------------------------------------------------------------------------------------- MultiHeadAttention

def _module_case(rng, label, E, H, B, n_q, n_kv, mask=None, family="random"):
    query = rng.normal(size=(B, n_q, E)).astype(np.float32)
    kv = rng.normal(size=(B, n_kv, E)).astype(np.float32)
    value = kv if rng.random() < 0.5 else rng.normal(size=(B, n_kv, E)).astype(np.float32)
    inputs = [query, kv, value] + ([mask] if mask is not None else [])
    return Case(label, (), {"init": {"embed_dim": E, "num_heads": H}, "torch_class": "MultiheadAttention",
                            "torch_init": {"embed_dim": E, "num_heads": H, "batch_first": True},
                            "seed": int(rng.integers(2**31)), "inputs": inputs},
                driver="module_loaded_from_torch", atol=1e-5, rtol=1e-4, family=family, sizes={"E/H": E // H, "E": E})


def multi_head_attention_module_cases(rng):
    return [
        _module_case(rng, t("self-attention shapes, E=8, 2 heads, no mask"), 8, 2, 2, 5, 5),
        _module_case(rng, t("cross-attention shapes, E=12, 3 heads, n_q=4, n_kv=6, no mask"), 12, 3, 3, 4, 6),
        _module_case(rng, t("E=16, 4 heads, n_q=3, n_kv=7, no mask"), 16, 4, 2, 3, 7),
        _module_case(rng, t("E=16, 4 heads, a causal mask of shape (n_q, n_kv)"), 16, 4, 2, 5, 5,
                     np.tril(np.ones((5, 5), dtype=bool)), family="masks"),
        _module_case(rng, t("E=12, 2 heads, a padding mask of shape (B, 1, n_kv)"), 12, 2, 3, 3, 6,
                     _some_allowed(rng, (3, 1, 6)), family="masks"),
        _module_case(rng, t("E=12, 4 heads, a mask of shape (B, n_q, n_kv)"), 12, 4, 2, 4, 7,
                     _some_allowed(rng, (2, 4, 7)), family="masks"),
        _module_case(rng, t("a single head, E=6"), 6, 1, 2, 3, 4, family="edges"),
        _module_case(rng, t("a single query (n_q=1), E=8, 2 heads"), 8, 2, 3, 1, 5, family="edges"),
    ]


MODULE_REFERENCE_SHAPED = '''class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):  # signature as in the stub
        super().__init__()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def load_from_torch(self, mha):  # signature as in the stub
        E = self.embed_dim
        with torch.no_grad():
            for i, proj in enumerate((self.q_proj, self.k_proj, self.v_proj)):
                proj.weight.copy_(mha.in_proj_weight[i * E:(i + 1) * E])
                proj.bias.copy_(mha.in_proj_bias[i * E:(i + 1) * E])
            self.out_proj.weight.copy_(mha.out_proj.weight)
            self.out_proj.bias.copy_(mha.out_proj.bias)
        return self

    def forward(self, query, key, value, mask=None):  # signature as in the stub
        H, d = self.num_heads, self.head_dim

        def heads(x):
            return x.reshape(x.shape[0], x.shape[1], H, d).transpose(1, 2)

        Q, K, V = heads(self.q_proj(query)), heads(self.k_proj(key)), heads(self.v_proj(value))
        scores = Q @ K.transpose(-2, -1) / math.sqrt(d)
        if mask is not None:
            mask = torch.as_tensor(mask, dtype=torch.bool)
            if mask.dim() >= 3:
                mask = mask.unsqueeze(-3)
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        out = (weights @ V).transpose(1, 2).reshape(query.shape[0], query.shape[1], H * d)
        return self.out_proj(out), weights
'''

_C = MODULE_REFERENCE_SHAPED

MODULE_MISTAKES = (
    Mistake("module-qkv-slices-in-wrong-order",
            t("The slices of in_proj_weight are assigned in the wrong order: PyTorch stacks the query, key and "
            "value projections in that order (rows 0:E, E:2E, 2E:3E)."),
            _variant(_C, "(self.q_proj, self.k_proj, self.v_proj)", "(self.k_proj, self.q_proj, self.v_proj)")),
    Mistake("module-weights-transposed",
            t("The projection matrices are transposed: PyTorch stores nn.Linear weights as (out, in) and computes "
            "x @ W.T + b, so copy in_proj_weight's blocks as they are into nn.Linear (or use x @ W.T)."),
            _variant(_variant(_C, "proj.weight.copy_(mha.in_proj_weight[i * E:(i + 1) * E])",
                              "proj.weight.copy_(mha.in_proj_weight[i * E:(i + 1) * E].T)"),
                     "self.out_proj.weight.copy_(mha.out_proj.weight)",
                     "self.out_proj.weight.copy_(mha.out_proj.weight.T)"),
            variants=(_variant(_C, "proj.weight.copy_(mha.in_proj_weight[i * E:(i + 1) * E])",
                               "proj.weight.copy_(mha.in_proj_weight[i * E:(i + 1) * E].T)"),)),
    Mistake("module-biases-forgotten",
            t("The biases are missing: copy in_proj_bias (split in three like the weights) and out_proj.bias."),
            _variant(_variant(_variant(_C, "                proj.bias.copy_(mha.in_proj_bias[i * E:(i + 1) * E])\n", ""),
                              "            self.out_proj.bias.copy_(mha.out_proj.bias)\n", ""),
                     "nn.Linear(embed_dim, embed_dim)", "nn.Linear(embed_dim, embed_dim, bias=False)", count=4)),
    Mistake("module-scale-by-sqrt-E",
            t("The scores are divided by sqrt(embed_dim): each head's scores must be divided by sqrt(embed_dim / "
            "num_heads), the width of one head."),
            _variant(_C, "math.sqrt(d)", "math.sqrt(self.embed_dim)")),
    Mistake("module-split-without-transpose",
            t("The heads are split by a reshape alone, (B, n, E) -> (B, H, n, E/H), which mixes positions: "
            "reshape to (B, n, H, E/H) and then transpose(1, 2)."),
            _variant(_C, "x.reshape(x.shape[0], x.shape[1], H, d).transpose(1, 2)",
                     "x.reshape(x.shape[0], H, x.shape[1], d)")),
    Mistake("module-mask-inverted",
            t("The mask is used with PyTorch's convention (True = blocked): in this course True means 'may "
            "attend', which is PyTorch's attn_mask negated."),
            _variant(_C, "scores.masked_fill(~mask, float(\"-inf\"))", "scores.masked_fill(mask, float(\"-inf\"))")),
    Mistake("module-no-output-projection",
            t("The output projection out_proj is not applied to the concatenated heads."),
            _variant(_C, "return self.out_proj(out), weights", "return out, weights")),
    Mistake("module-mask-without-heads-axis", t("A mask of shape (B, n_q, n_kv) is applied to the scores (B, H, n_q, "
            "n_kv) without a heads axis, so it is matched against the heads: insert one with mask.unsqueeze(1)."),
            _variant(_C, "            if mask.dim() >= 3:\n                mask = mask.unsqueeze(-3)\n", "")),
    Mistake("module-weights-averaged-over-heads",
            t("The weights are averaged over the heads (PyTorch's default average_attn_weights=True): return "
            "every head's weights, shape (B, H, n_q, n_kv)."),
            _variant(_C, "return self.out_proj(out), weights", "return self.out_proj(out), weights.mean(dim=1)")),
)

EXERCISES = [
    Exercise("split_heads", split_heads_cases, SPLIT_MISTAKES,
             weights={"random": 0.625, "batch": 0.125, "edges": 0.125, "arguments": 0.125}),
    Exercise("merge_heads", merge_heads_cases, MERGE_MISTAKES,
             weights={"random": 0.625, "batch": 0.125, "edges": 0.125, "arguments": 0.125}),
    Exercise("multi_head_attention", multi_head_attention_cases, MHA_MISTAKES, outputs=("out", "weights"),
             weights={"random": 0.5, "batch": 0.1, "masks": 0.25, "edges": 0.1, "arguments": 0.05}),
    Exercise("MultiHeadAttention", multi_head_attention_module_cases, MODULE_MISTAKES, outputs=("out", "weights"),
             weights={"random": 0.6, "masks": 0.3, "edges": 0.1}),
]
