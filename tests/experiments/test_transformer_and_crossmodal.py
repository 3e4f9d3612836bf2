"""Chapter 8's package modules: the tiny Transformer (attnbook.experiments.transformer) and the cross-modal toy task
(attnbook.experiments.crossmodal). Small, untrained models only: these tests pin shapes and invariants, not accuracy."""

from __future__ import annotations

import numpy as np
import torch

from attnbook.experiments import crossmodal, data, training, transformer


def _tiny():
    torch.manual_seed(0)
    return transformer.TinyTransformer(data.vocab_size(5), transformer.TransformerConfig(d_model=16, nhead=2, d_ff=32))


def test_tiny_transformer_logits_have_one_row_per_decoder_input():
    model = _tiny().eval()
    batch = data.make_batch(data.reversal_pairs([[3, 4, 5], [6, 7, 3, 4, 5]]))
    logits = model(batch["src"], batch["tgt_in"])
    assert logits.shape == (2, batch["tgt_in"].shape[1], data.vocab_size(5))


def test_tiny_transformer_decoder_is_causal():
    model = _tiny().eval()
    batch = data.make_batch(data.reversal_pairs([[3, 4, 5, 6]]))
    with torch.no_grad():
        full = model(batch["src"], batch["tgt_in"])
        changed = batch["tgt_in"].clone()
        changed[0, -1] = 7
        other = model(batch["src"], changed)
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
    model = _tiny()
    losses = transformer.train_scheduled(model, setup, lr=1e-3, warmup=2)
    assert len(losses) == 3 and all(np.isfinite(losses))


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


def test_both_cross_modal_models_return_word_to_patch_weights():
    q = crossmodal.questions(np.random.default_rng(1), 5)
    for model in (crossmodal.WordToPatches(), crossmodal.ConcatenatedSelfAttention()):
        accuracy, weights = crossmodal.evaluate(model, q)
        assert 0.0 <= accuracy <= 1.0 and weights.shape == (5, 16)
        assert np.all(weights >= 0) and np.all(weights.sum(-1) <= 1 + 1e-5)
