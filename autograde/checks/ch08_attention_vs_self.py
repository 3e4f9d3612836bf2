"""Hidden checks for chapter 8: cross_attention, count_attention_modules, DecoderBlock."""

import numpy as np

from attnbook.grading.spec import Case, Exercise, Mistake
from attnbook.i18n import t

# ---------------------------------------------------------------------------------------------- cross_attention


def _cross_inputs(rng, batch, n_tgt, n_src, d, d_k, d_v, scale=1.0):
    X_tgt = rng.normal(size=batch + (n_tgt, d)) * scale
    X_src = rng.normal(size=batch + (n_src, d))
    W_q, W_k = rng.normal(size=(d, d_k)) / np.sqrt(d), rng.normal(size=(d, d_k)) / np.sqrt(d)
    W_v = rng.normal(size=(d, d_v))
    return X_tgt, X_src, W_q, W_k, W_v


def _padding_mask(rng, batch, n_src):
    """Return a (batch..., n_src) mask with at least one real and (for n_src > 1) one padded token per item."""
    lengths = rng.integers(1, n_src, size=batch + (1,)) if n_src > 1 else np.ones(batch + (1,), int)
    return np.arange(n_src) < lengths


def _cross_sizes(args):
    X_tgt, X_src, W_q, W_k, W_v = args
    return {"d_k": W_q.shape[1], "d": X_tgt.shape[-1], "d_v": W_v.shape[1]}


EXTREME = {"atol": 1e-5, "rtol": 1e-3}  # float32 arithmetic is legal: near 1e4 it keeps about 3 digits


def cross_attention_cases(rng):
    cases = []
    # d (model size), d_k and d_v all differ, n_tgt != n_src: a missing transpose or wrong scale shows.
    for batch, n_tgt, n_src, d, d_k, d_v in [((), 3, 5, 6, 4, 3), ((), 4, 6, 5, 3, 7), ((), 2, 7, 8, 5, 4),
                                             ((2,), 4, 6, 5, 3, 7), ((2, 3), 2, 7, 8, 5, 4), ((3,), 6, 4, 7, 2, 5)]:
        args = _cross_inputs(rng, batch, n_tgt, n_src, d, d_k, d_v, scale=1.5)
        label = (t("random batch {batch}, n_tgt={n_tgt}, n_src={n_src}, d={d}, d_k={d_k}, d_v={d_v}", batch=batch,
                   n_tgt=n_tgt, n_src=n_src, d=d, d_k=d_k, d_v=d_v) if batch else
                 t("random, n_tgt={n_tgt}, n_src={n_src}, d={d}, d_k={d_k}, d_v={d_v}", n_tgt=n_tgt, n_src=n_src, d=d,
                   d_k=d_k, d_v=d_v))
        cases.append(Case(label, args, family="batch" if batch else "random", sizes=_cross_sizes(args)))
    X_tgt, X_src, W_q, W_k, W_v = _cross_inputs(rng, (1,), 3, 5, 6, 4, 3)
    args = (X_tgt, np.concatenate([X_src] + [rng.normal(size=(1, 5, 6)) for _ in range(3)]), W_q, W_k, W_v)
    cases.append(Case(t("batch of the target broadcast against a batch of 4 sources"), args, family="batch",
                      sizes=_cross_sizes(args)))
    for batch, n_tgt, n_src in [((3,), 4, 6), ((2, 2), 3, 5)]:
        args = _cross_inputs(rng, batch, n_tgt, n_src, 6, 4, 5, scale=1.5)
        cases.append(Case(t("padding mask, batch {batch}, n_tgt={n_tgt}, n_src={n_src}", batch=batch, n_tgt=n_tgt,
                            n_src=n_src), args, {"src_mask": _padding_mask(rng, batch, n_src)}, family="masks",
                          sizes=_cross_sizes(args)))
    X_tgt, X_src, W_q, W_k, W_v = _cross_inputs(rng, (3,), 2, 4, 5, 3, 2, scale=1.5)
    mask = np.array([[True, True, False, True], [False, False, False, False], [True, False, False, False]])
    cases.append(Case(t("one item whose source is entirely padding"), (X_tgt, X_src, W_q, W_k, W_v), {"src_mask": mask},
                      family="masks"))
    X_tgt, X_src, W_q, W_k, W_v = _cross_inputs(rng, (), 4, 3, 5, 3, 2)
    cases.append(Case(t("very large scores (inputs times 1e4)"), (1e4 * X_tgt, X_src, W_q, W_k, W_v),
                      {"src_mask": np.array([True, True, False])}, family="extremes", **EXTREME))
    X_tgt, X_src, W_q, W_k, W_v = _cross_inputs(rng, (), 3, 1, 4, 3, 5)
    cases.append(Case(t("a source of length 1"), (X_tgt, X_src, W_q, W_k, W_v), family="edges"))
    X_tgt, X_src, W_q, W_k, W_v = _cross_inputs(rng, (), 1, 4, 4, 3, 5)
    cases.append(Case(t("a target of length 1"), (X_tgt, X_src, W_q, W_k, W_v), family="edges"))
    return cases


