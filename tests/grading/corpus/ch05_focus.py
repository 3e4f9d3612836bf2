"""Realistic answers to chapter 5: softmax_with_temperature, attention_entropy, top_k_mask."""

from corpus import Answer

CORRECT = {
    "softmax_with_temperature": [
        Answer("divide, shift, normalise", "def softmax_with_temperature(scores, tau):\n"
               "    if tau <= 0:\n        raise ValueError(f'tau must be > 0, got {tau}')\n"
               "    z = np.asarray(scores, dtype=float) / tau\n    z -= z.max(axis=-1, keepdims=True)\n"
               "    p = np.exp(z)\n    return p / p.sum(axis=-1, keepdims=True)\n"),
        Answer("log-sum-exp", "def softmax_with_temperature(scores, tau):\n"
               "    if not tau > 0:\n        raise ValueError('temperature must be positive')\n"
               "    z = np.asarray(scores, dtype=float) / tau\n    m = np.max(z, axis=-1, keepdims=True)\n"
               "    lse = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))\n    return np.exp(z - lse)\n"),
        Answer("torch.softmax at the boundary", "import torch\n\ndef softmax_with_temperature(scores, tau):\n"
               "    if tau <= 0:\n        raise ValueError('tau <= 0')\n"
               "    return torch.softmax(torch.as_tensor(np.asarray(scores, float)) / tau, dim=-1).numpy()\n"),
        Answer("float32", "def softmax_with_temperature(scores, tau):\n    if tau <= 0:\n"
               "        raise ValueError('bad tau')\n    z = np.asarray(scores, np.float32) / np.float32(tau)\n"
               "    e = np.exp(z - z.max(-1, keepdims=True))\n    return e / e.sum(-1, keepdims=True)\n"),
    ],
    "attention_entropy": [
        Answer("np.where around the log", "def attention_entropy(weights):\n    p = np.asarray(weights, float)\n"
               "    logp = np.log(np.where(p > 0, p, 1.0))\n    return -(p * logp).sum(axis=-1)\n"),
        Answer("nan_to_num of p log p", "def attention_entropy(weights):\n    p = np.asarray(weights, dtype=float)\n"
               "    with np.errstate(divide='ignore', invalid='ignore'):\n        terms = np.nan_to_num(p * np.log(p))\n"
               "    return -terms.sum(-1)\n"),
        Answer("a tiny epsilon in the log", "def attention_entropy(weights):\n"
               "    p = np.asarray(weights, dtype=np.float64)\n    return -np.sum(p * np.log(p + 1e-30), axis=-1)\n"),
        Answer("torch special.entr", "import torch\n\ndef attention_entropy(weights):\n"
               "    return torch.special.entr(torch.as_tensor(np.asarray(weights, float))).sum(-1).numpy()\n"),
    ],
    "top_k_mask": [
        Answer("stable argsort of -scores", "def top_k_mask(scores, k):\n    if k < 1:\n"
               "        raise ValueError('k must be >= 1')\n    scores = np.asarray(scores)\n"
               "    idx = np.argsort(-scores, axis=-1, kind='stable')[..., :k]\n"
               "    out = np.zeros(scores.shape, dtype=bool)\n    np.put_along_axis(out, idx, True, axis=-1)\n    return out\n"),
        Answer("ranks from a double argsort", "def top_k_mask(scores, k):\n    if k < 1:\n"
               "        raise ValueError(f'k={k}')\n    s = np.asarray(scores)\n"
               "    rank = np.argsort(np.argsort(-s, axis=-1, kind='stable'), axis=-1, kind='stable')\n"
               "    return rank < k\n"),
        Answer("torch.topk on a stable order", "import torch\n\ndef top_k_mask(scores, k):\n"
               "    if k < 1:\n        raise ValueError('k < 1')\n    s = torch.as_tensor(np.asarray(scores, float))\n"
               "    k = min(k, s.shape[-1])\n    order = torch.argsort(-s, dim=-1, stable=True)[..., :k]\n"
               "    mask = torch.zeros(s.shape, dtype=torch.bool)\n    mask.scatter_(-1, order, True)\n"
               "    return mask.numpy()\n"),
        Answer("a loop over rows", "def top_k_mask(scores, k):\n    if k < 1:\n        raise ValueError('k')\n"
               "    s = np.asarray(scores, float)\n    flat = s.reshape(-1, s.shape[-1])\n"
               "    mask = np.zeros(flat.shape, bool)\n    for r, row in enumerate(flat):\n"
               "        for j in sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]:\n            mask[r, j] = True\n"
               "    return mask.reshape(s.shape)\n"),
    ],
}

