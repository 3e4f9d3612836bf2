"""Realistic answers to chapter 6: split_heads, merge_heads, multi_head_attention, MultiHeadAttention."""

from corpus import Answer


def mha(heads_split: str = "np.swapaxes(Z.reshape(*Z.shape[:-1], H, Z.shape[-1] // H), -2, -3)",
        scale: str = "np.sqrt(D // H)", fill: str = "-np.inf", mask_axis: str = "[..., None, :, :]",
        merge: str = "np.swapaxes(O, -2, -3).reshape(*O.shape[:-3], O.shape[-2], -1)",
        project: str = "concat @ W_o", softmax_axis: int = -1) -> str:
    """Return a multi_head_attention answer in one common style, with one piece replaced."""
    return ("def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads, mask=None):\n"
            "    H = num_heads\n    D = W_q.shape[1]\n"
            "    if D % H or W_v.shape[1] % H:\n        raise ValueError('widths must be multiples of num_heads')\n"
            f"    split = lambda Z: {heads_split}\n"
            "    Q, K, V = split(X_q @ W_q), split(X_kv @ W_k), split(X_kv @ W_v)\n"
            f"    s = Q @ np.swapaxes(K, -1, -2) / {scale}\n"
            f"    if mask is not None:\n        s = np.where(np.asarray(mask, bool){mask_axis}, s, {fill})\n"
            f"    m = s.max(axis={softmax_axis}, keepdims=True)\n    e = np.exp(s - np.where(np.isfinite(m), m, 0))\n"
            f"    z = e.sum(axis={softmax_axis}, keepdims=True)\n"
            "    w = np.divide(e, z, out=np.zeros_like(e), where=z > 0)\n    O = w @ V\n"
            f"    concat = {merge}\n    return {project}, w\n")


MODULE_INIT = ("class MultiHeadAttention(nn.Module):\n    def __init__(self, embed_dim, num_heads):\n"
               "        super().__init__()\n        assert embed_dim % num_heads == 0\n"
               "        self.E, self.H, self.d = embed_dim, num_heads, embed_dim // num_heads\n"
               "        self.q = nn.Linear(embed_dim, embed_dim)\n        self.k = nn.Linear(embed_dim, embed_dim)\n"
               "        self.v = nn.Linear(embed_dim, embed_dim)\n        self.o = nn.Linear(embed_dim, embed_dim)\n\n")
LOAD_SLICES = ("    def load_from_torch(self, mha):\n        E = self.E\n        with torch.no_grad():\n"
               "            for i, lin in enumerate((self.q, self.k, self.v)):\n"
               "                lin.weight.copy_(mha.in_proj_weight[i * E:(i + 1) * E])\n"
               "                lin.bias.copy_(mha.in_proj_bias[i * E:(i + 1) * E])\n"
               "            self.o.load_state_dict(mha.out_proj.state_dict())\n        return self\n\n")


def module(forward: str, load: str = LOAD_SLICES) -> str:
    return MODULE_INIT + load + "    def forward(self, query, key, value, mask=None):\n" + forward


FORWARD = ("        B, n_q, _ = query.shape\n"
           "        split = lambda x: x.view(x.shape[0], x.shape[1], self.H, self.d).transpose(1, 2)\n"
           "        Q, K, V = split(self.q(query)), split(self.k(key)), split(self.v(value))\n"
           "        s = Q @ K.transpose(-2, -1) / math.sqrt(self.d)\n        if mask is not None:\n"
           "            m = mask if mask.dim() < 3 else mask.unsqueeze(1)\n"
           "            s = s.masked_fill(~m, float('-inf'))\n"
           "        w = s.softmax(dim=-1)\n"
           "        out = (w @ V).transpose(1, 2).contiguous().view(B, n_q, self.E)\n        return self.o(out), w\n")