CROSS_HEAD = "def cross_attention(X_tgt, X_src, W_q, W_k, W_v, src_mask=None):\n"
CROSS_QKV = ("    Q = np.asarray(X_tgt, dtype=float) @ W_q\n    K = np.asarray(X_src, dtype=float) @ W_k\n"
             "    V = np.asarray(X_src, dtype=float) @ W_v\n")
CROSS_SOFTMAX = ("    top = np.max(scores, axis=-1, keepdims=True)\n    top = np.where(np.isfinite(top), top, 0.0)\n"
                 "    e = np.exp(scores - top)\n    total = e.sum(axis=-1, keepdims=True)\n"
                 "    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)\n")
CROSS_SCORES = "    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1])\n"
CROSS_MASK = ("    if src_mask is not None:\n        scores = np.where(np.asarray(src_mask, bool)[..., None, :], scores, -np.inf)\n")


def _cross(qkv=CROSS_QKV, scores=CROSS_SCORES, mask=CROSS_MASK, softmax=CROSS_SOFTMAX, after="", out="weights @ V"):
    return CROSS_HEAD + qkv + scores + mask + softmax + after + f"    return {out}, weights\n"


CROSS_MISTAKES = (
    Mistake("no-scaling", t("The scores are not divided by sqrt(d_k): the weights come out too peaked."),
            _cross(scores="    scores = Q @ np.swapaxes(K, -1, -2)\n")),
    Mistake("scaled-by-model-size", t("The scores are divided by the square root of the input size d; the scale is "
            "sqrt(d_k), the size of the queries and keys (W_q.shape[1])."),
            _cross(scores="    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(np.shape(X_tgt)[-1])\n")),
    Mistake("mask-polarity", t("The mask is inverted: src_mask is True for real source tokens, so the False "
            "positions (padding) are the ones to exclude."),
            _cross(mask="    if src_mask is not None:\n"
                        "        scores = np.where(np.asarray(src_mask, bool)[..., None, :], -np.inf, scores)\n")),
    Mistake("mask-ignored", t("src_mask is ignored: padded source positions still receive weight."),
            _cross(mask="")),
    Mistake("mask-after-softmax", t("The mask is applied after the softmax without renormalising: the weights of "
            "each query no longer sum to 1. Mask the scores with -inf before the softmax."),
            _cross(mask="", after="    if src_mask is not None:\n"
                                  "        weights = weights * np.asarray(src_mask, bool)[..., None, :]\n")),
    Mistake("mask-zero-score", t("Masked scores are set to 0 instead of -inf: a score of 0 still gets weight."),
            _cross(mask="    if src_mask is not None:\n"
                        "        scores = np.where(np.asarray(src_mask, bool)[..., None, :], scores, 0.0)\n")),
    Mistake("softmax-over-queries", t("The softmax runs over the target (query) axis: each query's weights over "
            "the source positions must sum to 1 (normalise over the last axis)."),
            _cross(mask="", softmax="    e = np.exp(scores - scores.max(axis=-2, keepdims=True))\n"
                                    "    weights = e / e.sum(axis=-2, keepdims=True)\n")),
    Mistake("large-negative-fill", t("Padded scores are set to a large negative number (such as -1e9) instead of "
            "-inf: an item whose source is entirely padding then attends uniformly to the padding instead of getting "
            "zero weights and a zero output."),
            _cross(mask="    if src_mask is not None:\n"
                        "        scores = np.where(np.asarray(src_mask, bool)[..., None, :], scores, -1e9)\n")),
    Mistake("scaled-by-value-size", t("The scores are divided by the square root of the value size d_v; the scale is "
            "sqrt(d_k), the size of the queries and keys."),
            _cross(scores="    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(V.shape[-1])\n")),
    Mistake("values-with-key-weights", t("The values are projected with W_k: use V = X_src @ W_v."),
            _cross(qkv=CROSS_QKV.replace("@ W_v", "@ W_k"))),
    Mistake("unstable-softmax", t("The softmax is not stable: exp overflows for large scores (subtract each row's "
            "maximum before exp), or a fully padded item gives NaN instead of zeros."),
            _cross(softmax="    e = np.exp(scores)\n    weights = e / e.sum(axis=-1, keepdims=True)\n")),
)

