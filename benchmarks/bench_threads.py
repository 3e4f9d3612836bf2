"""Measure chapter 7's parallelism claim (S18): a self-attention layer and a GRU encoder with 1 and 2 torch
threads, and on a GPU when one is present, the same way the chapter measures it (attnbook.experiments.layer_cost).

Usage: .venv/bin/python benchmarks/bench_threads.py [--n 1024] [--d 64] [--rounds 31]
Prints, per layer, the median wall time per thread count, the median speed-up of 2 threads over 1 with its
quartiles over rounds, and how many cores other programs kept busy before and after.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # as in the chapter: idle threads sleep, set before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

from attnbook.experiments import layer_cost  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1024, help="sequence length")
    parser.add_argument("--d", type=int, default=64, help="width of both layers")
    parser.add_argument("--rounds", type=int, default=31, help="timed rounds")
    args = parser.parse_args()
    layers = {"self-attention": layer_cost.attention_layer(args.n, args.d),
              "GRU encoder": layer_cost.gru_encoder(args.n, args.d)}
    before = layer_cost.busy_cores()
    wall = layer_cost.wall_times_by_threads(layers, threads=(1, 2), rounds=args.rounds)
    after = layer_cost.busy_cores()
    print(f"n = {args.n}, d = {args.d}, {args.rounds} rounds, {layer_cost.usable_cores()} cores; "
          f"other programs kept {before:.2f} cores busy before, {after:.2f} after")
    for name in layers:
        low, mid, high = layer_cost.quartiles(layer_cost.speedups(wall[name, 1], wall[name, 2]))
        print(f"{name:15s} 1 thread {1e3 * np.median(wall[name, 1]):7.2f} ms, 2 threads "
              f"{1e3 * np.median(wall[name, 2]):7.2f} ms; speed-up {mid:.2f} (quartiles {low:.2f} to {high:.2f})")
    if torch.cuda.is_available():
        gpu_layers = {"self-attention": layer_cost.attention_layer(args.n, args.d, device="cuda"),
                      "GRU encoder": layer_cost.gru_encoder(args.n, args.d, device="cuda")}
        gpu = layer_cost.gpu_wall_times(gpu_layers, rounds=args.rounds)
        for name in layers:
            print(f"{name:15s} GPU ({torch.cuda.get_device_name()}) {1e3 * np.median(gpu[name]):7.3f} ms; "
                  f"{np.median(wall[name, 1]) / np.median(gpu[name]):.1f} times one CPU thread")
    else:
        print("no GPU: the GPU timing was skipped")


if __name__ == "__main__":
    main()