CORRECT = {
    "split_heads": [
        Answer("reshape then swapaxes", "def split_heads(X, num_heads):\n    X = np.asarray(X)\n"
               "    *lead, T, D = X.shape\n    if num_heads < 1 or D % num_heads:\n"
               "        raise ValueError(f'{D} features cannot be split into {num_heads} heads')\n"
               "    return np.swapaxes(X.reshape(*lead, T, num_heads, D // num_heads), -2, -3)\n"),
        Answer("np.split and np.stack before the position axis", "def split_heads(X, num_heads):\n"
               "    X = np.asarray(X)\n    if num_heads < 1 or X.shape[-1] % num_heads:\n        raise ValueError('D % H != 0')\n"
               "    return np.stack(np.split(X, num_heads, axis=-1), axis=-3)\n"),
        Answer("moveaxis, reshape raises by itself", "def split_heads(X, num_heads):\n    X = np.asarray(X)\n"
               "    if num_heads < 1:\n        raise ValueError('need at least one head')\n"
               "    new = X.reshape(X.shape[:-1] + (num_heads, X.shape[-1] // num_heads))\n"
               "    if new.size != X.size or new.shape[-1] * num_heads != X.shape[-1]:\n"
               "        raise ValueError('D not divisible')\n    return np.moveaxis(new, -2, -3)\n"),
        Answer("torch at the boundary", "def split_heads(X, num_heads):\n    x = torch.as_tensor(np.asarray(X))\n"
               "    D = x.shape[-1]\n    if num_heads < 1 or D % num_heads:\n        raise ValueError('bad num_heads')\n"
               "    return x.unflatten(-1, (num_heads, D // num_heads)).transpose(-2, -3).numpy()\n"),
    ],
    "merge_heads": [
        Answer("swapaxes then reshape", "def merge_heads(X):\n    X = np.asarray(X)\n    if X.ndim < 3:\n"
               "        raise ValueError('no heads axis')\n    *lead, H, T, d = X.shape\n"
               "    return np.swapaxes(X, -2, -3).reshape(*lead, T, H * d)\n"),
        Answer("concatenate the heads", "def merge_heads(X):\n    X = np.asarray(X)\n    if X.ndim < 3:\n"
               "        raise ValueError('expected (..., H, T, d)')\n"
               "    return np.concatenate([X[..., h, :, :] for h in range(X.shape[-3])], axis=-1)\n"),
        Answer("einops-like with moveaxis", "def merge_heads(X):\n    X = np.asarray(X)\n    if X.ndim < 3:\n"
               "        raise ValueError('need 3 axes')\n    Y = np.moveaxis(X, -3, -2)\n"
               "    return Y.reshape(Y.shape[:-2] + (Y.shape[-2] * Y.shape[-1],))\n"),
    ],
    "multi_head_attention": [
        Answer("split, attend, merge (NumPy)", mha()),
        Answer("einsum over heads", "def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads, mask=None):\n"
               "    H = num_heads\n    D, D_v = W_q.shape[1], W_v.shape[1]\n    if D % H or D_v % H:\n"
               "        raise ValueError('heads')\n    Q = (X_q @ W_q).reshape(*np.shape(X_q)[:-1], H, D // H)\n"
               "    K = (X_kv @ W_k).reshape(*np.shape(X_kv)[:-1], H, D // H)\n"
               "    V = (X_kv @ W_v).reshape(*np.shape(X_kv)[:-1], H, D_v // H)\n"
               "    s = np.einsum('...qhd,...khd->...hqk', Q, K) / np.sqrt(D // H)\n    if mask is not None:\n"
               "        s = np.where(np.expand_dims(mask, -3), s, -np.inf)\n    top = np.max(s, -1, keepdims=True)\n"
               "    e = np.exp(s - np.where(np.isneginf(top), 0, top))\n    tot = e.sum(-1, keepdims=True)\n"
               "    w = np.where(tot > 0, e / np.where(tot > 0, tot, 1), 0)\n"
               "    O = np.einsum('...hqk,...khd->...qhd', w, V)\n"
               "    return O.reshape(*O.shape[:-2], D_v) @ W_o, w\n"),
        Answer("torch at the boundary, NaN rows zeroed", "def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, "
               "num_heads, mask=None):\n    H = num_heads\n    if W_q.shape[1] % H or W_v.shape[1] % H:\n"
               "        raise ValueError('D % H')\n"
               "    t = lambda a: torch.as_tensor(np.asarray(a, float))\n"
               "    heads = lambda x: x.unflatten(-1, (H, x.shape[-1] // H)).transpose(-2, -3)\n"
               "    Q, K, V = heads(t(X_q) @ t(W_q)), heads(t(X_kv) @ t(W_k)), heads(t(X_kv) @ t(W_v))\n"
               "    s = Q @ K.transpose(-1, -2) / math.sqrt(Q.shape[-1])\n    if mask is not None:\n"
               "        s = s.masked_fill(~t(mask).bool().unsqueeze(-3), float('-inf'))\n"
               "    w = torch.nan_to_num(torch.softmax(s, dim=-1))\n"
               "    out = (w @ V).transpose(-2, -3).flatten(-2) @ t(W_o)\n    return out.numpy(), w.numpy()\n"),
    ],
    "MultiHeadAttention": [
        Answer("slices of in_proj_weight, masked_fill -inf", module(FORWARD)),
        Answer("-1e9 fill (no query is fully masked)", module(FORWARD.replace("float('-inf')", "-1e9"))),
        Answer("torch.chunk of the packed weights", module(FORWARD, load=(
            "    def load_from_torch(self, mha):\n        with torch.no_grad():\n"
            "            for lin, w, b in zip((self.q, self.k, self.v), mha.in_proj_weight.chunk(3),\n"
            "                                 mha.in_proj_bias.chunk(3)):\n"
            "                lin.weight.copy_(w)\n                lin.bias.copy_(b)\n"
            "            self.o.weight.copy_(mha.out_proj.weight)\n            self.o.bias.copy_(mha.out_proj.bias)\n\n"))),
        Answer("F.scaled_dot_product_attention for the output", module(
            "        B, n_q, _ = query.shape\n"
            "        split = lambda x: x.reshape(B, -1, self.H, self.d).permute(0, 2, 1, 3)\n"
            "        Q, K, V = split(self.q(query)), split(self.k(key)), split(self.v(value))\n"
            "        m = None if mask is None else (mask if mask.dim() < 3 else mask[:, None])\n"
            "        s = Q @ K.transpose(-2, -1) * self.d ** -0.5\n"
            "        if m is not None:\n            s = s.masked_fill(~m, float('-inf'))\n        w = torch.softmax(s, -1)\n"
            "        out = torch.nn.functional.scaled_dot_product_attention(Q, K, V, attn_mask=m)\n"
            "        return self.o(out.permute(0, 2, 1, 3).reshape(B, n_q, self.E)), w\n")),
    ],
}

