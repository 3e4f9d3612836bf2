"""Realistic answers to chapter 8: cross_attention, count_attention_modules, DecoderBlock."""

from corpus import Answer


def cross(scale: str = "np.sqrt(K.shape[-1])", fill: str = "-np.inf", guard: bool = True,
          mask: str = "np.asarray(src_mask, bool)[..., None, :]", v: str = "W_v") -> str:
    """Return a cross_attention answer in a common style, with one piece replaced."""
    body = ("def cross_attention(X_tgt, X_src, W_q, W_k, W_v, src_mask=None):\n"
            f"    Q, K, V = np.asarray(X_tgt) @ W_q, np.asarray(X_src) @ W_k, np.asarray(X_src) @ {v}\n"
            f"    s = Q @ np.swapaxes(K, -1, -2) / {scale}\n"
            f"    if src_mask is not None:\n        s = np.where({mask}, s, {fill})\n")
    if guard:
        body += ("    m = s.max(-1, keepdims=True)\n    e = np.exp(s - np.where(np.isfinite(m), m, 0.0))\n"
                 "    z = e.sum(-1, keepdims=True)\n    w = np.divide(e, z, out=np.zeros_like(e), where=z > 0)\n")
    else:
        body += "    e = np.exp(s - s.max(-1, keepdims=True))\n    w = e / e.sum(-1, keepdims=True)\n"
    return body + "    return w @ V, w\n"


BLOCK_INIT = ("class DecoderBlock(nn.Module):\n    def __init__(self, d_model, num_heads, d_ff):\n"
              "        super().__init__()\n"
              "        self.self_attn = nn.MultiheadAttention(d_model, num_heads, batch_first=True)\n"
              "        self.multihead_attn = nn.MultiheadAttention(d_model, num_heads, batch_first=True)\n"
              "        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)\n"
              "        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))\n\n"
              "    def load_from_torch(self, layer):\n        self.load_state_dict(layer.state_dict(), strict=False)\n\n")
FORWARD = ("    def forward(self, x, memory, memory_mask=None):\n        T = x.size(1)\n"
           "        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)\n"
           "        pad = None if memory_mask is None else ~memory_mask\n"
           "        x = self.norm1(x + self.self_attn(x, x, x, attn_mask=causal)[0])\n"
           "        x = self.norm2(x + self.multihead_attn(x, memory, memory, key_padding_mask=pad)[0])\n"
           "        return self.norm3(x + self.linear2(torch.relu(self.linear1(x))))\n")


def block(forward: str = FORWARD, init: str = BLOCK_INIT) -> str:
    return init + forward


COUNT_SELF_CROSS = ("def count_attention_modules(model):\n    counts = {'self': 0, 'cross': 0}\n"
                    "    for m in model.modules():\n")

CORRECT = {
    "cross_attention": [
        Answer("np.where with -inf and a guarded softmax", cross()),
        Answer("einsum and nan_to_num", "def cross_attention(X_tgt, X_src, W_q, W_k, W_v, src_mask=None):\n"
               "    Q = np.einsum('...td,dk->...tk', X_tgt, W_q)\n    K = np.einsum('...sd,dk->...sk', X_src, W_k)\n"
               "    V = np.einsum('...sd,dv->...sv', X_src, W_v)\n"
               "    s = np.einsum('...tk,...sk->...ts', Q, K) / np.sqrt(W_q.shape[1])\n"
               "    if src_mask is not None:\n        s = np.where(np.expand_dims(src_mask, -2), s, -np.inf)\n"
               "    with np.errstate(invalid='ignore'):\n        e = np.exp(s - s.max(-1, keepdims=True))\n"
               "        w = np.nan_to_num(e / e.sum(-1, keepdims=True))\n"
               "    return np.einsum('...ts,...sv->...tv', w, V), w\n"),
        Answer("torch at the boundary", "def cross_attention(X_tgt, X_src, W_q, W_k, W_v, src_mask=None):\n"
               "    f = lambda a: torch.as_tensor(np.asarray(a, float))\n"
               "    q, k, v = f(X_tgt) @ f(W_q), f(X_src) @ f(W_k), f(X_src) @ f(W_v)\n"
               "    s = q @ k.transpose(-1, -2) / k.shape[-1] ** 0.5\n    if src_mask is not None:\n"
               "        s = s.masked_fill(~torch.as_tensor(np.asarray(src_mask)).unsqueeze(-2), float('-inf'))\n"
               "    w = torch.softmax(s, -1).nan_to_num(0.0)\n    return (w @ v).numpy(), w.numpy()\n"),
    ],
    "count_attention_modules": [
        Answer("isinstance over model.modules()", COUNT_SELF_CROSS +
               "        if isinstance(m, nn.TransformerEncoderLayer):\n            counts['self'] += 1\n"
               "        elif isinstance(m, nn.TransformerDecoderLayer):\n            counts['self'] += 1\n"
               "            counts['cross'] += 1\n    return counts\n"),
        Answer("by sub-module names", "def count_attention_modules(model):\n"
               "    names = [n.split('.')[-1] for n, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)]\n"
               "    return {'self': names.count('self_attn'), 'cross': names.count('multihead_attn')}\n"),
        Answer("recursion over children", "def count_attention_modules(model):\n"
               "    s = c = 0\n    for child in model.children():\n        sub = count_attention_modules(child)\n"
               "        s, c = s + sub['self'], c + sub['cross']\n"
               "    if isinstance(model, nn.TransformerDecoderLayer):\n        s, c = s + 1, c + 1\n"
               "    elif isinstance(model, nn.TransformerEncoderLayer):\n        s += 1\n"
               "    return {'self': s, 'cross': c}\n"),
    ],
    "DecoderBlock": [
        Answer("torch's own names, load_state_dict", block()),
        Answer("-1e9 additive causal mask", block(FORWARD.replace(
            "        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)\n",
            "        causal = torch.triu(torch.full((T, T), -1e9), 1)\n"))),
        Answer("generate_square_subsequent_mask and F.relu", block(FORWARD.replace(
            "torch.triu(torch.ones(T, T, dtype=torch.bool), 1)", "nn.Transformer.generate_square_subsequent_mask(T)")
            .replace("torch.relu", "nn.functional.relu"))),
    ],
}

