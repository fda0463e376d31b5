#!/usr/bin/env python3
"""The peer of tools/bench/bench_train_step.cpp: timm's own model and training step on the same torch
(.venv's torch 2.15 and timm 1.0.31, from tools/python_env.sh --torch), eager or torch.compile'd.
The step is the same as tervit's: forward, cross-entropy, backward, AdamW (timm's create_optimizer_v2,
DeiT's no-decay groups), synthetic input, median milliseconds per step for each thread count.

    .venv/bin/python tools/bench_train_step_timm.py --model deit_tiny_patch16_224 --batch 32 --threads 1,2 --steps 5 [--compile]
"""
import argparse
import statistics
import time

import timm
import timm.optim
import torch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deit_tiny_patch16_224")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = timm.create_model(args.model).train()
    optimizer = timm.optim.create_optimizer_v2(model, opt="adamw", lr=5e-4, weight_decay=0.05)
    forward = torch.compile(model) if args.compile else model
    images = torch.randn(args.batch, 3, 224, 224)
    labels = torch.randint(1000, (args.batch,))

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(forward(images), labels).backward()
        optimizer.step()

    mode = "compiled" if args.compile else "eager"
    print(f"{'model':<24} {'batch':>6} {'threads':>8} {'timm ' + mode + ' ms/step':>22}")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        step()  # warm-up: allocations, the thread pool, and compilation
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            step()
            times.append((time.perf_counter() - start) * 1000)
        print(f"{args.model:<24} {args.batch:>6} {threads:>8} {statistics.median(times):>22.1f}", flush=True)


if __name__ == "__main__":
    main()
