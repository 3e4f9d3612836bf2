"""Realistic answers to chapter 1: rnn_encode, greedy_decode, accuracy_by_length."""

from corpus import Answer

CORRECT = {
    "rnn_encode": [
        Answer("list of states, np.stack", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    if len(X) == 0:\n        raise ValueError('rnn_encode: X has no time steps')\n"
               "    h = np.zeros(W_hh.shape[0]) if h0 is None else h0\n    states = []\n    for x in X:\n"
               "        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        states.append(h)\n"
               "    H = np.stack(states)\n    return H, H[-1]\n"),
        Answer("preallocated H, inputs projected once", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    X = np.asarray(X, dtype=float)\n    T = X.shape[0]\n    if T == 0:\n"
               "        raise ValueError(f'need at least one step, got X of shape {X.shape}')\n"
               "    d_h = W_hh.shape[1]\n    XW = X @ W_xh + b_h\n    H = np.zeros((T, d_h))\n"
               "    h = np.zeros(d_h) if h0 is None else np.asarray(h0, dtype=float)\n"
               "    for t in range(T):\n        h = np.tanh(XW[t] + h @ W_hh)\n        H[t] = h\n    return H, H[T - 1]\n"),
        Answer("column-vector convention with transposes", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    X = np.asarray(X)\n    if X.shape[0] < 1:\n        raise ValueError('empty sequence')\n"
               "    h = np.zeros((W_hh.shape[0],)) if h0 is None else h0.copy()\n    H = []\n"
               "    for t in range(len(X)):\n        h = np.tanh(W_xh.T @ X[t] + W_hh.T @ h + b_h)\n"
               "        H.append(h.copy())\n    return np.array(H), h\n"),
        Answer("torch at the boundary", "import torch\n\ndef rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    X, W_xh, W_hh, b_h = (torch.as_tensor(np.asarray(a, float)) for a in (X, W_xh, W_hh, b_h))\n"
               "    if X.shape[0] == 0:\n        raise ValueError('X must have at least one row')\n"
               "    h = torch.zeros(W_hh.shape[0], dtype=X.dtype) if h0 is None else torch.as_tensor(np.asarray(h0, float))\n"
               "    out = []\n    for x in X:\n        h = torch.tanh(x @ W_xh + h @ W_hh + b_h)\n        out.append(h)\n"
               "    H = torch.stack(out)\n    return H.numpy(), H[-1].numpy()\n"),
    ],
    "greedy_decode": [
        Answer("while loop, break before EOS", "def greedy_decode(step, c, bos, eos, max_len):\n"
               "    tokens, prev, state = [], bos, c\n    while len(tokens) < max_len:\n"
               "        logits, state = step(prev, state)\n        prev = int(np.argmax(logits))\n"
               "        if prev == eos:\n            break\n        tokens.append(prev)\n    return tokens\n"),
        Answer("for loop over max_len", "def greedy_decode(step, c, bos, eos, max_len):\n"
               "    out = []\n    token, hidden = bos, c\n    for _ in range(max_len):\n"
               "        scores, hidden = step(token, hidden)\n        token = np.argmax(scores).item()\n"
               "        if token == eos:\n            return out\n        out.append(token)\n    return out\n"),
        Answer("numpy ints kept, converted at the end", "def greedy_decode(step, c, bos, eos, max_len):\n"
               "    seq, state, last = [], c, bos\n    while len(seq) != max_len:\n"
               "        logits, state = step(last, state)\n        last = np.argmax(logits)\n"
               "        if last == eos:\n            break\n        seq.append(last)\n    return [int(t) for t in seq]\n"),
    ],
    "accuracy_by_length": [
        Answer("defaultdict counters", "from collections import defaultdict\n\n"
               "def accuracy_by_length(predictions, targets):\n    if len(predictions) != len(targets):\n"
               "        raise ValueError('predictions and targets differ in length')\n"
               "    right, seen = defaultdict(int), defaultdict(int)\n"
               "    for pred, tgt in zip(predictions, targets):\n        seen[len(tgt)] += 1\n"
               "        right[len(tgt)] += int(list(pred) == list(tgt))\n"
               "    return {n: right[n] / seen[n] for n in seen}\n"),
        Answer("numpy per length", "def accuracy_by_length(predictions, targets):\n"
               "    if len(predictions) != len(targets):\n        raise ValueError('length mismatch')\n"
               "    lengths = np.array([len(t) for t in targets], dtype=int)\n"
               "    exact = np.array([list(p) == list(t) for p, t in zip(predictions, targets)], dtype=float)\n"
               "    return {int(n): float(exact[lengths == n].mean()) for n in np.unique(lengths)}\n"),
        Answer("groups of matches", "def accuracy_by_length(predictions, targets):\n"
               "    if len(predictions) != len(targets):\n        raise ValueError(f'{len(predictions)} vs {len(targets)}')\n"
               "    groups = {}\n    for p, t in zip(predictions, targets):\n"
               "        groups.setdefault(len(t), []).append(tuple(p) == tuple(t))\n"
               "    return {n: sum(g) / len(g) for n, g in sorted(groups.items())}\n"),
    ],
}

