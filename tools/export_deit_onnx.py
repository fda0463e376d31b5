#!/usr/bin/python3
"""Exports deit_small_patch16_224 (or deit_tiny) with random weights to ONNX (opset 17) for the ONNX Runtime
peer of tervit's fp32 speed (tools/bench_onnxruntime.py). The architecture is the one written out in
tools/bench_train_step_torch.py (timm's, as Debian ships no timm); run with Debian's python3-torch:

    /usr/bin/python3 tools/export_deit_onnx.py --model deit_small_patch16_224 --out out/deit_small.onnx
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_step_torch import DeiT  # noqa: E402

SIZES = {"deit_tiny_patch16_224": (192, 3), "deit_small_patch16_224": (384, 6), "deit_base_patch16_224": (768, 12)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deit_small_patch16_224", choices=sorted(SIZES))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    dim, heads = SIZES[args.model]
    model = DeiT(dim=dim, heads=heads).eval()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), args.out, opset_version=17, input_names=["images"],
                          output_names=["logits"], dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    print(f"{args.model} -> {args.out}")


if __name__ == "__main__":
    main()
