"""Realistic answers to chapter 7: causal_mask, self_attention, sinusoidal_positional_encoding."""

from corpus import Answer


def sa(scale: str = "np.sqrt(W_k.shape[1])", fill: str = "-np.inf", shift: bool = True, values: str = "V",
       mask: str = "np.tril(np.ones((T, T), dtype=bool))", axis: int = -1, qk: str = "Q @ np.swapaxes(K, -1, -2)") -> str:
    """Return a self_attention answer in a common style, with one piece replaced."""
    body = ("def self_attention(X, W_q, W_k, W_v, causal=False):\n    X = np.asarray(X, float)\n"
            "    Q, K, V = X @ W_q, X @ W_k, X @ W_v\n"
            f"    s = {qk} / {scale}\n    if causal:\n        T = X.shape[-2]\n"
            f"        s = np.where({mask}, s, {fill})\n")
    if shift:
        body += f"    s = s - s.max(axis={axis}, keepdims=True)\n"
    return body + (f"    a = np.exp(s)\n    a = a / a.sum(axis={axis}, keepdims=True)\n    return a @ {values}, a\n")


def pe(fill: str, angles: str = "p / np.power(10000.0, np.arange(0, d, 2) / d)", check: bool = True) -> str:
    head = "def sinusoidal_positional_encoding(T, d):\n"
    if check:
        head += "    if T < 0 or d < 1:\n        raise ValueError('T >= 0 and d >= 1 needed')\n"
    return head + f"    p = np.arange(T)[:, None].astype(float)\n    ang = {angles}\n" + fill


INTERLEAVED = ("    out = np.zeros((T, d))\n    out[:, 0::2] = np.sin(ang)\n    out[:, 1::2] = np.cos(ang[:, :d // 2])\n"
               "    return out\n")

CORRECT = {
    "causal_mask": [
        Answer("np.tril of booleans", "def causal_mask(T):\n    if T < 0:\n        raise ValueError('T must be >= 0')\n"
               "    return np.tril(np.ones((T, T), dtype=bool))\n"),
        Answer("comparison of aranges", "def causal_mask(T):\n    if T < 0:\n        raise ValueError(f'negative T={T}')\n"
               "    i = np.arange(T)\n    return i[:, None] >= i[None, :]\n"),
        Answer("negated triu (numpy raises on negative sizes)", "def causal_mask(T):\n"
               "    return ~np.triu(np.ones((T, T), dtype=bool), k=1)\n"),
        Answer("torch at the boundary", "import torch\n\ndef causal_mask(T):\n    if T < 0:\n"
               "        raise ValueError('T < 0')\n    return torch.tril(torch.ones(T, T)).bool().numpy()\n"),
    ],
    "self_attention": [
        Answer("numpy with np.tril", sa()),
        Answer("-1e9 fill (no causal row is ever empty)", sa(fill="-1e9")),
        Answer("einsum, triu of the future", "def self_attention(X, W_q, W_k, W_v, causal=False):\n"
               "    Q, K, V = np.asarray(X) @ W_q, np.asarray(X) @ W_k, np.asarray(X) @ W_v\n"
               "    s = np.einsum('...td,...sd->...ts', Q, K) / np.sqrt(Q.shape[-1])\n    if causal:\n"
               "        n = s.shape[-1]\n        s = np.where(np.triu(np.ones((n, n), bool), 1), -np.inf, s)\n"
               "    w = np.exp(s - s.max(-1, keepdims=True))\n    w /= w.sum(-1, keepdims=True)\n"
               "    return np.einsum('...ts,...sd->...td', w, V), w\n"),
        Answer("torch softmax at the boundary", "import torch\n\n"
               "def self_attention(X, W_q, W_k, W_v, causal=False):\n"
               "    x = torch.as_tensor(np.asarray(X, float))\n"
               "    q, k, v = (x @ torch.as_tensor(np.asarray(W, float)) for W in (W_q, W_k, W_v))\n"
               "    s = q @ k.transpose(-2, -1) / k.shape[-1] ** 0.5\n    if causal:\n"
               "        T = x.shape[-2]\n        s = s.masked_fill(torch.ones(T, T).triu(1).bool(), float('-inf'))\n"
               "    a = torch.softmax(s, dim=-1)\n    return (a @ v).numpy(), a.numpy()\n"),
    ],
    "sinusoidal_positional_encoding": [
        Answer("slices of even and odd columns", pe(INTERLEAVED)),
        Answer("div_term in log space", "import math\n\ndef sinusoidal_positional_encoding(T, d):\n"
               "    if T < 0 or d < 1:\n        raise ValueError('bad shape')\n"
               "    pos = np.arange(T, dtype=float)[:, None]\n"
               "    div = np.exp(np.arange(0, d, 2) * (-math.log(10000.0) / d))\n    pe = np.zeros((T, d))\n"
               "    pe[:, 0::2] = np.sin(pos * div)\n    pe[:, 1::2] = np.cos(pos * div)[:, : d // 2]\n    return pe\n"),
        Answer("double loop", "import math\n\ndef sinusoidal_positional_encoding(T, d):\n"
               "    if T < 0 or d < 1:\n        raise ValueError('bad shape')\n    PE = np.zeros((T, d))\n"
               "    for p in range(T):\n        for j in range(d):\n            angle = p / 10000 ** ((j - j % 2) / d)\n"
               "            PE[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)\n    return PE\n"),
        Answer("one angle per column, sin or cos by parity", "def sinusoidal_positional_encoding(T, d):\n"
               "    if T < 0 or d < 1:\n        raise ValueError('T, d')\n    j = np.arange(d)\n"
               "    ang = np.arange(T)[:, None] / 10000 ** ((2 * (j // 2)) / d)\n"
               "    return np.where(j % 2 == 0, np.sin(ang), np.cos(ang))\n"),
    ],
}

