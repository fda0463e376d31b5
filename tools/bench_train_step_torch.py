#!/usr/bin/python3
"""The Python reference for tervit's training step (tools/bench/bench_train_step.cpp): the same
deit_tiny_patch16_224 (timm's architecture, written out here because Debian ships no timm), the same
step (forward, cross-entropy, backward, AdamW with DeiT's parameter groups), batch 32, synthetic
input, median milliseconds per step for each thread count.

    /usr/bin/python3 tools/bench_train_step_torch.py --batch 32 --threads 1,2 --steps 5
"""
import argparse
import statistics
import time

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DeiT(nn.Module):
    def __init__(self, img=224, patch=16, dim=192, depth=12, heads=3, classes=1000):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (img // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, images):
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def parameter_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name in ("pos_embed", "cls_token") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = DeiT()
    optimizer = torch.optim.AdamW(parameter_groups(model, 0.05), lr=5e-4, eps=1e-8)
    images = torch.randn(args.batch, 3, 224, 224)
    labels = torch.randint(1000, (args.batch,))
    print(f"{'model':<24} {'batch':>6} {'threads':>8} {'python ms/step':>15}")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        times = []
        for i in range(args.steps + 1):  # the first step warms up allocations and the thread pool
            start = time.perf_counter()
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()
            if i > 0:
                times.append((time.perf_counter() - start) * 1000)
        print(f"{'deit_tiny_patch16_224':<24} {args.batch:>6} {threads:>8} {statistics.median(times):>15.1f}", flush=True)


if __name__ == "__main__":
    main()