WRONG = {
    "split_heads": [
        Answer("reshape only", "def split_heads(X, num_heads):\n    X = np.asarray(X)\n    *lead, T, D = X.shape\n"
               "    if D % num_heads:\n        raise ValueError('D % H')\n"
               "    return X.reshape(*lead, num_heads, T, D // num_heads)\n", {"split-reshape-without-transpose"}),
        Answer("transpose(0, 2, 1, 3) written for (B, T, D)", "def split_heads(X, num_heads):\n"
               "    B, T, D = X.shape\n    if D % num_heads:\n        raise ValueError('D % H')\n"
               "    return X.reshape(B, T, num_heads, D // num_heads).transpose(0, 2, 1, 3)\n", {"analysis:layout"}),
        Answer("heads stacked in front", "def split_heads(X, num_heads):\n    if X.shape[-1] % num_heads:\n"
               "        raise ValueError('D % H')\n    return np.array(np.split(X, num_heads, axis=-1))\n",
               {"split-heads-before-batch-dims"}),
        Answer("the heads axis left after T", "def split_heads(X, num_heads):\n    if X.shape[-1] % num_heads:\n"
               "        raise ValueError('D % H')\n    return X.reshape(*X.shape[:-1], num_heads, -1)\n",
               {"split-heads-axis-not-moved"}),
        Answer("features dealt out in turn", "def split_heads(X, num_heads):\n    if X.shape[-1] % num_heads:\n"
               "        raise ValueError('D % H')\n    return np.stack([X[..., h::num_heads] for h in range(num_heads)], -3)\n",
               {"split-interleaved-features"}),
    ],
    "merge_heads": [
        Answer("reshape only", "def merge_heads(X):\n    if X.ndim < 3:\n        raise ValueError('no heads')\n"
               "    *lead, H, T, d = X.shape\n    return X.reshape(*lead, T, H * d)\n", {"merge-reshape-without-transpose"}),
        Answer("concatenate over the first axis", "def merge_heads(X):\n    if X.ndim < 3:\n"
               "        raise ValueError('no heads')\n    return np.concatenate(list(X), axis=-1)\n",
               {"analysis:batch-only"}),
        Answer("mean of the heads", "def merge_heads(X):\n    if np.ndim(X) < 3:\n        raise ValueError('no heads')\n"
               "    return np.mean(X, axis=-3)\n", {"merge-sum-of-heads", "analysis:shape"}),
        Answer("no check for a 2-D input", "def merge_heads(X):\n    X = np.asarray(X)\n"
               "    return np.concatenate([X[..., h, :, :] for h in range(X.shape[-3])], axis=-1)\n",
               {"analysis:wrong-exception"}),
        Answer("features interleaved", "def merge_heads(X):\n    if X.ndim < 3:\n        raise ValueError('no heads')\n"
               "    Y = np.moveaxis(X, -3, -1)\n    return Y.reshape(*Y.shape[:-2], -1)\n", {"merge-interleaved-features"}),
    ],
    "multi_head_attention": [
        Answer("-1e9 fill", mha(fill="-1e9"), {"mha-large-negative-fill"}),
        Answer("scaled by sqrt(D)", mha(scale="np.sqrt(D)"), {"mha-scale-by-sqrt-D"}),
        Answer("scaled by the input width", mha(scale="np.sqrt(X_q.shape[-1])"), {"mha-scale-by-input-width"}),
        Answer("reshape to (..., H, n, d) directly",
               mha(heads_split="Z.reshape(*Z.shape[:-2], H, Z.shape[-2], Z.shape[-1] // H)"),
               {"mha-split-without-transpose"}),
        Answer("mask not given a heads axis", mha(mask_axis=""), {"mha-mask-not-broadcast-over-heads"}),
        Answer("values split with D / H", mha(heads_split="np.swapaxes(Z.reshape(*Z.shape[:-1], H, D // H), -2, -3)"),
               {"mha-values-split-with-D"}),
        Answer("no output projection", mha(project="concat"), {"mha-no-output-projection"}),
        Answer("softmax over queries", mha(softmax_axis=-2), {"mha-softmax-over-queries"}),
    ],
    "MultiHeadAttention": [
        Answer("mask passed with PyTorch's convention", module(FORWARD.replace("masked_fill(~m,", "masked_fill(m,")),
               {"module-mask-inverted"}),
        Answer("weights averaged like PyTorch's default", module(FORWARD.replace("return self.o(out), w",
                                                                                 "return self.o(out), w.mean(1)")),
               {"module-weights-averaged-over-heads"}),
        Answer("scaled by sqrt(E)", module(FORWARD.replace("math.sqrt(self.d)", "math.sqrt(self.E)")),
               {"module-scale-by-sqrt-E"}),
        Answer("weights transposed when loading", module(FORWARD, load=LOAD_SLICES.replace(
            "mha.in_proj_weight[i * E:(i + 1) * E])", "mha.in_proj_weight[i * E:(i + 1) * E].T)")),
               {"module-weights-transposed"}),
        Answer("no unsqueeze for (B, n_q, n_kv) masks", module(FORWARD.replace(
            "            m = mask if mask.dim() < 3 else mask.unsqueeze(1)\n", "            m = mask\n")),
               {"module-mask-without-heads-axis"}),
        Answer("biases never copied", module(FORWARD, load=LOAD_SLICES.replace(
            "                lin.bias.copy_(mha.in_proj_bias[i * E:(i + 1) * E])\n", "")),
               {"module-biases-forgotten"}),
        Answer("view without transpose", module(FORWARD.replace(
            "x.view(x.shape[0], x.shape[1], self.H, self.d).transpose(1, 2)",
            "x.reshape(x.shape[0], self.H, x.shape[1], self.d)")), {"module-split-without-transpose"}),
    ],
}
