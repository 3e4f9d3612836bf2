"""Realistic answers to chapter 3: hard_lookup, soft_lookup, project_qkv, nadaraya_watson."""

from corpus import Answer

CORRECT = {
    "hard_lookup": [
        Answer("argmax of keys @ query", "def hard_lookup(query, keys, values):\n"
               "    if len(keys) == 0:\n        raise ValueError('empty table')\n"
               "    return np.asarray(values)[np.argmax(np.asarray(keys) @ query)]\n"),
        Answer("a loop with a strict comparison", "def hard_lookup(query, keys, values):\n"
               "    best, best_score = None, None\n    for j, k in enumerate(keys):\n        score = float(np.dot(query, k))\n"
               "        if best_score is None or score > best_score:\n            best, best_score = j, score\n"
               "    if best is None:\n        raise ValueError('the table is empty')\n    return np.array(values[best])\n"),
        Answer("np.argmax raises on an empty table by itself", "def hard_lookup(query, keys, values):\n"
               "    scores = np.einsum('nd,d->n', np.asarray(keys, float), np.asarray(query, float))\n"
               "    return np.asarray(values, float)[scores.argmax()]\n"),
        Answer("torch at the boundary", "import torch\n\ndef hard_lookup(query, keys, values):\n"
               "    k = torch.as_tensor(np.asarray(keys, float))\n    if k.shape[0] == 0:\n"
               "        raise ValueError('no keys')\n    j = int(torch.argmax(k @ torch.as_tensor(np.asarray(query, float))))\n"
               "    return np.asarray(values)[j]\n"),
    ],
    "soft_lookup": [
        Answer("max shift", "def soft_lookup(query, keys, values):\n"
               "    keys, values = np.asarray(keys, float), np.asarray(values, float)\n    if keys.shape[0] == 0:\n"
               "        raise ValueError('empty')\n    e = keys @ query\n    w = np.exp(e - np.max(e))\n    w /= w.sum()\n"
               "    return w, values.T @ w\n"),
        Answer("log-sum-exp", "def soft_lookup(query, keys, values):\n    if len(keys) == 0:\n"
               "        raise ValueError('empty table')\n    e = np.dot(keys, query)\n    m = e.max()\n"
               "    w = np.exp(e - m - np.log(np.exp(e - m).sum()))\n    return w, np.dot(w, values)\n"),
        Answer("torch.softmax at the boundary", "import torch\n\ndef soft_lookup(query, keys, values):\n"
               "    k, v = torch.as_tensor(np.asarray(keys, float)), torch.as_tensor(np.asarray(values, float))\n"
               "    if k.shape[0] == 0:\n        raise ValueError('empty')\n"
               "    w = torch.softmax(k @ torch.as_tensor(np.asarray(query, float)), dim=0)\n"
               "    return w.numpy(), (w @ v).numpy()\n"),
        Answer("float32", "def soft_lookup(query, keys, values):\n    keys = np.asarray(keys, np.float32)\n"
               "    if keys.size == 0 and len(keys) == 0:\n        raise ValueError('empty')\n"
               "    e = keys @ np.asarray(query, np.float32)\n    e = np.exp(e - e.max())\n    w = e / e.sum()\n"
               "    return w, w @ np.asarray(values, np.float32)\n"),
    ],
    "project_qkv": [
        Answer("three matmuls", "def project_qkv(X, W_q, W_k, W_v):\n"
               "    if W_q.shape[-1] != W_k.shape[-1]:\n        raise ValueError('d_k of W_q and W_k differ')\n"
               "    return np.matmul(X, W_q), np.matmul(X, W_k), np.matmul(X, W_v)\n"),
        Answer("einsum with ellipsis", "def project_qkv(X, W_q, W_k, W_v):\n"
               "    if np.shape(W_q)[1] != np.shape(W_k)[1]:\n        raise ValueError('W_q and W_k disagree')\n"
               "    return tuple(np.einsum('...td,de->...te', X, W) for W in (W_q, W_k, W_v))\n"),
        Answer("one fused matrix, then split", "def project_qkv(X, W_q, W_k, W_v):\n"
               "    d_k = W_q.shape[1]\n    if W_k.shape[1] != d_k:\n        raise ValueError('size mismatch')\n"
               "    fused = np.asarray(X, float) @ np.concatenate([W_q, W_k, W_v], axis=1)\n"
               "    return fused[..., :d_k], fused[..., d_k:2 * d_k], fused[..., 2 * d_k:]\n"),
        Answer("np.dot (the weights are 2-D)", "def project_qkv(X, W_q, W_k, W_v):\n"
               "    if W_q.shape[1] != W_k.shape[1]:\n        raise ValueError('W_q and W_k need the same width')\n"
               "    X = np.asarray(X)\n    return X.dot(W_q), X.dot(W_k), X.dot(W_v)\n"),
    ],
    "nadaraya_watson": [
        Answer("max-shifted Gaussian weights", "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if bandwidth <= 0:\n        raise ValueError('bandwidth must be positive')\n"
               "    d = np.subtract.outer(np.asarray(x_query, float), np.asarray(x_keys, float))\n"
               "    s = -0.5 * (d / bandwidth) ** 2\n    w = np.exp(s - s.max(axis=1, keepdims=True))\n"
               "    return (w / w.sum(axis=1, keepdims=True)) @ y_values\n"),
        Answer("normalised Gaussian density (the constant cancels)", "import math\n\n"
               "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if not bandwidth > 0:\n        raise ValueError(f'bandwidth {bandwidth} is not positive')\n"
               "    xq = np.asarray(x_query, float)[:, None]\n    xk = np.asarray(x_keys, float)[None, :]\n"
               "    logk = -((xq - xk) ** 2) / (2 * bandwidth ** 2) - math.log(math.sqrt(2 * math.pi) * bandwidth)\n"
               "    logk -= logk.max(axis=-1, keepdims=True)\n    k = np.exp(logk)\n"
               "    return np.sum(k * y_values, axis=-1) / np.sum(k, axis=-1)\n"),
        Answer("a loop over queries", "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if bandwidth <= 0:\n        raise ValueError('bandwidth <= 0')\n    preds = []\n"
               "    for x in x_query:\n        s = -(x - np.asarray(x_keys)) ** 2 / (2 * bandwidth * bandwidth)\n"
               "        w = np.exp(s - s.max())\n        preds.append(float(w @ y_values / w.sum()))\n"
               "    return np.array(preds)\n"),
        Answer("torch softmax at the boundary", "import torch\n\n"
               "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if bandwidth <= 0 or len(x_keys) == 0:\n        raise ValueError('bandwidth or keys')\n"
               "    q, k = torch.as_tensor(np.asarray(x_query, float)), torch.as_tensor(np.asarray(x_keys, float))\n"
               "    w = torch.softmax(-(q[:, None] - k[None, :]) ** 2 / (2 * bandwidth ** 2), dim=1)\n"
               "    return (w @ torch.as_tensor(np.asarray(y_values, float))).numpy()\n"),
    ],
}

