"""Chapter 8's package modules: the small Transformers (attnbook.experiments.transformer), the deep stacks
(attnbook.experiments.stacks) and the cross-modal toy task (attnbook.experiments.crossmodal). Small, untrained
models and a few training steps only: these tests pin shapes and invariants, not accuracy."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

import pytest

from attnbook.experiments import crossmodal, data, stacks, training, transformer

SMALL = transformer.TransformerConfig(d_model=16, nhead=2, d_ff=32)


def _tiny(**options):
    torch.manual_seed(0)
    return transformer.TinyTransformer(data.vocab_size(5), dataclasses.replace(SMALL, **options))


def _decoder_only():
    torch.manual_seed(0)
    return transformer.DecoderOnlyTransformer(data.vocab_size(5), SMALL)


def test_tiny_transformer_logits_have_one_row_per_decoder_input():
    model = _tiny().eval()
    batch = data.make_batch(data.reversal_pairs([[3, 4, 5], [6, 7, 3, 4, 5]]))
    logits = model(batch["src"], batch["tgt_in"])
    assert logits.shape == (2, batch["tgt_in"].shape[1], data.vocab_size(5))


def _with_last_target_changed(model) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the model's logits for one reversal pair, and again with the last target input changed."""
    batch = data.make_batch(data.reversal_pairs([[3, 4, 5, 6]]))
    changed = batch["tgt_in"].clone()
    changed[0, -1] = 7
    with torch.no_grad():
        return model(batch["src"], batch["tgt_in"]), model(batch["src"], changed)


def test_tiny_transformer_decoder_is_causal():
    full, other = _with_last_target_changed(_tiny().eval())
    torch.testing.assert_close(full[:, :-1], other[:, :-1])


def test_tiny_transformer_ignores_source_padding():
    model = _tiny().eval()
    src = data.pad_batch([[3, 4, 5], [3, 4, 5, 6, 7, 3]])[:1]             # one sequence, padded to 6
    tgt = data.pad_batch([[5, 4, 3]], prefix=[data.BOS])
    with torch.no_grad():
        padded = model(src, tgt)
        unpadded = model(src[:, :3], tgt)
    torch.testing.assert_close(padded, unpadded, atol=1e-5, rtol=1e-5)


def test_generate_returns_token_lists_without_eos():
    model = _tiny().eval()
    tokens, weights = model.generate(data.pad_batch([[3, 4], [5, 6, 7]]), max_len=4)
    assert weights is None and len(tokens) == 2
    assert all(len(t) <= 4 and data.EOS not in t for t in tokens)


def test_attention_maps_have_every_block_and_rows_summing_to_one():
    model = _tiny().eval()
    batch = data.make_batch(data.reversal_pairs([[3, 4, 5], [6, 7, 3, 4]]))
    maps = transformer.attention_maps(model, batch["src"], batch["tgt_in"])
    assert not model.training                                            # the mode is restored
    S, T = batch["src"].shape[1], batch["tgt_in"].shape[1]
    assert maps["encoder self"].shape == (2, 2, 2, S, S)
    assert maps["decoder self"].shape == (2, 2, 2, T, T)
    assert maps["cross"].shape == (2, 2, 2, T, S)
    for m in maps.values():
        np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-5)
    assert np.all(maps["decoder self"][..., np.triu(np.ones((T, T), bool), k=1)] == 0)
    assert np.all(maps["cross"][:, 0, ..., 3:] == 0)                     # padding of the first source


def test_scheduled_training_runs_a_few_steps():
    setup = training.ReversalSetup(num_symbols=5, steps=3, batch_size=4, max_len=5)
    for model in (_tiny(), _tiny(norm_first=True), _decoder_only()):
        losses = transformer.train_scheduled(model, setup, lr=1e-3, warmup=2)
        assert len(losses) == 3 and all(np.isfinite(losses))


def test_pre_norm_stacks_end_with_a_layer_norm():
    assert isinstance(_tiny(norm_first=True).encoder_norm, transformer.layers.LayerNorm)
    assert isinstance(_tiny().encoder_norm, torch.nn.Identity)


def test_encoder_without_self_attention_reads_each_source_position_alone():
    model = _tiny(encoder_self_attention=False).eval()
    src = data.pad_batch([[3, 4, 5, 6]])
    with torch.no_grad():
        memory, _ = model.encode(src)
        changed, _ = model.encode(torch.tensor([[3, 4, 5, 7]]))
    torch.testing.assert_close(memory[:, :3], changed[:, :3])
    batch = data.make_batch(data.reversal_pairs([[3, 4, 5]]))
    assert set(transformer.attention_maps(model, batch["src"], batch["tgt_in"])) == {"decoder self", "cross"}


def test_decoder_only_model_is_causal_over_the_target():
    full, other = _with_last_target_changed(_decoder_only().eval())
    assert full.shape == (1, 5, data.vocab_size(5))
    torch.testing.assert_close(full[:, :-1], other[:, :-1])
    assert not torch.allclose(full[:, -1], other[:, -1])


def test_decoder_only_model_ignores_the_padding_between_source_and_target():
    model = _decoder_only().eval()
    src = data.pad_batch([[3, 4, 5], [3, 4, 5, 6, 7, 3]])[:1]             # padded to 6: 3 PADs before BOS
    tgt = data.pad_batch([[5, 4, 3]], prefix=[data.BOS])
    with torch.no_grad():
        torch.testing.assert_close(model(src, tgt), model(src[:, :3], tgt), atol=1e-5, rtol=1e-5)
    tokens, _ = model.generate(src, max_len=4)
    assert tokens == model.generate(src[:, :3], max_len=4)[0]


