"""Issue 9: an exercise that receives a torch layer to copy from (`load_from_torch`) gives nothing for
delegating to that layer: keeping it, registering it as a submodule, copying it whole, or hiding a copy.

Each delegating answer is first shown to reproduce the torch layer when delegation is not prevented (so
it is a real attack), then graded through the whole pipeline, where it must earn no point of its exercise
while the reference still earns all of them."""

from __future__ import annotations

import json

import pytest
import torch

from attnbook.grading.checks import Assignment
from attnbook.grading.runner import grade_folder
from attnbook.grading.sandbox import Limits
from conftest import ROOT
from make_samples import submission

MHA_FORWARD = '''
    def forward(self, query, key, value, mask=None):
        blocked = None
        if mask is not None:
            blocked = ~torch.as_tensor(mask, dtype=torch.bool)
            if blocked.dim() == 3:
                blocked = blocked.expand(query.shape[0], query.shape[1], key.shape[1])
                blocked = blocked.repeat_interleave(self.num_heads, 0)
        return self.LAYER(query, key, value, attn_mask=blocked, need_weights=True, average_attn_weights=False)
'''
BLOCK_FORWARD = '''
    def forward(self, x, memory, memory_mask=None):
        T = x.shape[1]
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        padding = None if memory_mask is None else ~memory_mask.bool()
        return self.LAYER(x, memory, tgt_mask=future, memory_key_padding_mask=padding)
'''
HEADS = {"MultiHeadAttention": "class MultiHeadAttention(nn.Module):\n    def __init__(self, embed_dim, num_heads):\n"
                               "        super().__init__()\n        self.num_heads = num_heads\n",
         "DecoderBlock": "class DecoderBlock(nn.Module):\n    def __init__(self, d_model, num_heads, d_ff):\n"
                         "        super().__init__()\n"}
KEEPS = {  # how load_from_torch keeps the layer, and how forward reaches it
    "keeps_a_reference": ("self.__dict__['_layer'] = layer", "self._layer"),
    "registers_it_as_a_submodule": ("self.inner = layer", "self.inner"),
    "copies_it_whole": ("self.inner = copy.deepcopy(layer)", "self.inner"),
    "hides_a_copy_in_a_list": ("self._hidden = [copy.deepcopy(layer)]", "self._hidden[0]"),
    "hides_its_parameters_and_keeps_it": ("layer.parameters = lambda *a, **k: iter(()); self.__dict__['_l'] = layer",
                                          "self._l"),
    "hides_a_copy_with_its_own_forward": ("c = copy.deepcopy(layer); c.forward = type(layer).forward.__get__(c); "
                                          "_HIDDEN.append(c)", "_HIDDEN[-1]"),
}
CASES = [("ch06_multi_head", "MultiHeadAttention", MHA_FORWARD),
         ("ch08_attention_vs_self", "DecoderBlock", BLOCK_FORWARD)]


def delegating(exercise: str, forward: str, keep: str) -> str:
    store, reach = KEEPS[keep]
    return ("import copy\n_HIDDEN = []\n" + HEADS[exercise] + "\n    def load_from_torch(self, layer):\n        "
            + store + "\n" + forward.replace("self.LAYER", reach))


def _layer_and_inputs(exercise: str):
    torch.manual_seed(0)
    if exercise == "MultiHeadAttention":
        layer = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
        q, kv = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
        return layer, {"embed_dim": 8, "num_heads": 2}, (q, kv, kv), layer(q, kv, kv, average_attn_weights=False)[0]
    layer = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    x, memory = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    future = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
    return layer, {"d_model": 8, "num_heads": 2, "d_ff": 16}, (x, memory), layer(x, memory, tgt_mask=future)


@pytest.mark.parametrize("keep", KEEPS)
@pytest.mark.parametrize("assignment, exercise, forward", CASES)
def test_each_delegating_answer_reproduces_the_layer_when_nothing_prevents_it(assignment, exercise, forward, keep):
    ns = {"torch": torch, "nn": torch.nn}
    exec(delegating(exercise, forward, keep), ns)
    layer, init, inputs, expected = _layer_and_inputs(exercise)
    module = ns[exercise](**init)
    module.load_from_torch(layer)
    with torch.no_grad():
        got = module(*inputs)
    assert torch.allclose(got[0] if isinstance(got, tuple) else got, expected, atol=1e-6)


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def graded(request, tmp_path_factory):
    name, exercise, forward = request.param
    assignment = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
    released = json.loads((ROOT / "notebooks" / name / f"{name}.ipynb").read_text())
    root = tmp_path_factory.mktemp(name)
    answers = {"reference": assignment.reference_answers}
    answers |= {keep: {**assignment.reference_answers, exercise: delegating(exercise, forward, keep)} for keep in KEEPS}
    for student, cells in answers.items():
        path = root / "submitted" / student / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(submission(released, cells)))
    results = grade_folder(assignment, root / "submitted", root / "out", "s", Limits())
    return exercise, {r.student: {e.name: e for e in r.exercises} for r in results}


def test_delegating_to_the_given_layer_earns_nothing(graded):
    exercise, results = graded
    assert results["reference"][exercise].points == results["reference"][exercise].max_points
    for keep in KEEPS:
        result = results[keep][exercise]
        assert result.points == 0, (keep, [(c.label, c.message) for c in result.checks])
        assert all("torch.nn." in c.message or "differs" in c.message for c in result.checks), keep


@pytest.mark.parametrize("assignment, exercise, forward", CASES)
def test_the_graders_trusted_path_gives_the_reference_the_same_outputs(assignment, exercise, forward):
    from attnbook.grading import drivers

    graded = Assignment(assignment, ROOT / "solutions", ROOT / "autograde" / "checks")
    for case in graded.cases(11)[exercise]:
        checked = drivers.module_loaded_from_torch(graded.reference_ns, exercise, [], case.kwargs)
        trusted = drivers.module_loaded_from_torch(graded.reference_ns, exercise, [], case.kwargs, trusted=True)
        pairs = zip(*(v if isinstance(v, tuple) else (v,) for v in (checked, trusted)))
        assert all((a == b).all() for a, b in pairs)
