"""Hidden checks for chapter 1: rnn_encode, greedy_decode, accuracy_by_length."""

import numpy as np

from attnbook.grading.drivers import next_table_state
from attnbook.grading.spec import Case, Exercise, Mistake
from attnbook.i18n import t


def rnn_encode_cases(rng):
    cases = []
    for T, d_in, d_h in [(5, 3, 4), (7, 4, 2), (12, 3, 5)]:
        X = rng.normal(size=(T, d_in))
        W_xh, W_hh = rng.normal(scale=0.7, size=(d_in, d_h)), rng.normal(scale=0.7, size=(d_h, d_h))
        b_h = rng.normal(scale=0.5, size=d_h)
        cases.append(Case(t("random input, T={T}, d_in={d_in}, d_h={d_h}", T=T, d_in=d_in, d_h=d_h), (X, W_xh, W_hh, b_h)))
    X, W_xh, W_hh, b_h = (rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(2, 2)),
                          rng.normal(size=2))
    cases.append(Case(t("a single step, T=1"), (X[:1], W_xh, W_hh, b_h), family="edges"))
    cases.append(Case(t("given initial state h0"), (X, W_xh, W_hh, b_h), {"h0": rng.normal(size=2)}, family="edges"))
    cases.append(Case(t("large inputs (tanh saturates)"), (50 * X, W_xh, W_hh, b_h), family="extremes"))
    cases.append(Case(t("empty input T=0 raises ValueError"), (np.zeros((0, 3)), W_xh, W_hh, b_h), raises="ValueError"))
    return cases


def _eos_at_step(rng, k, states=9, vocab=6, eos=2, bos=1):
    """Return a logit table whose greedy decoding from state 0 emits EOS exactly at step k (k >= 1)."""
    table = rng.normal(size=(states, vocab))
    table[:, eos] = -10.0
    state, fed, seen = 0, bos, []                          # step(fed, state) -> (table[state], next state)
    for _ in range(k - 1):
        seen.append(state)
        state, fed = next_table_state(state, fed, states), int(np.argmax(table[state]))
    if state in seen:                                      # a cycle: retry with other random logits
        return _eos_at_step(rng, k, states, vocab, eos, bos)
    table[state, eos] = 10.0
    return table


def greedy_decode_cases(rng):
    cases = []
    for max_len in (4, 9, 15):
        table, start = rng.normal(size=(7, 6)), int(rng.integers(7))
        table[start, 2] = -10.0                            # the first token is never EOS: the output is not empty
        cases.append(Case(t("random decoder, max_len={max_len}", max_len=max_len), (table, start, 1, 2, max_len),
                          driver="call_with_step_table"))
    cases.append(Case(t("random decoder, max_len=1"), (rng.normal(size=(7, 6)), int(rng.integers(7)), 1, 2, 1),
                      driver="call_with_step_table", family="edges"))
    table = rng.normal(size=(5, 6))
    table[:, 2] = -10.0                                    # never emits EOS: stops at max_len
    cases.append(Case(t("decoder that never emits EOS"), (table, 0, 1, 2, 6), driver="call_with_step_table",
                      family="edges"))
    cases.append(Case(t("decoder that emits EOS after a few steps"), (_eos_at_step(rng, 4), 0, 1, 2, 20),
                      driver="call_with_step_table", family="edges"))
    cases.append(Case(t("max_len=0 gives an empty list"), (table, 0, 1, 2, 0), driver="call_with_step_table",
                      family="edges"))
    return cases


def _sequences(rng, n):
    targets = [rng.integers(0, 5, size=int(rng.integers(1, 6))).tolist() for _ in range(n)]
    preds = []
    for target in targets:
        kind = rng.integers(4)
        if kind == 0:
            preds.append(list(target))                     # exact
        elif kind == 1:
            preds.append(target[:-1])                      # a prefix
        elif kind == 2:
            preds.append(target + [int(rng.integers(5))])  # one token too many
        else:
            p = list(target)
            p[int(rng.integers(len(p)))] += 1              # one wrong token
            preds.append(p)
    return preds, targets


def accuracy_by_length_cases(rng):
    cases = [Case(t("random predictions #{i}", i=i + 1), _sequences(rng, n)) for i, n in enumerate((12, 30, 60))]
    cases.append(Case(t("no sequences at all"), ([], []), family="edges", public=True))
    cases.append(Case(t("different numbers of predictions and targets raises ValueError"),
                      ([[1]], [[1], [2]]), raises="ValueError", public=True))
    return cases


