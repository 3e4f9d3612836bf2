"""Realistic answers to chapter 2: additive_scores, attention_context, AdditiveAttention."""

from corpus import Answer

INIT = ("class AdditiveAttention(nn.Module):\n"
        "    def __init__(self, query_dim, key_dim, attn_dim):\n        super().__init__()\n"
        "        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)\n"
        "        self.W_k = nn.Linear(key_dim, attn_dim, bias=False)\n"
        "        self.v = nn.Linear(attn_dim, 1, bias=False)\n\n"
        "    def forward(self, query, keys, mask=None):\n")


def module(body: str) -> str:
    """Return the AdditiveAttention cell with the given forward body (8-space indented lines)."""
    return INIT + body


CORRECT = {
    "additive_scores": [
        Answer("np.dot throughout", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    return np.dot(np.tanh(np.dot(H, W_h) + np.dot(s, W_s)), v)\n"),
        Answer("a loop over encoder states", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    query = s @ W_s\n    return np.array([v @ np.tanh(query + h @ W_h) for h in H])\n"),
        Answer("einsum", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    hidden = np.tanh(np.einsum('d,da->a', s, W_s)[None, :] + np.einsum('td,da->ta', H, W_h))\n"
               "    return np.einsum('ta,a->t', hidden, v)\n"),
        Answer("torch at the boundary", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    s, H, W_s, W_h, v = (torch.as_tensor(np.asarray(a, float)) for a in (s, H, W_s, W_h, v))\n"
               "    return (torch.tanh(s @ W_s + H @ W_h) @ v).numpy()\n"),
    ],
    "attention_context": [
        Answer("max shift, H.T @ alpha", "def attention_context(e, H):\n    e = np.asarray(e, float)\n"
               "    w = np.exp(e - e.max())\n    alpha = w / np.sum(w)\n    return alpha, H.T @ alpha\n"),
        Answer("log-sum-exp", "def attention_context(e, H):\n    m = np.max(e)\n"
               "    log_z = m + np.log(np.sum(np.exp(e - m)))\n    alpha = np.exp(e - log_z)\n"
               "    return alpha, np.sum(alpha[:, None] * H, axis=0)\n"),
        Answer("torch.softmax at the boundary", "def attention_context(e, H):\n"
               "    alpha = torch.softmax(torch.as_tensor(np.asarray(e, float)), dim=0)\n"
               "    c = alpha @ torch.as_tensor(np.asarray(H, float))\n    return alpha.numpy(), c.numpy()\n"),
        Answer("float32", "def attention_context(e, H):\n    e = np.asarray(e, np.float32)\n"
               "    z = np.exp(e - e.max())\n    alpha = z / z.sum()\n    return alpha, alpha @ np.asarray(H, np.float32)\n"),
    ],
    "AdditiveAttention": [
        Answer("masked_fill with -inf and bmm", module(
            "        q = self.W_q(query).unsqueeze(1)\n        e = self.v(torch.tanh(q + self.W_k(keys))).squeeze(-1)\n"
            "        if mask is not None:\n            e = e.masked_fill(mask == 0, float('-inf'))\n"
            "        a = torch.softmax(e, dim=1)\n        return torch.bmm(a.unsqueeze(1), keys).squeeze(1), a\n")),
        Answer("-1e9 fill (every row has a real token)", module(
            "        e = self.v(torch.tanh(self.W_q(query)[:, None] + self.W_k(keys)))[..., 0]\n"
            "        if mask is not None:\n            e = e.masked_fill(~mask, -1e9)\n"
            "        a = torch.softmax(e, dim=-1)\n        return (a.unsqueeze(-1) * keys).sum(dim=1), a\n")),
        Answer("torch.where and einsum", module(
            "        scores = self.v(torch.tanh(self.W_k(keys) + self.W_q(query).unsqueeze(-2))).squeeze(-1)\n"
            "        if mask is not None:\n"
            "            scores = torch.where(mask, scores, torch.full_like(scores, float('-inf')))\n"
            "        weights = torch.nn.functional.softmax(scores, dim=-1)\n"
            "        return torch.einsum('bt,btd->bd', weights, keys), weights\n")),
    ],
}

WRONG = {
    "additive_scores": [
        Answer("tanh forgotten", "def additive_scores(s, H, W_s, W_h, v):\n    return (H @ W_h + s @ W_s) @ v\n",
               {"scores-no-tanh"}),
        Answer("tanh of the final score", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    return np.tanh(np.dot(s @ W_s + H @ W_h, v))\n", {"tanh-after-v"}),
        Answer("hidden units summed", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    return np.sum(np.tanh(s @ W_s + H @ W_h), axis=1)\n", {"ignores-v"}),
        Answer("already a softmax", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    e = np.tanh(s @ W_s + H @ W_h) @ v\n    e = np.exp(e - e.max())\n    return e / e.sum()\n",
               {"normalised"}),
        Answer("scaled like dot-product attention", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    return np.tanh(s @ W_s + H @ W_h) @ v / np.sqrt(len(v))\n", {"analysis:factor:1/sqrt(d_a)"}),
        Answer("two separate tanh", "def additive_scores(s, H, W_s, W_h, v):\n"
               "    return np.tanh(H @ W_h) @ v + np.tanh(s @ W_s) @ v\n", {"tanh-separately"}),
    ],
    "attention_context": [
        Answer("no max shift", "def attention_context(e, H):\n"
               "    alpha = np.exp(e) / np.sum(np.exp(e))\n    return alpha, alpha @ H\n", {"unstable-softmax"}),
        Answer("shifted by the minimum", "def attention_context(e, H):\n"
               "    z = np.exp(e - np.min(e))\n    alpha = z / z.sum()\n    return alpha, alpha @ H\n",
               {"analysis:extremes-only"}),
        Answer("outputs swapped", "def attention_context(e, H):\n"
               "    z = np.exp(e - e.max())\n    alpha = z / z.sum()\n    return alpha @ H, alpha\n", {"analysis:order"}),
        Answer("context from the raw scores", "def attention_context(e, H):\n"
               "    z = np.exp(e - e.max())\n    return z / z.sum(), np.dot(e, H)\n", {"context-from-scores"}),
        Answer("exponentials not normalised", "def attention_context(e, H):\n"
               "    alpha = np.exp(e - np.max(e))\n    return alpha, H.T @ alpha\n", {"not-normalised"}),
    ],
    "AdditiveAttention": [
        Answer("softmax first, then mask and renormalise (underflows at 1e4)", module(
            "        scores = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))).squeeze(2)\n"
            "        weights = torch.softmax(scores, dim=-1)\n        if mask is not None:\n"
            "            weights = weights * mask\n            weights = weights / weights.sum(dim=-1, keepdim=True)\n"
            "        return torch.bmm(weights.unsqueeze(1), keys).squeeze(1), weights\n"),
               {"analysis:extremes-only"}),
        Answer("mask never used", module(
            "        e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))).squeeze(-1)\n"
            "        a = torch.softmax(e, dim=-1)\n        return torch.bmm(a.unsqueeze(1), keys).squeeze(1), a\n"),
               {"mask-ignored"}),
        Answer("scores multiplied by the mask", module(
            "        e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))).squeeze(-1)\n"
            "        if mask is not None:\n            e = e * mask\n"
            "        a = torch.softmax(e, dim=-1)\n        return torch.bmm(a.unsqueeze(1), keys).squeeze(1), a\n"),
               {"mask-filled-with-zero"}),
        Answer("weights zeroed after the softmax", module(
            "        e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))).squeeze(-1)\n"
            "        a = torch.softmax(e, dim=-1)\n        if mask is not None:\n            a = a.masked_fill(~mask, 0.0)\n"
            "        return torch.bmm(a.unsqueeze(1), keys).squeeze(1), a\n"), {"mask-after-softmax"}),
        Answer("softmax over dim 0", module(
            "        e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))).squeeze(-1)\n"
            "        if mask is not None:\n            e = e.masked_fill(~mask, float('-inf'))\n"
            "        a = torch.softmax(e, dim=0)\n        return torch.bmm(a.unsqueeze(1), keys).squeeze(1), a\n"),
               {"softmax-over-batch"}),
        Answer("squeeze() drops the T axis when T = 1", module(
            "        e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))).squeeze()\n"
            "        if mask is not None:\n            e = e.masked_fill(~mask, float('-inf'))\n"
            "        a = torch.softmax(e, dim=-1)\n        return (a.unsqueeze(-1) * keys).sum(1), a\n"),
               {"analysis:edges-only", "analysis:layout"}),
        Answer("mask used with PyTorch's padding convention", module(
            "        e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))).squeeze(-1)\n"
            "        if mask is not None:\n            e = e.masked_fill(mask, float('-inf'))\n"
            "        a = torch.softmax(e, dim=-1)\n        return torch.bmm(a.unsqueeze(1), keys).squeeze(1), a\n"),
               {"mask-inverted"}),
        Answer("projected keys summed", module(
            "        k = self.W_k(keys)\n        e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + k)).squeeze(-1)\n"
            "        if mask is not None:\n            e = e.masked_fill(~mask, float('-inf'))\n"
            "        a = torch.softmax(e, dim=-1)\n        return torch.bmm(a.unsqueeze(1), k).squeeze(1), a\n"),
               {"context-from-projected-keys"}),
    ],
}
