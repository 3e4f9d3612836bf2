"""Realistic answers to chapter 4: score functions, masked softmax, weighted sum, scaled dot-product attention."""

from corpus import Answer

CORRECT = {
    "dot_scores": [
        Answer("einsum with ellipsis", "def dot_scores(Q, K):\n"
               "    return np.einsum('...qd,...kd->...qk', np.asarray(Q, float), np.asarray(K, float))\n"),
        Answer("float32 matmul", "def dot_scores(Q, K):\n"
               "    Q = np.asarray(Q, dtype=np.float32)\n    K = np.asarray(K, dtype=np.float32)\n"
               "    return np.matmul(Q, np.swapaxes(K, -2, -1))\n"),
        Answer("torch at the boundary", "import torch\n\ndef dot_scores(Q, K):\n"
               "    q, k = torch.as_tensor(Q), torch.as_tensor(K)\n    return (q @ k.transpose(-2, -1)).numpy()\n"),
        Answer("broadcast multiply and sum", "def dot_scores(Q, K):\n"
               "    Q, K = np.asarray(Q), np.asarray(K)\n"
               "    return (Q[..., :, None, :] * K[..., None, :, :]).sum(axis=-1)\n"),
        Answer("loops over batch items and pairs", "def dot_scores(Q, K):\n"
               "    Q, K = np.asarray(Q, float), np.asarray(K, float)\n"
               "    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2])\n"
               "    Q = np.broadcast_to(Q, batch + Q.shape[-2:])\n    K = np.broadcast_to(K, batch + K.shape[-2:])\n"
               "    E = np.zeros(batch + (Q.shape[-2], K.shape[-2]))\n"
               "    for b in np.ndindex(*batch):\n        for i in range(Q.shape[-2]):\n"
               "            for j in range(K.shape[-2]):\n                E[b + (i, j)] = np.dot(Q[b][i], K[b][j])\n"
               "    return E\n"),
    ],
    "scaled_dot_scores": [
        Answer("math.sqrt of the last axis", "import math\n\ndef scaled_dot_scores(Q, K):\n"
               "    d_k = np.shape(Q)[-1]\n    return np.matmul(Q, np.swapaxes(K, -1, -2)) / math.sqrt(d_k)\n"),
        Answer("queries pre-scaled, einsum", "def scaled_dot_scores(Q, K):\n"
               "    Q = np.asarray(Q, float) * Q.shape[-1] ** -0.5\n"
               "    return np.einsum('...id,...jd->...ij', Q, K)\n"),
        Answer("torch at the boundary, float32", "import torch\n\ndef scaled_dot_scores(Q, K):\n"
               "    q = torch.tensor(Q, dtype=torch.float32)\n    k = torch.tensor(K, dtype=torch.float32)\n"
               "    return (q @ k.mT / q.shape[-1] ** 0.5).numpy()\n"),
    ],
    "cosine_scores": [
        Answer("normalise then matmul", "def cosine_scores(Q, K, eps=1e-8):\n"
               "    Q, K = np.asarray(Q, float), np.asarray(K, float)\n"
               "    qn = np.linalg.norm(Q, axis=-1, keepdims=True)\n    kn = np.linalg.norm(K, axis=-1, keepdims=True)\n"
               "    return (Q / np.maximum(qn, eps)) @ np.swapaxes(K / np.maximum(kn, eps), -1, -2)\n"),
        Answer("divide the dot products by the outer product of norms", "def cosine_scores(Q, K, eps=1e-8):\n"
               "    Q, K = np.asarray(Q, float), np.asarray(K, float)\n"
               "    dots = Q @ np.swapaxes(K, -1, -2)\n"
               "    qn = np.maximum(np.sqrt((Q ** 2).sum(-1)), eps)\n    kn = np.maximum(np.sqrt((K ** 2).sum(-1)), eps)\n"
               "    return dots / (qn[..., :, None] * kn[..., None, :])\n"),
        Answer("nan_to_num for zero vectors", "def cosine_scores(Q, K, eps=1e-8):\n"
               "    Q, K = np.asarray(Q, float), np.asarray(K, float)\n"
               "    with np.errstate(invalid='ignore', divide='ignore'):\n"
               "        Qn = Q / np.linalg.norm(Q, axis=-1, keepdims=True)\n"
               "        Kn = K / np.linalg.norm(K, axis=-1, keepdims=True)\n"
               "    return np.nan_to_num(np.einsum('...qd,...kd->...qk', np.nan_to_num(Qn), np.nan_to_num(Kn)))\n"),
        Answer("torch at the boundary", "import torch\n\ndef cosine_scores(Q, K, eps=1e-8):\n"
               "    q, k = torch.as_tensor(Q, dtype=torch.float64), torch.as_tensor(K, dtype=torch.float64)\n"
               "    q = q / q.norm(dim=-1, keepdim=True).clamp_min(eps)\n"
               "    k = k / k.norm(dim=-1, keepdim=True).clamp_min(eps)\n    return (q @ k.transpose(-1, -2)).numpy()\n"),
    ],
    "additive_scores_batch": [
        Answer("broadcast with expand_dims", "def additive_scores_batch(Q, K, W_q, W_k, v):\n"
               "    q = np.expand_dims(np.asarray(Q, float) @ W_q, -2)\n"
               "    k = np.expand_dims(np.asarray(K, float) @ W_k, -3)\n    return np.tanh(q + k) @ v\n"),
        Answer("einsum for the last step", "def additive_scores_batch(Q, K, W_q, W_k, v):\n"
               "    hidden = np.tanh((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :])\n"
               "    return np.einsum('...ija,a->...ij', hidden, v)\n"),
        Answer("torch at the boundary", "import torch\n\ndef additive_scores_batch(Q, K, W_q, W_k, v):\n"
               "    Q, K, W_q, W_k, v = (torch.as_tensor(np.asarray(a, float)) for a in (Q, K, W_q, W_k, v))\n"
               "    e = torch.tanh((Q @ W_q).unsqueeze(-2) + (K @ W_k).unsqueeze(-3)) @ v\n    return e.numpy()\n"),
    ],
    "masked_softmax": [
        Answer("np.where, guarded division", "def masked_softmax(scores, mask=None):\n"
               "    x = np.array(scores, dtype=float)\n    if mask is not None:\n"
               "        x = np.where(mask, x, -np.inf)\n    m = x.max(axis=-1, keepdims=True)\n"
               "    m[~np.isfinite(m)] = 0.0\n    e = np.exp(x - m)\n    total = e.sum(axis=-1, keepdims=True)\n"
               "    total[total == 0] = 1.0\n    return e / total\n"),
        Answer("nan_to_num after the softmax", "def masked_softmax(scores, mask=None):\n"
               "    scores = np.asarray(scores, dtype=np.float64)\n"
               "    if mask is not None:\n        scores = np.where(np.asarray(mask, bool), scores, -np.inf)\n"
               "    with np.errstate(invalid='ignore'):\n"
               "        e = np.exp(scores - scores.max(axis=-1, keepdims=True))\n"
               "        w = e / e.sum(axis=-1, keepdims=True)\n    return np.nan_to_num(w, nan=0.0)\n"),
        Answer("multiply the exponentials by the mask", "def masked_softmax(scores, mask=None):\n"
               "    scores = np.asarray(scores, float)\n    keep = np.ones(scores.shape, bool) if mask is None else "
               "np.broadcast_to(mask, scores.shape)\n"
               "    shifted = np.where(keep, scores, -np.inf)\n    peak = np.max(shifted, axis=-1, keepdims=True)\n"
               "    e = np.where(keep, np.exp(scores - np.where(np.isfinite(peak), peak, 0.0)), 0.0)\n"
               "    s = e.sum(-1, keepdims=True)\n    return np.divide(e, s, out=np.zeros_like(e), where=s > 0)\n"),
        Answer("torch softmax at the boundary, NaN rows zeroed", "import torch\n\n"
               "def masked_softmax(scores, mask=None):\n    x = torch.as_tensor(np.asarray(scores, float))\n"
               "    if mask is not None:\n        x = x.masked_fill(~torch.as_tensor(np.asarray(mask, bool)), float('-inf'))\n"
               "    w = torch.softmax(x, dim=-1)\n    return torch.nan_to_num(w, nan=0.0).numpy()\n"),
        Answer("float32 throughout", "def masked_softmax(scores, mask=None):\n"
               "    x = np.asarray(scores, dtype=np.float32)\n    if mask is not None:\n"
               "        x = np.where(mask, x, np.float32(-np.inf))\n"
               "    top = np.max(x, axis=-1, keepdims=True)\n    top = np.where(np.isneginf(top), 0, top)\n"
               "    e = np.exp(x - top)\n    z = e.sum(axis=-1, keepdims=True)\n"
               "    return np.where(z > 0, e / np.where(z > 0, z, 1), 0)\n"),
    ],
    "weighted_sum": [
        Answer("einsum", "def weighted_sum(weights, V):\n    return np.einsum('...qk,...kd->...qd', weights, V)\n"),
        Answer("broadcast multiply and sum over keys", "def weighted_sum(weights, V):\n"
               "    w, V = np.asarray(weights, float), np.asarray(V, float)\n"
               "    return (w[..., :, :, None] * V[..., None, :, :]).sum(axis=-2)\n"),
        Answer("np.matmul in float32", "def weighted_sum(weights, V):\n"
               "    return np.matmul(np.float32(weights), np.float32(V))\n"),
        Answer("torch at the boundary", "import torch\n\ndef weighted_sum(weights, V):\n"
               "    return torch.matmul(torch.as_tensor(weights), torch.as_tensor(V)).numpy()\n"),
    ],
    "scaled_dot_product_attention": [
        Answer("calls the functions above", "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    weights = masked_softmax(scaled_dot_scores(Q, K), mask)\n"
               "    return weighted_sum(weights, V), weights\n"),
        Answer("einsum and a guarded softmax", "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    Q, K, V = (np.asarray(x, float) for x in (Q, K, V))\n"
               "    s = np.einsum('...qd,...kd->...qk', Q, K) / np.sqrt(Q.shape[-1])\n"
               "    if mask is not None:\n        s = np.where(mask, s, -np.inf)\n"
               "    m = np.max(s, -1, keepdims=True)\n    m = np.where(np.isfinite(m), m, 0)\n"
               "    p = np.exp(s - m)\n    z = p.sum(-1, keepdims=True)\n"
               "    p = np.divide(p, z, out=np.zeros_like(p), where=z != 0)\n"
               "    return np.einsum('...qk,...kd->...qd', p, V), p\n"),
        Answer("torch softmax, fully masked rows set to zero", "import torch\n\n"
               "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    q, k, v = (torch.as_tensor(np.asarray(x, float)) for x in (Q, K, V))\n"
               "    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5\n    if mask is not None:\n"
               "        m = torch.as_tensor(np.asarray(mask, bool))\n"
               "        scores = scores.masked_fill(~m, float('-inf'))\n"
               "    w = torch.nan_to_num(torch.softmax(scores, dim=-1))\n    return (w @ v).numpy(), w.numpy()\n"),
    ],
}