RNN_HEADER = "def rnn_encode(X, W_xh, W_hh, b_h, h0=None):\n    X = np.asarray(X, dtype=float)\n" \
             "    if len(X) == 0:\n        raise ValueError('empty')\n" \
             "    h = np.zeros(W_hh.shape[0]) if h0 is None else h0\n    H = []\n    for x in X:\n"

RNN_MISTAKES = (
    Mistake("no-recurrence", t("The previous state is never used: each h_t must include h_{t-1} @ W_hh."),
            RNN_HEADER + "        h = np.tanh(x @ W_xh + b_h)\n        H.append(h)\n    H = np.array(H)\n    return H, H[-1]\n"),
    Mistake("no-bias", t("The bias b_h is missing from the update."),
            RNN_HEADER + "        h = np.tanh(x @ W_xh + h @ W_hh)\n        H.append(h)\n    H = np.array(H)\n    return H, H[-1]\n"),
    Mistake("no-tanh", t("The tanh non-linearity is missing: the states are linear in the inputs."),
            RNN_HEADER + "        h = x @ W_xh + h @ W_hh + b_h\n        H.append(h)\n    H = np.array(H)\n    return H, H[-1]\n"),
    Mistake("transposed-recurrent-weights", t("The recurrent weights are transposed: with row vectors the "
            "update uses h_{t-1} @ W_hh, not W_hh @ h_{t-1}."),
            RNN_HEADER + "        h = np.tanh(x @ W_xh + W_hh @ h + b_h)\n        H.append(h)\n    H = np.array(H)\n    return H, H[-1]\n"),
    Mistake("first-state-as-context", t("The context vector must be the last state h_T (H[-1]), not the first."),
            RNN_HEADER + "        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        H.append(h)\n    H = np.array(H)\n    return H, H[0]\n"),
    Mistake("ignores-h0", t("The given initial state h0 is ignored: start from h0 when it is not None."),
            RNN_HEADER.replace("np.zeros(W_hh.shape[0]) if h0 is None else h0", "np.zeros(W_hh.shape[0])")
            + "        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        H.append(h)\n    H = np.array(H)\n    return H, H[-1]\n"),
    Mistake("includes-h0", t("H includes the initial state h_0 as its first row: H holds h_1, ..., h_T, one row per "
            "input step."), RNN_HEADER.replace("H = []", "H = [h]")
            + "        h = np.tanh(x @ W_xh + h @ W_hh + b_h)\n        H.append(h)\n    H = np.array(H)\n    return H, H[-1]\n"),
    Mistake("bias-outside-tanh", t("The bias is added after the tanh: it belongs inside, tanh(x_t W_xh + h_{t-1} W_hh "
            "+ b_h)."), RNN_HEADER + "        h = np.tanh(x @ W_xh + h @ W_hh) + b_h\n        H.append(h)\n"
            "    H = np.array(H)\n    return H, H[-1]\n"),
)