WRONG = {
    "causal_mask": [
        Answer("0/1 floats", "def causal_mask(T):\n    if T < 0:\n        raise ValueError('T')\n"
               "    return np.tril(np.ones((T, T)))\n", {"numbers-not-booleans", "analysis:dtype"}),
        Answer("PyTorch's additive mask", "def causal_mask(T):\n    if T < 0:\n        raise ValueError('T')\n"
               "    return np.triu(np.full((T, T), float('-inf')), 1)\n", {"additive-float-mask"}),
        Answer("the blocked positions", "def causal_mask(T):\n    if T < 0:\n        raise ValueError('T')\n"
               "    return np.triu(np.ones((T, T), dtype=bool), k=1)\n", {"inverted"}),
        Answer("strict lower triangle", "def causal_mask(T):\n    if T < 0:\n        raise ValueError('T')\n"
               "    i = np.arange(T)\n    return i[:, None] > i[None, :]\n", {"strict-lower-triangle"}),
        Answer("upper triangle", "def causal_mask(T):\n    if T < 0:\n        raise ValueError('T')\n"
               "    return np.triu(np.ones((T, T), dtype=bool))\n", {"upper-triangle"}),
    ],
    "self_attention": [
        Answer("scaled by sqrt(d_model)", sa(scale="np.sqrt(X.shape[-1])"), {"scales-by-d_model"}),
        Answer("scaled by sqrt(d_v)", sa(scale="np.sqrt(W_v.shape[1])"), {"scales-by-d_v"}),
        Answer("no max shift", sa(shift=False), {"unstable-softmax"}),
        Answer("mask above the diagonal", sa(mask="np.triu(np.ones((T, T), dtype=bool))"), {"causal-mask-transposed"}),
        Answer("K.T (fine in 2-D)", sa(qk="Q @ K.T"), {"analysis:batch-only", "analysis:layout"}),
        Answer("sum of the inputs", sa(values="X"), {"values-not-projected"}),
        Answer("softmax over queries", sa(axis=-2), {"softmax-over-queries"}),
        Answer("the diagonal masked too", sa(mask="np.tril(np.ones((T, T), dtype=bool), k=-1)"),
               {"causal-off-by-one"}),
    ],
    "sinusoidal_positional_encoding": [
        Answer("halves concatenated", pe("    return np.concatenate([np.sin(ang), np.cos(ang[:, :d // 2])], axis=-1)\n"),
               {"halves-concatenated", "analysis:permuted"}),
        Answer("tensor2tensor timing signal", "import math\n\ndef sinusoidal_positional_encoding(T, d):\n"
               "    if T < 0 or d < 1:\n        raise ValueError('bad')\n    n = d // 2\n"
               "    step = math.log(10000.0) / max(n - 1, 1)\n    inv = np.exp(-step * np.arange(n))\n"
               "    t = np.arange(T, dtype=float)[:, None] * inv[None, :]\n"
               "    sig = np.concatenate([np.sin(t), np.cos(t)], axis=1)\n    return np.pad(sig, [[0, 0], [0, d % 2]])\n",
               {"tensor2tensor-timescales"}),
        Answer("cos(angles) for odd d", pe("    out = np.zeros((T, d))\n    out[:, 0::2] = np.sin(ang)\n"
                                         "    out[:, 1::2] = np.cos(ang)\n    return out\n"), {"odd-d-shape-error"}),
        Answer("positions 1..T", pe(INTERLEAVED, angles="(p + 1) / 10000 ** (np.arange(0, d, 2) / d)"),
               {"positions-from-one"}),
        Answer("cos first", pe("    out = np.zeros((T, d))\n    out[:, 0::2] = np.cos(ang)\n"
                               "    out[:, 1::2] = np.sin(ang[:, :d // 2])\n    return out\n"), {"sin-cos-swapped"}),
        Answer("exponent i/d", pe(INTERLEAVED, angles="p / 10000 ** (np.arange((d + 1) // 2) / d)"),
               {"exponent-i-over-d"}),
        Answer("no argument check", pe(INTERLEAVED, check=False), {"analysis:missing-raise"}),
    ],
}