WRONG = {
    "dot_scores": [
        Answer("K.T (fine in 2-D, reverses the batch axes too)", "def dot_scores(Q, K):\n    return np.matmul(Q, K.T)\n",
               {"dot-full-transpose"}),
        Answer("np.dot with K.T", "def dot_scores(Q, K):\n    return np.dot(Q, K.T)\n",
               {"analysis:batch-only", "analysis:layout"}),
        Answer("keys times queries", "def dot_scores(Q, K):\n    return K @ Q.T\n",
               {"dot-transposed-result", "dot-full-transpose", "analysis:axes"}),
        Answer("bmm-style transpose that needs exactly 3 axes", "def dot_scores(Q, K):\n"
               "    return np.matmul(Q, np.transpose(K, (0, 2, 1)))\n", {"analysis:layout"}),
        Answer("scaled by accident", "import math\n\ndef dot_scores(Q, K):\n"
               "    return Q @ np.swapaxes(K, -1, -2) / math.sqrt(Q.shape[-1])\n", {"dot-scaled"}),
        Answer("einsum written for matrices only", "def dot_scores(Q, K):\n    return np.einsum('id,jd->ij', Q, K)\n",
               {"analysis:batch-only", "analysis:layout"}),
    ],
    "scaled_dot_scores": [
        Answer("forgot the scale", "def scaled_dot_scores(Q, K):\n    return np.einsum('...id,...jd->...ij', Q, K)\n",
               {"scaled-no-scale"}),
        Answer("divides by d_k", "def scaled_dot_scores(Q, K):\n    d_k = Q.shape[-1]\n"
               "    return (Q @ np.swapaxes(K, -1, -2)) / d_k\n", {"scaled-scale-by-d_k"}),
        Answer("d_k from shape[1]", "def scaled_dot_scores(Q, K):\n"
               "    return np.matmul(Q, np.swapaxes(K, -1, -2)) / np.sqrt(K.shape[1])\n",
               {"scaled-d_k-from-axis-1", "analysis:batch-only"}),
        Answer("temperature multiplied in", "def scaled_dot_scores(Q, K):\n"
               "    return Q @ np.swapaxes(K, -1, -2) * Q.shape[-1] ** 0.5\n", {"scaled-multiply-by-sqrt"}),
        Answer("scale by the number of keys", "def scaled_dot_scores(Q, K):\n"
               "    n = K.shape[-2]\n    return Q @ np.swapaxes(K, -1, -2) / np.sqrt(n)\n", {"scaled-scale-by-n_k"}),
        Answer("K.T with the right scale", "def scaled_dot_scores(Q, K):\n    return Q @ K.T / np.sqrt(Q.shape[-1])\n",
               {"analysis:batch-only", "analysis:layout"}),
    ],
    "cosine_scores": [
        Answer("no guard for zero vectors", "def cosine_scores(Q, K, eps=1e-8):\n"
               "    num = Q @ np.swapaxes(K, -1, -2)\n"
               "    den = np.linalg.norm(Q, axis=-1)[..., :, None] * np.linalg.norm(K, axis=-1)[..., None, :]\n"
               "    return num / den\n", {"cosine-no-eps"}),
        Answer("norm of the whole matrix", "def cosine_scores(Q, K, eps=1e-8):\n"
               "    return (Q / np.linalg.norm(Q)) @ np.swapaxes(K / np.linalg.norm(K), -1, -2)\n",
               {"cosine-norm-of-whole-array"}),
        Answer("keys left unnormalised", "def cosine_scores(Q, K, eps=1e-8):\n"
               "    Qn = Q / np.clip(np.linalg.norm(Q, axis=-1, keepdims=True), eps, None)\n"
               "    return Qn @ np.swapaxes(K, -1, -2)\n", {"cosine-only-queries-normalised"}),
        Answer("norms over axis 0", "def cosine_scores(Q, K, eps=1e-8):\n"
               "    Q = Q / np.maximum(np.linalg.norm(Q, axis=0, keepdims=True), eps)\n"
               "    K = K / np.maximum(np.linalg.norm(K, axis=0, keepdims=True), eps)\n"
               "    return Q @ np.swapaxes(K, -1, -2)\n",
               {"cosine-norm-over-wrong-axis", "analysis:batch-only"}),
    ],
    "additive_scores_batch": [
        Answer("tanh forgotten", "def additive_scores_batch(Q, K, W_q, W_k, v):\n"
               "    return (np.expand_dims(Q @ W_q, -2) + np.expand_dims(K @ W_k, -3)) @ v\n", {"additive-no-tanh"}),
        Answer("keys on the query axis", "def additive_scores_batch(Q, K, W_q, W_k, v):\n"
               "    return np.tanh(np.expand_dims(Q @ W_q, -3) + np.expand_dims(K @ W_k, -2)) @ v\n",
               {"additive-transposed-result"}),
        Answer("sum instead of v", "def additive_scores_batch(Q, K, W_q, W_k, v):\n"
               "    return np.tanh((Q @ W_q)[..., :, None, :] + (K @ W_k)[..., None, :, :]).sum(-1)\n",
               {"additive-no-v"}),
        Answer("2-D only broadcasting", "def additive_scores_batch(Q, K, W_q, W_k, v):\n"
               "    return np.tanh((Q @ W_q)[:, None, :] + (K @ W_k)[None, :, :]) @ v\n",
               {"analysis:batch-only", "analysis:layout"}),
    ],
    "masked_softmax": [
        Answer("-1e9 fill (the Annotated Transformer's habit)", "def masked_softmax(scores, mask=None):\n"
               "    scores = np.asarray(scores, float)\n    if mask is not None:\n"
               "        scores = np.where(mask, scores, -1e9)\n"
               "    e = np.exp(scores - scores.max(axis=-1, keepdims=True))\n"
               "    return e / e.sum(axis=-1, keepdims=True)\n", {"softmax-large-negative-fill"}),
        Answer("no max shift", "def masked_softmax(scores, mask=None):\n    scores = np.asarray(scores, float)\n"
               "    if mask is not None:\n        scores = np.where(mask, scores, -np.inf)\n"
               "    e = np.exp(scores)\n    return e / np.sum(e, axis=-1, keepdims=True)\n",
               {"softmax-unstable", "softmax-nan-fully-masked"}),
        Answer("mask multiplied into the scores", "def masked_softmax(scores, mask=None):\n"
               "    x = np.asarray(scores, float)\n    if mask is not None:\n        x = x * mask\n"
               "    e = np.exp(x - x.max(-1, keepdims=True))\n    return e / e.sum(-1, keepdims=True)\n",
               {"softmax-mask-filled-with-zero"}),
        Answer("masked after the softmax", "def masked_softmax(scores, mask=None):\n"
               "    x = np.asarray(scores, float)\n    e = np.exp(x - np.max(x, axis=-1, keepdims=True))\n"
               "    w = e / e.sum(axis=-1, keepdims=True)\n    if mask is not None:\n        w = np.where(mask, w, 0.0)\n"
               "    return w\n", {"softmax-mask-after-softmax"}),
        Answer("finfo.min fill", "def masked_softmax(scores, mask=None):\n    x = np.asarray(scores, float)\n"
               "    if mask is not None:\n        x = np.where(mask, x, np.finfo(x.dtype).min)\n"
               "    x = x - x.max(axis=-1, keepdims=True)\n    e = np.exp(x)\n    return e / e.sum(axis=-1, keepdims=True)\n",
               {"softmax-large-negative-fill"}),
        Answer("additive -1e9 mask", "def masked_softmax(scores, mask=None):\n    x = np.asarray(scores, float)\n"
               "    if mask is not None:\n        x = x + (1.0 - np.asarray(mask, float)) * -1e9\n"
               "    e = np.exp(x - x.max(axis=-1, keepdims=True))\n    return e / e.sum(axis=-1, keepdims=True)\n",
               {"softmax-additive-mask"}),
        Answer("PyTorch convention (True = hidden)", "def masked_softmax(scores, mask=None):\n"
               "    x = np.asarray(scores, float)\n    if mask is not None:\n        x = np.where(mask, -np.inf, x)\n"
               "    m = np.max(x, axis=-1, keepdims=True)\n    m = np.where(np.isfinite(m), m, 0)\n"
               "    e = np.exp(x - m)\n    s = e.sum(-1, keepdims=True)\n    return np.where(s > 0, e / np.maximum(s, 1e-300), 0)\n",
               {"softmax-mask-inverted"}),
        Answer("softmax over axis 0", "def masked_softmax(scores, mask=None):\n    x = np.asarray(scores, float)\n"
               "    if mask is not None:\n        x = np.where(mask, x, -np.inf)\n"
               "    e = np.exp(x - np.max(x, axis=0, keepdims=True))\n    return e / e.sum(axis=0, keepdims=True)\n",
               {"softmax-wrong-axis", "analysis:other-axis"}),
    ],
    "weighted_sum": [
        Answer("np.dot", "def weighted_sum(weights, V):\n    return np.dot(weights, V)\n",
               {"weighted-np-dot-mixes-batches"}),
        Answer("renormalised weights", "def weighted_sum(weights, V):\n"
               "    w = np.asarray(weights, float)\n    w = w / w.sum(axis=-1, keepdims=True)\n    return w @ V\n",
               {"weighted-renormalised"}),
        Answer("mean over keys", "def weighted_sum(weights, V):\n"
               "    return (np.asarray(weights)[..., :, :, None] * np.asarray(V)[..., None, :, :]).mean(axis=-2)\n",
               {"weighted-mean-not-sum"}),
        Answer("sum over the wrong axis", "def weighted_sum(weights, V):\n"
               "    return np.einsum('...qk,...kd->...qk', weights, V)\n", {"weighted-sum-over-features"}),
    ],
    "scaled_dot_product_attention": [
        Answer("-1e9 fill (Annotated Transformer style)", "import math\n\n"
               "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    scores = np.matmul(Q, np.swapaxes(K, -2, -1)) / math.sqrt(Q.shape[-1])\n"
               "    if mask is not None:\n        scores = np.where(mask == 0, -1e9, scores)\n"
               "    scores = scores - scores.max(axis=-1, keepdims=True)\n    p = np.exp(scores)\n"
               "    p = p / p.sum(axis=-1, keepdims=True)\n    return np.matmul(p, V), p\n",
               {"sdpa-large-negative-fill"}),
        Answer("PyTorch's function (NaN on fully masked rows)", "import torch\nimport torch.nn.functional as F\n\n"
               "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    q, k, v = (torch.as_tensor(np.asarray(x, float)) for x in (Q, K, V))\n"
               "    m = None if mask is None else torch.as_tensor(np.asarray(mask, bool))\n"
               "    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5\n"
               "    if m is not None:\n        scores = scores.masked_fill(~m, float('-inf'))\n"
               "    w = torch.softmax(scores, dim=-1)\n    return (w @ v).numpy(), w.numpy()\n",
               {"sdpa-nan-fully-masked"}),
        Answer("scaled by sqrt(d_v)", "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    d = V.shape[-1]\n    s = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d)\n"
               "    return masked_softmax(s, mask) @ V, masked_softmax(s, mask)\n", {"sdpa-scale-by-d_v"}),
        Answer("no scale at all", "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    w = masked_softmax(dot_scores(Q, K), mask)\n    return weighted_sum(w, V), w\n", {"sdpa-no-scale"}),
        Answer("no max shift", "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    s = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])\n"
               "    if mask is not None:\n        s = np.where(mask, s, -np.inf)\n    e = np.exp(s)\n"
               "    with np.errstate(invalid='ignore'):\n        w = np.nan_to_num(e / e.sum(-1, keepdims=True))\n"
               "    return w @ V, w\n", {"sdpa-unstable-softmax", "analysis:extremes-only"}),
        Answer("softmax over the query axis", "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    s = np.asarray(Q) @ np.swapaxes(K, -1, -2) / np.sqrt(np.shape(Q)[-1])\n"
               "    if mask is not None:\n        s = np.where(mask, s, -np.inf)\n"
               "    m = np.max(s, axis=-2, keepdims=True)\n    e = np.exp(s - np.where(np.isfinite(m), m, 0))\n"
               "    z = e.sum(axis=-2, keepdims=True)\n    w = np.divide(e, z, out=np.zeros_like(e), where=z > 0)\n"
               "    return w @ V, w\n", {"sdpa-softmax-wrong-axis", "analysis:weights:other-axis"}),
        Answer("zero fill via multiplication", "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
               "    s = scaled_dot_scores(Q, K)\n    if mask is not None:\n        s = s * mask\n"
               "    w = masked_softmax(s)\n    return w @ V, w\n", {"sdpa-mask-filled-with-zero"}),
    ],
}