DECODE_MISTAKES = (
    Mistake("includes-eos", t("The end token is included in the output: stop before appending it."),
            "def greedy_decode(step, c, bos, eos, max_len):\n    out, prev, state = [], bos, c\n"
            "    while len(out) < max_len:\n        logits, state = step(prev, state)\n"
            "        prev = int(np.argmax(logits))\n        out.append(prev)\n        if prev == eos:\n"
            "            break\n    return out\n"),
    Mistake("always-bos", t("The start token is fed at every step: feed back the token predicted last."),
            "def greedy_decode(step, c, bos, eos, max_len):\n    out, state = [], c\n"
            "    while len(out) < max_len:\n        logits, state = step(bos, state)\n"
            "        tok = int(np.argmax(logits))\n        if tok == eos:\n            break\n"
            "        out.append(tok)\n    return out\n"),
    Mistake("state-not-passed", t("The decoder state is not carried forward: pass each new_state to the next step."),
            "def greedy_decode(step, c, bos, eos, max_len):\n    out, prev = [], bos\n"
            "    while len(out) < max_len:\n        logits, _ = step(prev, c)\n"
            "        prev = int(np.argmax(logits))\n        if prev == eos:\n            break\n"
            "        out.append(prev)\n    return out\n"),
    Mistake("one-too-many", t("Decoding runs one step past max_len."),
            "def greedy_decode(step, c, bos, eos, max_len):\n    out, prev, state = [], bos, c\n"
            "    while len(out) <= max_len:\n        logits, state = step(prev, state)\n"
            "        prev = int(np.argmax(logits))\n        if prev == eos:\n            break\n"
            "        out.append(prev)\n    return out\n"),
    Mistake("argmin", t("The smallest logit is taken instead of the largest (use np.argmax)."),
            "def greedy_decode(step, c, bos, eos, max_len):\n    out, prev, state = [], bos, c\n"
            "    while len(out) < max_len:\n        logits, state = step(prev, state)\n"
            "        prev = int(np.argmin(logits))\n        if prev == eos:\n            break\n"
            "        out.append(prev)\n    return out\n"),
    Mistake("includes-bos", t("The start token is part of the output: the output holds only the predicted tokens."),
            "def greedy_decode(step, c, bos, eos, max_len):\n    out, prev, state = [bos], bos, c\n"
            "    while len(out) <= max_len:\n        logits, state = step(prev, state)\n"
            "        prev = int(np.argmax(logits))\n        if prev == eos:\n            break\n"
            "        out.append(prev)\n    return out\n"),
    Mistake("skips-eos", t("An end token is skipped and decoding goes on: stop at the first end token (break, not "
            "continue)."),
            "def greedy_decode(step, c, bos, eos, max_len):\n    out, prev, state = [], bos, c\n"
            "    for _ in range(max_len):\n        logits, state = step(prev, state)\n"
            "        prev = int(np.argmax(logits))\n        if prev == eos:\n            continue\n"
            "        out.append(prev)\n    return out\n"),
)

ACC_HEADER = "def accuracy_by_length(predictions, targets):\n    if len(predictions) != len(targets):\n" \
             "        raise ValueError('lengths differ')\n    hits, totals = {}, {}\n" \
             "    for p, t in zip(predictions, targets):\n"

ACC_MISTAKES = (
    Mistake("groups-by-prediction-length", t("Predictions are grouped by their own length: group by the target's length."),
            ACC_HEADER + "        n = len(p)\n        totals[n] = totals.get(n, 0) + 1\n"
            "        hits[n] = hits.get(n, 0) + (list(p) == list(t))\n    return {n: hits[n] / totals[n] for n in totals}\n"),
    Mistake("prefix-counts-as-match", t("A prediction that is only a prefix (or extension) of the target counts as a "
            "match: compare whole sequences, lengths included (zip stops at the shorter one)."),
            ACC_HEADER + "        n = len(t)\n        totals[n] = totals.get(n, 0) + 1\n"
            "        hits[n] = hits.get(n, 0) + all(a == b for a, b in zip(p, t))\n"
            "    return {n: hits[n] / totals[n] for n in totals}\n"),
    Mistake("token-accuracy", t("This is token-level accuracy: the metric is the fraction of whole sequences that match exactly."),
            ACC_HEADER + "        n = len(t)\n        totals[n] = totals.get(n, 0) + len(t)\n"
            "        hits[n] = hits.get(n, 0) + sum(a == b for a, b in zip(p, t))\n"
            "    return {n: hits[n] / totals[n] for n in totals}\n"),
    Mistake("percentages", t("The rates are percentages: return fractions between 0 and 1."),
            ACC_HEADER + "        n = len(t)\n        totals[n] = totals.get(n, 0) + 1\n"
            "        hits[n] = hits.get(n, 0) + (list(p) == list(t))\n    return {n: 100 * hits[n] / totals[n] for n in totals}\n"),
    Mistake("counts-not-rates", t("These are counts of matches: divide by the number of targets of that length."),
            ACC_HEADER + "        n = len(t)\n        totals[n] = totals.get(n, 0) + 1\n"
            "        hits[n] = hits.get(n, 0) + (list(p) == list(t))\n    return {n: hits[n] for n in totals}\n"),
)

EXERCISES = [
    Exercise("rnn_encode", rnn_encode_cases, RNN_MISTAKES, outputs=("H", "c"),
             weights={"random": 0.625, "edges": 0.1875, "extremes": 0.0625, "arguments": 0.125}),
    Exercise("greedy_decode", greedy_decode_cases, DECODE_MISTAKES, weights={"random": 2 / 3, "edges": 1 / 3}),
    Exercise("accuracy_by_length", accuracy_by_length_cases, ACC_MISTAKES,
             weights={"random": 5 / 6, "edges": 1 / 12, "arguments": 1 / 12}),
]