WRONG = {
    "hard_lookup": [
        Answer("argmin", "def hard_lookup(query, keys, values):\n"
               "    return values[np.argmin(np.dot(keys, query))]\n", {"argmin"}),
        Answer("largest |score|", "def hard_lookup(query, keys, values):\n"
               "    return values[np.abs(keys @ query).argmax()]\n", {"abs-score"}),
        Answer("nearest neighbour", "def hard_lookup(query, keys, values):\n"
               "    return values[np.linalg.norm(keys - query, axis=1).argmin()]\n", {"nearest-key"}),
        Answer("returns the best key", "def hard_lookup(query, keys, values):\n"
               "    return keys[np.argmax(keys @ query)]\n", {"returns-key"}),
        Answer(">= in the loop: last tie wins", "def hard_lookup(query, keys, values):\n"
               "    if len(keys) == 0:\n        raise ValueError('empty')\n    j_best, s_best = 0, -np.inf\n"
               "    for j in range(len(keys)):\n        s = query @ keys[j]\n        if s >= s_best:\n"
               "            j_best, s_best = j, s\n    return values[j_best]\n", {"ties-last"}),
        Answer("cosine ranking", "def hard_lookup(query, keys, values):\n"
               "    kn = keys / np.linalg.norm(keys, axis=1, keepdims=True)\n"
               "    return values[np.argmax(kn @ (query / np.linalg.norm(query)))]\n", {"cosine-ranking"}),
    ],
    "soft_lookup": [
        Answer("no max shift", "def soft_lookup(query, keys, values):\n    e = np.exp(keys @ query)\n"
               "    w = e / e.sum()\n    return w, w @ values\n", {"unstable-softmax", "analysis:missing-raise"}),
        Answer("scaled by sqrt(d)", "def soft_lookup(query, keys, values):\n"
               "    e = keys @ query / np.sqrt(len(query))\n    w = np.exp(e - e.max())\n    w = w / w.sum()\n"
               "    return w, w @ values\n", {"scaled-scores"}),
        Answer("(value, weights)", "def soft_lookup(query, keys, values):\n    e = keys @ query\n"
               "    w = np.exp(e - e.max())\n    w = w / w.sum()\n    return w @ values, w\n",
               {"swapped-outputs", "analysis:order"}),
        Answer("weights of the raw exponentials", "def soft_lookup(query, keys, values):\n    e = keys @ query\n"
               "    w = np.exp(e - e.max())\n    return w, w @ values\n", {"not-normalised"}),
        Answer("shifted by the mean", "def soft_lookup(query, keys, values):\n    e = keys @ query\n"
               "    w = np.exp(e - e.mean())\n    w = w / w.sum()\n    return w, w @ values\n",
               {"analysis:extremes-only", "analysis:missing-raise"}),
        Answer("keys summed instead of values", "def soft_lookup(query, keys, values):\n    e = keys @ query\n"
               "    w = np.exp(e - e.max())\n    w = w / w.sum()\n    return w, w @ keys\n", {"sums-keys"}),
    ],
    "project_qkv": [
        Answer("column-vector habit: W @ X.T", "def project_qkv(X, W_q, W_k, W_v):\n"
               "    if W_q.shape[1] != W_k.shape[1]:\n        raise ValueError('mismatch')\n"
               "    return (W_q.T @ X.T).T, (W_k.T @ X.T).T, (W_v.T @ X.T).T\n",
               {"analysis:batch-only", "analysis:layout"}),
        Answer("no size check", "def project_qkv(X, W_q, W_k, W_v):\n    return X @ W_q, X @ W_k, X @ W_v\n",
               {"analysis:missing-raise"}),
        Answer("flattened and not reshaped back", "def project_qkv(X, W_q, W_k, W_v):\n"
               "    if W_q.shape[1] != W_k.shape[1]:\n        raise ValueError('mismatch')\n"
               "    flat = X.reshape(-1, X.shape[-1])\n    return flat @ W_q, flat @ W_k, flat @ W_v\n",
               {"batch-flattened"}),
        Answer("einsum for matrices only", "def project_qkv(X, W_q, W_k, W_v):\n"
               "    if W_q.shape[1] != W_k.shape[1]:\n        raise ValueError('mismatch')\n"
               "    return tuple(np.einsum('td,dk->tk', X, W) for W in (W_q, W_k, W_v))\n",
               {"analysis:batch-only", "analysis:layout"}),
        Answer("keys with the query matrix", "def project_qkv(X, W_q, W_k, W_v):\n"
               "    if W_q.shape[1] != W_k.shape[1]:\n        raise ValueError('mismatch')\n    Q = X @ W_q\n"
               "    return Q, Q, X @ W_v\n", {"shared-qk"}),
    ],
    "nadaraya_watson": [
        Answer("no shift: NaN far from the keys", "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if bandwidth <= 0:\n        raise ValueError('bandwidth')\n"
               "    K = np.exp(-(x_query[:, None] - x_keys[None, :]) ** 2 / (2 * bandwidth ** 2))\n"
               "    return (K @ y_values) / K.sum(axis=1)\n", {"nw-unstable-softmax"}),
        Answer("the factor 2 dropped", "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if bandwidth <= 0:\n        raise ValueError('bandwidth')\n"
               "    s = -((x_query[:, None] - x_keys) / bandwidth) ** 2\n"
               "    w = np.exp(s - s.max(1, keepdims=True))\n    return w @ y_values / w.sum(1)\n",
               {"missing-factor-2"}),
        Answer("bandwidth used as the variance", "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if bandwidth <= 0:\n        raise ValueError('bandwidth')\n"
               "    s = -(x_query[:, None] - x_keys) ** 2 / (2 * bandwidth)\n"
               "    w = np.exp(s - s.max(1, keepdims=True))\n    return w @ y_values / w.sum(1)\n",
               {"bandwidth-not-squared"}),
        Answer("only 0 rejected", "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if bandwidth == 0:\n        raise ValueError('bandwidth')\n"
               "    s = -(x_query[:, None] - x_keys) ** 2 / (2 * bandwidth ** 2)\n"
               "    w = np.exp(s - s.max(1, keepdims=True))\n    return w @ y_values / w.sum(1)\n",
               {"analysis:missing-raise"}),
        Answer("softmax over the queries", "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    if bandwidth <= 0:\n        raise ValueError('bandwidth')\n"
               "    s = -(x_query[:, None] - x_keys) ** 2 / (2 * bandwidth ** 2)\n"
               "    w = np.exp(s - s.max(0, keepdims=True))\n    w = w / w.sum(0, keepdims=True)\n    return w @ y_values\n",
               {"normalised-over-queries"}),
        Answer("no argument check at all", "def nadaraya_watson(x_query, x_keys, y_values, bandwidth):\n"
               "    s = -(x_query[:, None] - x_keys) ** 2 / (2 * bandwidth ** 2)\n"
               "    w = np.exp(s - s.max(1, keepdims=True))\n    return w @ y_values / w.sum(1)\n",
               {"no-bandwidth-check", "analysis:missing-raise", "analysis:wrong-exception"}),
    ],
}