# -------------------------------------------------------------------------------------- count_attention_modules


def _layer(kind, d=8, nhead=2, ff=16):
    return {"class": f"Transformer{kind}Layer",
            "init": {"d_model": d, "nhead": nhead, "dim_feedforward": ff, "batch_first": True}}


def _transformer(n_enc, n_dec, d=8, nhead=2):
    return {"class": "Transformer", "init": {"d_model": d, "nhead": nhead, "num_encoder_layers": n_enc,
                                             "num_decoder_layers": n_dec, "dim_feedforward": 2 * d,
                                             "batch_first": True}}


def _stack(kind, n, **kw):
    return {"children": {f"layer{i}": _layer(kind, **kw) for i in range(n)}}


LINEAR = {"class": "Linear", "init": {"in_features": 8, "out_features": 8}}


def count_cases(rng):
    cases = []
    n_enc, n_dec = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    cases.append(Case(t("nn.Transformer with {n_enc} encoder and {n_dec} decoder layers", n_enc=n_enc, n_dec=n_dec),
                      driver="build_torch_model", kwargs={"model": _transformer(n_enc, n_dec)}))
    n = int(rng.integers(2, 7))
    cases.append(Case(t("an encoder-only stack of {n} layers inside a container, next to a linear head", n=n),
                      driver="build_torch_model",
                      kwargs={"model": {"children": {"encoder": _stack("Encoder", n), "head": LINEAR}}}))
    n = int(rng.integers(2, 6))
    cases.append(Case(t("a decoder-only stack of {n} layers", n=n), driver="build_torch_model",
                      kwargs={"model": _stack("Decoder", n)}))
    e, d, extra = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    model = {"children": {"embed": LINEAR,
                          "backbone": {"children": {"core": _transformer(e, d),
                                                    "refine": {"children": {"extra": _stack("Encoder", extra)}}}},
                          "reader": _layer("Decoder")}}
    cases.append(Case(t("a Transformer ({e}+{d} layers) nested two containers deep, with {extra} extra encoder "
                        "layer(s) and one decoder layer beside it", e=e, d=d, extra=extra), driver="build_torch_model",
                      kwargs={"model": model}))
    cases.append(Case(t("the base Transformer's layout (6 encoder and 6 decoder layers, narrow)"),
                      driver="build_torch_model", kwargs={"model": _transformer(6, 6)}, family="edges", public=True))
    cases.append(Case(t("a BERT-base layout: 12 encoder layers (narrow) in an 'encoder' container"),
                      driver="build_torch_model", family="edges", public=True,
                      kwargs={"model": {"children": {"encoder": _stack("Encoder", 12, d=12, nhead=12, ff=24)}}}))
    cases.append(Case(t("a single decoder layer"), driver="build_torch_model", kwargs={"model": _layer("Decoder")},
                      family="edges", public=True))
    cases.append(Case(t("a Transformer with no encoder layers"), driver="build_torch_model",
                      kwargs={"model": _transformer(0, 2)}, family="edges", public=True))
    cases.append(Case(t("a model without attention"), driver="build_torch_model",
                      kwargs={"model": {"children": {"a": LINEAR, "b": LINEAR}}}, family="edges", public=True))
    return cases