def test_decoder_only_attention_maps_cover_the_joint_sequence():
    model = _decoder_only().eval()
    batch = data.make_batch(data.reversal_pairs([[3, 4, 5], [6, 7, 3, 4]]))
    maps = transformer.attention_maps(model, batch["src"], batch["tgt_in"])
    n = batch["src"].shape[1] + batch["tgt_in"].shape[1]
    assert list(maps) == ["self"] and maps["self"].shape == (4, 2, 2, n, n)
    assert np.all(maps["self"][..., np.triu(np.ones((n, n), bool), k=1)] == 0)
    assert np.all(maps["self"][:, 0, :, :, 3] == 0)                         # the padding of the first source


def test_unknown_model_kind_is_refused():
    with pytest.raises(ValueError, match="decoder-only"):
        transformer.trained_scheduled("lstm", training.ReversalSetup(steps=1))


def test_stack_arrangements_train_a_step_and_predict_every_position(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path))
    setup = stacks.StackSetup(depth=2, d_model=8, nhead=2, d_ff=16, steps=2, batch_size=4, max_len=5)
    for arrangement in stacks.ARRANGEMENTS:
        model, losses = stacks.trained_stack(arrangement, setup)
        assert len(losses) == 2 and all(np.isfinite(losses))
        assert 0.0 <= stacks.token_accuracy(model, setup, n=20) <= 1.0
        src, target = stacks.mirror_batch(np.random.default_rng(0), 3, setup)
        assert model(src).shape == (*src.shape, data.vocab_size(setup.num_symbols))
        assert torch.equal(src != data.PAD, target != data.PAD)
    assert len(list(tmp_path.iterdir())) == 3                              # one cache entry per arrangement
    again, _ = stacks.trained_stack("pre-norm", setup)
    assert isinstance(again.norm, stacks.layers.LayerNorm)


def test_scenes_place_each_object_in_its_cell():
    q = crossmodal.questions(np.random.default_rng(0), 20)
    assert q["images"].shape == (20, 32, 32, 3) and q["patches"].shape == (20, 16, 192)
    brightest = q["patches"].max(-1)                                     # (20, 16)
    for b in range(20):
        assert set(np.argsort(brightest[b])[-3:]) == set(q["cells"][b])   # the three shapes are brightest
    assert np.all(q["word"] == q["colours"][np.arange(20), np.argmax(q["cells"] == q["cell"][:, None], 1)])


def test_patchify_reads_cells_row_by_row():
    images = np.zeros((1, 32, 32, 3))
    images[0, 8:16, 24:32] = 1.0                                          # row 1, column 3 -> patch 7
    patches = crossmodal.patchify(images)
    assert patches[0, 7].min() == 1.0 and patches[0].sum() == patches[0, 7].sum()


def test_every_cross_modal_model_returns_word_to_patch_weights():
    q = crossmodal.questions(np.random.default_rng(1), 5)
    for model in (cls() for cls in crossmodal.MODELS.values()):
        accuracy, weights = crossmodal.evaluate(model, q)
        assert 0.0 <= accuracy <= 1.0 and weights.shape == (5, 16)
        assert np.all(weights >= 0) and np.all(weights.sum(-1) <= 1 + 1e-5)
    _, uniform = crossmodal.evaluate(crossmodal.UniformAttention(), q)
    np.testing.assert_allclose(uniform, 1 / 16)


def test_uniform_attention_answer_depends_on_the_question():
    torch.manual_seed(0)
    model = crossmodal.UniformAttention()
    q = crossmodal.questions(np.random.default_rng(2), 1)
    patches = torch.from_numpy(np.repeat(q["patches"], 2, axis=0))
    logits, _ = model(torch.tensor([0, 1]), patches)
    assert not torch.allclose(logits[0], logits[1])


def test_trained_question_models_are_cached_per_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path))
    first, losses = crossmodal.trained_question_model("uniform attention", seed=3, steps=2, batch_size=8)
    again, cached = crossmodal.trained_question_model("uniform attention", seed=3, steps=2, batch_size=8)
    other, _ = crossmodal.trained_question_model("uniform attention", seed=4, steps=2, batch_size=8)
    assert losses == cached and len(losses) == 2 and len(list(tmp_path.iterdir())) == 2
    for name, p in first.state_dict().items():
        torch.testing.assert_close(p, again.state_dict()[name])
    assert not torch.equal(first.patch.weight, other.patch.weight)


def test_e10_models_are_trained_and_cached_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path))
    setup = training.ReversalSetup(num_symbols=5, steps=2, batch_size=4, max_len=5, emb_dim=8, hidden=8)
    kinds = {}
    for name in transformer.E10_MODELS:
        model, losses = transformer.trained_for_e10(name, setup, SMALL)
        assert len(losses) == 2 and not model.training
        kinds[name] = type(model).__name__
    assert kinds["no attention"] == kinds["control"] == "Seq2Seq" and kinds["decoder-only"] == "DecoderOnlyTransformer"
    ablated, _ = transformer.trained_for_e10("no encoder self-attention", setup, SMALL)
    assert all(layer.attention is None for layer in ablated.encoder)
    assert len(list(tmp_path.iterdir())) == len(transformer.E10_MODELS)