WRONG = {
    "softmax_with_temperature": [
        Answer("multiplied by tau", "def softmax_with_temperature(scores, tau):\n    if tau <= 0:\n"
               "        raise ValueError('tau')\n    z = np.asarray(scores, float) * tau\n"
               "    e = np.exp(z - z.max(-1, keepdims=True))\n    return e / e.sum(-1, keepdims=True)\n",
               {"multiplies-by-tau"}),
        Answer("no shift", "def softmax_with_temperature(scores, tau):\n    if tau <= 0:\n"
               "        raise ValueError('tau')\n    e = np.exp(np.asarray(scores, float) / tau)\n"
               "    return e / e.sum(axis=-1, keepdims=True)\n", {"unstable-exp"}),
        Answer("assert instead of ValueError", "def softmax_with_temperature(scores, tau):\n"
               "    assert tau > 0, 'tau must be positive'\n    z = np.asarray(scores, float) / tau\n"
               "    e = np.exp(z - z.max(-1, keepdims=True))\n    return e / e.sum(-1, keepdims=True)\n",
               {"analysis:wrong-exception"}),
        Answer("axis=0 (fine for one row)", "def softmax_with_temperature(scores, tau):\n    if tau <= 0:\n"
               "        raise ValueError('tau')\n    z = np.asarray(scores, float) / tau\n"
               "    e = np.exp(z - z.max(axis=0))\n    return e / e.sum(axis=0)\n",
               {"softmax-over-first-axis", "analysis:other-axis"}),
        Answer("no temperature check", "def softmax_with_temperature(scores, tau):\n"
               "    z = np.asarray(scores, float) / tau\n    e = np.exp(z - z.max(-1, keepdims=True))\n"
               "    return e / e.sum(-1, keepdims=True)\n", {"no-tau-check", "analysis:missing-raise"}),
        Answer("max of the whole array", "def softmax_with_temperature(scores, tau):\n    if tau <= 0:\n"
               "        raise ValueError('tau')\n    z = np.asarray(scores, float) / tau\n    e = np.exp(z - z.max())\n"
               "    return e / e.sum(-1, keepdims=True)\n", {"global-max"}),
    ],
    "attention_entropy": [
        Answer("log2", "def attention_entropy(weights):\n    p = np.asarray(weights, float)\n"
               "    return -np.sum(p * np.log2(np.where(p > 0, p, 1)), axis=-1)\n", {"log2"}),
        Answer("NaN for zero weights", "def attention_entropy(weights):\n"
               "    return -np.sum(weights * np.log(weights), axis=-1)\n", {"nan-for-zero-weights"}),
        Answer("mean over keys", "def attention_entropy(weights):\n    p = np.asarray(weights, float)\n"
               "    return -np.mean(p * np.log(np.clip(p, 1e-300, None)), axis=-1)\n", {"mean-not-sum"}),
        Answer("no minus sign", "def attention_entropy(weights):\n    p = np.asarray(weights, float)\n"
               "    return np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), -1)\n",
               {"missing-minus", "analysis:factor:-1"}),
        Answer("normalised entropy", "def attention_entropy(weights):\n    p = np.asarray(weights, float)\n"
               "    h = -np.sum(p * np.log(np.where(p > 0, p, 1)), -1)\n    return h / np.log(p.shape[-1])\n",
               {"normalised-by-log-n"}),
        Answer("sum over axis 0", "def attention_entropy(weights):\n    p = np.asarray(weights, float)\n"
               "    return -(p * np.log(np.where(p > 0, p, 1))).sum(axis=0)\n", {"entropy-sum-over-first-axis"}),
    ],
    "top_k_mask": [
        Answer(">= the k-th largest (ties kept)", "def top_k_mask(scores, k):\n    if k < 1:\n"
               "        raise ValueError('k')\n    s = np.asarray(scores)\n    k = min(k, s.shape[-1])\n"
               "    kth = np.sort(s, axis=-1)[..., -k]\n    return s >= kth[..., None]\n", {"keeps-ties-beyond-k"}),
        Answer("argpartition (ties in any order)", "def top_k_mask(scores, k):\n    if k < 1:\n"
               "        raise ValueError('k')\n    s = np.asarray(scores)\n    n = s.shape[-1]\n    if k >= n:\n"
               "        return np.ones(s.shape, dtype=bool)\n    idx = np.argpartition(s, -k, axis=-1)[..., -k:]\n"
               "    mask = np.zeros(s.shape, dtype=bool)\n    np.put_along_axis(mask, idx, True, axis=-1)\n    return mask\n",
               {"analysis:edges-only", "ties-to-later-position"}),
        Answer("a float mask", "def top_k_mask(scores, k):\n    if k < 1:\n        raise ValueError('k')\n"
               "    s = np.asarray(scores)\n    idx = np.argsort(-s, -1, kind='stable')[..., :k]\n"
               "    m = np.zeros_like(s, dtype=np.float32)\n    np.put_along_axis(m, idx, 1.0, -1)\n    return m\n",
               {"float-mask", "analysis:dtype"}),
        Answer("strictly greater than the k-th", "def top_k_mask(scores, k):\n    if k < 1:\n"
               "        raise ValueError('k')\n    s = np.asarray(scores)\n    k = min(k, s.shape[-1])\n"
               "    kth = np.sort(s, axis=-1)[..., -k][..., None]\n    return s > kth\n", {"strict-threshold"}),
        Answer("the k smallest", "def top_k_mask(scores, k):\n    if k < 1:\n        raise ValueError('k')\n"
               "    s = np.asarray(scores)\n    idx = np.argsort(s, -1, kind='stable')[..., :k]\n"
               "    m = np.zeros(s.shape, bool)\n    np.put_along_axis(m, idx, True, -1)\n    return m\n", {"k-smallest"}),
        Answer("torch.topk (ties in any order)", "import torch\n\ndef top_k_mask(scores, k):\n"
               "    if k < 1:\n        raise ValueError('k')\n    s = torch.as_tensor(np.asarray(scores, float))\n"
               "    idx = torch.topk(s, min(k, s.shape[-1]), dim=-1).indices\n"
               "    return torch.zeros_like(s, dtype=torch.bool).scatter(-1, idx, True).numpy()\n",
               {"analysis:edges-only", "ties-to-later-position"}),
        Answer("no check of k", "def top_k_mask(scores, k):\n    s = np.asarray(scores)\n"
               "    idx = np.argsort(-s, -1, kind='stable')[..., :k]\n    m = np.zeros(s.shape, bool)\n"
               "    np.put_along_axis(m, idx, True, -1)\n    return m\n", {"analysis:missing-raise"}),
    ],
}