COUNT_HEAD = "def count_attention_modules(model):\n    counts = {'self': 0, 'cross': 0}\n"

COUNT_MISTAKES = (
    Mistake("decoder-self-not-counted", t("The decoder's own (masked) self-attention is not counted: every decoder "
            "layer has a self-attention block as well as a cross-attention block."),
            COUNT_HEAD + "    for m in model.modules():\n        if isinstance(m, nn.TransformerDecoderLayer):\n"
            "            counts['cross'] += 1\n        elif isinstance(m, nn.TransformerEncoderLayer):\n"
            "            counts['self'] += 1\n    return counts\n"),
    Mistake("cross-counted-as-self", t("Cross-attention blocks are counted as self-attention: a decoder layer's "
            "multihead_attn takes its keys and values from the encoder, so it is cross-attention."),
            COUNT_HEAD + "    for m in model.modules():\n        if isinstance(m, nn.MultiheadAttention):\n"
            "            counts['self'] += 1\n    return counts\n"),
    Mistake("top-level-only", t("Only the model's top-level children are inspected: layers nested inside "
            "nn.Transformer, nn.TransformerEncoder or other containers are missed. Use model.modules()."),
            COUNT_HEAD + "    for m in model.children():\n        if isinstance(m, nn.TransformerDecoderLayer):\n"
            "            counts['self'] += 1\n            counts['cross'] += 1\n"
            "        elif isinstance(m, nn.TransformerEncoderLayer):\n            counts['self'] += 1\n"
            "    return counts\n"),
    Mistake("stacks-not-layers", t("Whole encoder/decoder stacks are counted instead of their layers: each layer "
            "of a stack has its own attention blocks, and layers can also appear outside any stack."),
            COUNT_HEAD + "    for m in model.modules():\n        if isinstance(m, nn.TransformerDecoder):\n"
            "            counts['self'] += 1\n            counts['cross'] += 1\n"
            "        elif isinstance(m, nn.TransformerEncoder):\n            counts['self'] += 1\n    return counts\n",
            variants=(COUNT_HEAD + "    for m in model.modules():\n        if isinstance(m, nn.TransformerDecoder):\n"
                      "            counts['self'] += m.num_layers\n            counts['cross'] += m.num_layers\n"
                      "        elif isinstance(m, nn.TransformerEncoder):\n            counts['self'] += m.num_layers\n"
                      "    return counts\n",)),
    Mistake("one-block-per-layer", t("Each layer is counted once as self-attention: a decoder layer holds two "
            "attention blocks, one self-attention and one cross-attention."),
            COUNT_HEAD + "    for m in model.modules():\n"
            "        if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):\n"
            "            counts['self'] += 1\n    return counts\n"),
)

# ----------------------------------------------------------------------------------------------- DecoderBlock


def _block_case(rng, label, B, T, S, d_model, nhead, d_ff, masked, family="random"):
    x = rng.normal(size=(B, T, d_model)).astype(np.float32)
    memory = rng.normal(size=(B, S, d_model)).astype(np.float32)
    inputs = [x, memory] + ([_padding_mask(rng, (B,), S)] if masked else [])
    return Case(label, driver="module_loaded_from_torch", atol=1e-5, rtol=1e-5, family=family,
                kwargs={"init": {"d_model": d_model, "num_heads": nhead, "d_ff": d_ff},
                        "torch_class": "TransformerDecoderLayer",
                        "torch_init": {"d_model": d_model, "nhead": nhead, "dim_feedforward": d_ff,
                                       "dropout": 0.0, "batch_first": True},
                        "seed": int(rng.integers(2**31)), "inputs": inputs})