WRONG = {
    "rnn_encode": [
        Answer("H built with np.array: IndexError on an empty input", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    h = np.zeros(W_hh.shape[0]) if h0 is None else h0\n    H = []\n    for x in X:\n"
               "        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        H.append(h)\n"
               "    H = np.array(H)\n    return H, H[-1]\n", {"analysis:wrong-exception"}),
        Answer("`h0 or zeros` on an array", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    if len(X) == 0:\n        raise ValueError('empty')\n"
               "    h = h0 if h0 else np.zeros(W_hh.shape[0])\n    H = []\n    for x in X:\n"
               "        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        H.append(h)\n    return np.array(H), h\n",
               {"analysis:edges-only"}),
        Answer("W_hh applied from the left", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    if len(X) == 0:\n        raise ValueError('empty')\n    h = np.zeros(len(b_h)) if h0 is None else h0\n"
               "    H = np.zeros((len(X), len(b_h)))\n    for i, x in enumerate(X):\n"
               "        h = np.tanh(np.dot(x, W_xh) + np.dot(W_hh, h) + b_h)\n        H[i] = h\n    return H, h\n",
               {"transposed-recurrent-weights"}),
        Answer("H starts with h0", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    if len(X) == 0:\n        raise ValueError('empty')\n    h = np.zeros(len(b_h)) if h0 is None else h0\n"
               "    H = [h]\n    for x in X:\n        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        H.append(h)\n"
               "    return np.array(H), H[-1]\n", {"includes-h0"}),
        Answer("states returned as a list", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    if len(X) == 0:\n        raise ValueError('empty')\n    h = np.zeros(len(b_h)) if h0 is None else h0\n"
               "    H = []\n    for x in X:\n        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        H.append(h)\n"
               "    return H, H[-1]\n", {"analysis:kind", "analysis:H:kind"}),
        Answer("context is the first state", "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n"
               "    if len(X) == 0:\n        raise ValueError('empty')\n    h = np.zeros(len(b_h)) if h0 is None else h0\n"
               "    H = []\n    for x in X:\n        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        H.append(h)\n"
               "    return np.array(H), H[0]\n", {"first-state-as-context"}),
    ],
    "greedy_decode": [
        Answer("appends before checking for EOS", "def greedy_decode(step, c, bos, eos, max_len):\n"
               "    out, tok, state = [], bos, c\n    for _ in range(max_len):\n"
               "        logits, state = step(tok, state)\n        tok = int(logits.argmax())\n        out.append(tok)\n"
               "        if tok == eos:\n            break\n    return out\n", {"includes-eos"}),
        Answer("do-while: at least one token", "def greedy_decode(step, c, bos, eos, max_len):\n"
               "    out, tok, state = [], bos, c\n    while True:\n        logits, state = step(tok, state)\n"
               "        tok = int(np.argmax(logits))\n        if tok == eos:\n            break\n        out.append(tok)\n"
               "        if len(out) >= max_len:\n            break\n    return out\n",
               {"analysis:edges-only", "one-too-many"}),
        Answer("the context is fed at every step", "def greedy_decode(step, c, bos, eos, max_len):\n"
               "    out, tok = [], bos\n    for _ in range(max_len):\n        logits, new_state = step(tok, c)\n"
               "        tok = int(np.argmax(logits))\n        if tok == eos:\n            break\n        out.append(tok)\n"
               "    return out\n", {"state-not-passed"}),
        Answer("range(max_len + 1)", "def greedy_decode(step, c, bos, eos, max_len):\n"
               "    out, tok, state = [], bos, c\n    for _ in range(max_len + 1):\n"
               "        logits, state = step(tok, state)\n        tok = int(np.argmax(logits))\n"
               "        if tok == eos:\n            break\n        out.append(tok)\n    return out\n",
               {"one-too-many", "analysis:sequence:late"}),
        Answer("bos kept at the front", "def greedy_decode(step, c, bos, eos, max_len):\n"
               "    seq, state = [bos], c\n    while len(seq) <= max_len:\n        logits, state = step(seq[-1], state)\n"
               "        nxt = int(np.argmax(logits))\n        if nxt == eos:\n            break\n        seq.append(nxt)\n"
               "    return seq\n", {"includes-bos"}),
    ],
    "accuracy_by_length": [
        Answer("percentages", "def accuracy_by_length(predictions, targets):\n"
               "    if len(predictions) != len(targets):\n        raise ValueError('mismatch')\n    acc = {}\n"
               "    for n in sorted({len(t) for t in targets}):\n"
               "        pairs = [(p, t) for p, t in zip(predictions, targets) if len(t) == n]\n"
               "        acc[n] = 100.0 * sum(p == t for p, t in pairs) / len(pairs)\n    return acc\n",
               {"percentages", "analysis:factor:100"}),
        Answer("zip silently drops extra predictions", "def accuracy_by_length(predictions, targets):\n"
               "    hits, totals = {}, {}\n    for p, t in zip(predictions, targets):\n"
               "        totals[len(t)] = totals.get(len(t), 0) + 1\n        hits[len(t)] = hits.get(len(t), 0) + (p == t)\n"
               "    return {n: hits[n] / totals[n] for n in totals}\n", {"analysis:missing-raise"}),
        Answer("elementwise comparison with zip", "def accuracy_by_length(predictions, targets):\n"
               "    if len(predictions) != len(targets):\n        raise ValueError('mismatch')\n    hits, totals = {}, {}\n"
               "    for p, t in zip(predictions, targets):\n        ok = all(a == b for a, b in zip(p, t))\n"
               "        totals[len(t)] = totals.get(len(t), 0) + 1\n        hits[len(t)] = hits.get(len(t), 0) + ok\n"
               "    return {n: hits[n] / totals[n] for n in totals}\n", {"prefix-counts-as-match"}),
        Answer("grouped by the prediction's length", "def accuracy_by_length(predictions, targets):\n"
               "    if len(predictions) != len(targets):\n        raise ValueError('mismatch')\n    groups = {}\n"
               "    for p, t in zip(predictions, targets):\n        groups.setdefault(len(p), []).append(p == t)\n"
               "    return {n: sum(v) / len(v) for n, v in groups.items()}\n", {"groups-by-prediction-length"}),
        Answer("lengths as string keys", "def accuracy_by_length(predictions, targets):\n"
               "    if len(predictions) != len(targets):\n        raise ValueError('mismatch')\n    groups = {}\n"
               "    for p, t in zip(predictions, targets):\n        groups.setdefault(str(len(t)), []).append(p == t)\n"
               "    return {n: sum(v) / len(v) for n, v in groups.items()}\n", {"analysis:keys"}),
    ],
}
