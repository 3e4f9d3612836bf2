"""Chapter 7's cost helpers: FLOP counts, timers, memory and the thread timing (attnbook.experiments.layer_cost)."""

from __future__ import annotations

import io
import math
import os

import pytest
import torch

from attnbook.experiments import layer_cost


def test_flops_count_w_o_like_chapter_6_and_cross_at_n_equal_d():
    f = layer_cost.flops(128, 256)
    assert f["self-attention"] == 8 * 128 * 256**2 + 4 * 128**2 * 256          # chapter 6's attention_flops
    assert f["recurrent"] == 12 * 128 * 256**2
    assert layer_cost.flops(512, 512)["self-attention"] == pytest.approx(layer_cost.flops(512, 512)["recurrent"])
    assert layer_cost.flops(100, 512)["self-attention"] < layer_cost.flops(100, 512)["recurrent"]
    assert layer_cost.flops(1000, 512)["self-attention"] > layer_cost.flops(1000, 512)["recurrent"]


def test_attention_layer_is_single_head_attention_with_an_output_projection():
    n, d = 5, 4
    out = layer_cost.attention_layer(n, d, seed=3)()
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(n, d, generator=gen)
    Wq, Wk, Wv, Wo = (torch.randn(d, d, generator=gen) / math.sqrt(d) for _ in range(4))
    expected = torch.nn.functional.scaled_dot_product_attention(X @ Wq, X @ Wk, X @ Wv) @ Wo
    torch.testing.assert_close(out, expected)
    assert layer_cost.gru_encoder(n, d)().shape == (1, n, d)


def test_attention_peak_memory_grows_about_fourfold_when_n_doubles():
    small, large = layer_cost.attention_peak_bytes(256, 16), layer_cost.attention_peak_bytes(512, 16)
    assert large >= 2 * 512 * 512 * 8                                 # at least two n x n float64 arrays
    assert 3.2 < large / small < 4.5


def test_timers_return_positive_seconds():
    assert layer_cost.attention_forward_seconds(32, 8, repeats=1) > 0
    assert layer_cost.recurrent_forward_seconds(32, 8, repeats=1) > 0


def test_wall_times_by_threads_times_every_setting_each_round_and_restores_the_threads():
    before = torch.get_num_threads()
    seen = []
    layers = {"a": lambda: seen.append(("a", torch.get_num_threads())),
              "b": lambda: seen.append(("b", torch.get_num_threads()))}
    times = layer_cost.wall_times_by_threads(layers, threads=(1, 2), rounds=4, calls=3)
    assert set(times) == {("a", 1), ("a", 2), ("b", 1), ("b", 2)}
    assert all(len(t) == 4 and min(t) >= 0 for t in times.values())
    assert len(seen) == 4 * 4 * (1 + 3)                               # one untimed and three timed calls
    assert {seen[0], seen[4]} != {seen[0]}                            # the order rotates between rounds
    assert set(seen) == {("a", 1), ("a", 2), ("b", 1), ("b", 2)}       # each ran at its thread count
    assert torch.get_num_threads() == before


def test_speedups_and_quartiles():
    assert layer_cost.speedups([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
    assert layer_cost.quartiles([1, 2, 3, 4, 5]) == (2, 3, 4)


def test_busy_cores_reads_the_busy_share_of_proc_stat(monkeypatch):
    # two snapshots of the "cpu" line: 100 more ticks in all, 30 of them busy (user 20, system 10)
    lines = iter(["cpu  100 0 50 800 10 0 0 0 0 0\n", "cpu  120 0 60 860 20 0 0 0 0 0\n"])
    monkeypatch.setattr(layer_cost, "open", lambda path: io.StringIO(next(lines)), raising=False)
    monkeypatch.setattr(layer_cost.os, "cpu_count", lambda: 2)
    assert layer_cost.busy_cores(seconds=0) == pytest.approx(2 * 30 / 100)


def test_busy_cores_and_usable_cores_on_this_machine():
    assert layer_cost.usable_cores() >= 1
    assert 0 <= layer_cost.busy_cores(seconds=0.1) <= (os.cpu_count() or 1) + 1e-9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
def test_gpu_wall_times_on_a_gpu():
    layers = {"a": layer_cost.attention_layer(16, 8, device="cuda")}
    assert all(t > 0 for t in layer_cost.gpu_wall_times(layers, rounds=2, calls=1)["a"])