def decoder_block_cases(rng):
    cases = []
    for B, T, S, d_model, nhead, d_ff in [(2, 5, 7, 8, 2, 16), (3, 4, 6, 12, 3, 20), (1, 7, 3, 16, 4, 24)]:
        cases.append(_block_case(rng, t("random weights and inputs, B={B}, T={T}, S={S}, d_model={d_model}, {nhead} "
                                        "heads, d_ff={d_ff}", B=B, T=T, S=S, d_model=d_model, nhead=nhead, d_ff=d_ff),
                                 B, T, S, d_model, nhead, d_ff, False))
    for B, T, S, d_model, nhead, d_ff in [(3, 5, 6, 8, 2, 12), (2, 6, 4, 12, 4, 16)]:
        cases.append(_block_case(rng, t("with a memory padding mask, B={B}, T={T}, S={S}, d_model={d_model}, {nhead} "
                                        "heads", B=B, T=T, S=S, d_model=d_model, nhead=nhead),
                                 B, T, S, d_model, nhead, d_ff, True, family="masks"))
    cases.append(_block_case(rng, t("one head, memory of length 2 with padding"), 2, 3, 2, 6, 1, 10, True,
                             family="masks"))
    cases.append(_block_case(rng, t("a single target position (T=1)"), 2, 1, 5, 8, 2, 16, False, family="edges"))
    cases.append(_block_case(rng, t("a single target position (T=1), one head"), 3, 1, 4, 6, 1, 12, False,
                             family="edges"))
    return cases


BLOCK_INIT = (
    "class DecoderBlock(nn.Module):\n"
    "    def __init__(self, d_model, num_heads, d_ff):\n        super().__init__()\n"
    "        self.self_attn = nn.MultiheadAttention(d_model, num_heads, batch_first=True)\n"
    "        self.cross_attn = nn.MultiheadAttention(d_model, num_heads, batch_first=True)\n"
    "        self.linear1 = nn.Linear(d_model, d_ff)\n        self.linear2 = nn.Linear(d_ff, d_model)\n"
    "        self.norm1 = nn.LayerNorm(d_model)\n        self.norm2 = nn.LayerNorm(d_model)\n"
    "        self.norm3 = nn.LayerNorm(d_model)\n\n")
BLOCK_LOAD = (
    "\n    def load_from_torch(self, layer):\n"
    "        pairs = [(self.self_attn, layer.self_attn), (self.cross_attn, layer.multihead_attn),\n"
    "                 (self.linear1, layer.linear1), (self.linear2, layer.linear2),\n"
    "                 (self.norm1, layer.norm1), (self.norm2, layer.norm2), (self.norm3, layer.norm3)]\n"
    "        for mine, theirs in pairs:\n            mine.load_state_dict(theirs.state_dict())\n")
FUTURE = "        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)\n"
PADDING = "        padding = None if memory_mask is None else ~memory_mask.bool()\n"
SELF = "        x = self.norm1(x + self.self_attn(x, x, x, attn_mask=future, need_weights=False)[0])\n"
CROSS = "        x = self.norm2(x + self.cross_attn(x, memory, memory, key_padding_mask=padding, need_weights=False)[0])\n"
FF = "        return self.norm3(x + self.linear2(torch.relu(self.linear1(x))))\n"


def _block(future=FUTURE, padding=PADDING, body=None, load=BLOCK_LOAD):
    body = body if body is not None else SELF + CROSS + FF
    return (BLOCK_INIT + "    def forward(self, x, memory, memory_mask=None):\n        T = x.shape[1]\n"
            + future + padding + body + load)