WRONG = {
    "cross_attention": [
        Answer("-1e9 fill", cross(fill="-1e9"), {"large-negative-fill"}),
        Answer("no guard: NaN for an all-padding item", cross(guard=False), {"analysis:masks-only"}),
        Answer("scaled by sqrt(d_v)", cross(scale="np.sqrt(V.shape[-1])"), {"scaled-by-value-size"}),
        Answer("scaled by the model width", cross(scale="np.sqrt(np.shape(X_tgt)[-1])"), {"scaled-by-model-size"}),
        Answer("values with the key matrix", cross(v="W_k"), {"values-with-key-weights"}),
        Answer("mask without the query axis", cross(mask="np.asarray(src_mask, bool)"),
               {"analysis:masks-only", "analysis:layout"}),
        Answer("padding kept, PyTorch's convention", cross(mask="~np.asarray(src_mask, bool)[..., None, :]"),
               {"mask-polarity"}),
    ],
    "count_attention_modules": [
        Answer("every MultiheadAttention counted as self", COUNT_SELF_CROSS +
               "        if isinstance(m, nn.MultiheadAttention):\n            counts['self'] += 1\n    return counts\n",
               {"cross-counted-as-self"}),
        Answer("top-level children only", COUNT_SELF_CROSS.replace("model.modules()", "model.children()") +
               "        if isinstance(m, nn.TransformerEncoderLayer):\n            counts['self'] += 1\n"
               "        elif isinstance(m, nn.TransformerDecoderLayer):\n            counts['self'] += 1\n"
               "            counts['cross'] += 1\n    return counts\n", {"top-level-only"}),
        Answer("decoder self-attention forgotten", COUNT_SELF_CROSS +
               "        if isinstance(m, nn.TransformerEncoderLayer):\n            counts['self'] += 1\n"
               "        elif isinstance(m, nn.TransformerDecoderLayer):\n            counts['cross'] += 1\n"
               "    return counts\n", {"decoder-self-not-counted"}),
        Answer("num_layers of the stacks", "def count_attention_modules(model):\n    s = c = 0\n"
               "    for m in model.modules():\n        if isinstance(m, nn.TransformerEncoder):\n            s += m.num_layers\n"
               "        elif isinstance(m, nn.TransformerDecoder):\n            s += m.num_layers\n"
               "            c += m.num_layers\n    return {'self': s, 'cross': c}\n", {"stacks-not-layers"}),
        Answer("a tuple instead of a dict", "def count_attention_modules(model):\n    s = c = 0\n"
               "    for m in model.modules():\n        if isinstance(m, nn.TransformerEncoderLayer):\n            s += 1\n"
               "        elif isinstance(m, nn.TransformerDecoderLayer):\n            s, c = s + 1, c + 1\n"
               "    return s, c\n", {"analysis:kind"}),
    ],
    "DecoderBlock": [
        Answer("no causal mask", block(FORWARD.replace("attn_mask=causal", "attn_mask=None")), {"no-causal-mask"}),
        Answer("memory mask passed unchanged", block(FORWARD.replace(
            "        pad = None if memory_mask is None else ~memory_mask\n", "        pad = memory_mask\n")),
               {"memory-mask-polarity"}),
        Answer("pre-norm", block(
            "    def forward(self, x, memory, memory_mask=None):\n        T = x.size(1)\n"
            "        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)\n"
            "        pad = None if memory_mask is None else ~memory_mask\n        h = self.norm1(x)\n"
            "        x = x + self.self_attn(h, h, h, attn_mask=causal)[0]\n        h = self.norm2(x)\n"
            "        x = x + self.multihead_attn(h, memory, memory, key_padding_mask=pad)[0]\n"
            "        return x + self.linear2(torch.relu(self.linear1(self.norm3(x))))\n"), {"pre-norm"}),
        Answer("GELU", block(FORWARD.replace("torch.relu", "nn.functional.gelu")), {"gelu-not-relu"}),
        Answer("tril used as the attn_mask", block(FORWARD.replace(
            "torch.triu(torch.ones(T, T, dtype=torch.bool), 1)", "torch.tril(torch.ones(T, T, dtype=torch.bool))")),
               {"causal-mask-inverted"}),
        Answer("no residual around the cross-attention", block(FORWARD.replace(
            "self.norm2(x + self.multihead_attn(", "self.norm2(self.multihead_attn(")), {"missing-residual-cross"}),
    ],
}