BLOCK_MISTAKES = (
    Mistake("no-causal-mask", t("The self-attention has no causal mask: each target position can see later "
            "positions. Position t may attend to positions 0..t only."),
            _block(future="        future = None\n")),
    Mistake("causal-off-by-one-future", t("The causal mask is off by one: it lets each position see the next "
            "position too (torch.triu(..., diagonal=1) marks exactly the future)."),
            _block(future=FUTURE.replace("diagonal=1", "diagonal=2"))),
    Mistake("causal-hides-diagonal", t("The causal mask also hides each position from itself (the diagonal): a "
            "position may attend to itself, so the first position is left with nothing (NaN)."),
            _block(future=FUTURE.replace("diagonal=1", "diagonal=0"))),
    Mistake("causal-mask-inverted", t("The causal mask is inverted: PyTorch's attn_mask is True where attention is "
            "blocked, so it must be True above the diagonal (torch.triu(..., diagonal=1)); a lower-triangular mask "
            "hides the past and leaves the last position nothing to attend to (NaN)."),
            _block(future="        future = torch.tril(torch.ones(T, T, dtype=torch.bool))\n"),
            variants=(_block(future="        future = torch.tril(torch.ones(T, T, dtype=torch.bool))\n",
                             body=SELF.replace(", need_weights=False", "") + CROSS + FF),)),
    Mistake("pre-norm", t("This is the pre-norm arrangement (LayerNorm before each sub-layer); the block is "
            "post-norm: x = LayerNorm(x + sublayer(x))."),
            _block(body="        h = self.norm1(x)\n"
                        "        x = x + self.self_attn(h, h, h, attn_mask=future, need_weights=False)[0]\n"
                        "        h = self.norm2(x)\n"
                        "        x = x + self.cross_attn(h, memory, memory, key_padding_mask=padding, need_weights=False)[0]\n"
                        "        h = self.norm3(x)\n        return x + self.linear2(torch.relu(self.linear1(h)))\n")),
    Mistake("missing-residual-cross", t("The residual connection around the cross-attention is missing: add its "
            "input back before LayerNorm 2."),
            _block(body=SELF + "        x = self.norm2(self.cross_attn(x, memory, memory, key_padding_mask=padding, "
                               "need_weights=False)[0])\n" + FF)),
    Mistake("memory-mask-polarity", t("The memory mask is passed to PyTorch unchanged: memory_mask is True for "
            "real tokens, but key_padding_mask expects True for padding. Invert it."),
            _block(padding="        padding = memory_mask\n")),
    Mistake("memory-mask-ignored", t("memory_mask is ignored: padded memory positions still receive "
            "cross-attention weight."), _block(padding="        padding = None\n")),
    Mistake("gelu-not-relu", t("The feed-forward network uses GELU; torch's decoder layer (and the original "
            "Transformer) uses ReLU."), _block(body=SELF + CROSS + FF.replace("torch.relu", "nn.functional.gelu"))),
    Mistake("norms-swapped", t("The LayerNorm weights are loaded into the wrong places: norm1 follows the "
            "self-attention, norm2 the cross-attention, norm3 the feed-forward network."),
            _block(load=BLOCK_LOAD.replace("(self.norm1, layer.norm1)", "(self.norm1, layer.norm3)")
                   .replace("(self.norm3, layer.norm3)", "(self.norm3, layer.norm1)"))),
)

EXERCISES = [
    Exercise("cross_attention", cross_attention_cases, CROSS_MISTAKES, outputs=("out", "weights"),
             weights={"random": 0.5, "batch": 0.15, "masks": 0.25, "extremes": 0.05, "edges": 0.05}),
    Exercise("count_attention_modules", count_cases, COUNT_MISTAKES, weights={"random": 0.625, "edges": 0.375}),
    Exercise("DecoderBlock", decoder_block_cases, BLOCK_MISTAKES, weights={"random": 0.625, "masks": 0.25, "edges": 0.125}),
]
