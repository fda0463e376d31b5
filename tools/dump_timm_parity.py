#!/usr/bin/env python3
"""Golden training-step references from timm 1.0.31 on torch 2.15 (.venv, tools/python_env.sh --torch),
for tests/test_timm_parity.cpp: logits and every parameter's gradient of the shared mini models
(../shared/fixtures/timm, their weights), in full precision and with TerViT's channel-wise ternary
weights (method.md: Δ_c = 0.7 · mean|W_c|, α_c = mean of the |W_c| above Δ_c, straight-through
gradients) on every Linear and the patch embedding.

    .venv/bin/python tools/dump_timm_parity.py   # writes tests/fixtures/timm1/<model>.<weights>.safetensors

Each file holds `input`, `cotangent` (the step's loss is sum(logits * cotangent)), `logits` and
`grad.<timm parameter name>`, computed in train mode (no dropout, drop_path_rate 0) on one thread.
"""
import json
import pathlib

import safetensors.torch
import timm
import torch
from torch import nn
from torch.nn.utils import parametrize

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "fixtures" / "timm"
OUT = ROOT / "tests" / "fixtures" / "timm1"


class ChannelTernary(nn.Module):
    """W -> α_c · sign(W) · [|W| > Δ_c] per output channel, the gradient passed straight through."""

    def forward(self, weight):
        groups = weight.detach().reshape(weight.shape[0], -1)
        magnitude = groups.abs()
        kept = magnitude > 0.7 * magnitude.mean(1, keepdim=True)
        alpha = (magnitude * kept).sum(1, keepdim=True) / kept.sum(1, keepdim=True).clamp_min(1)
        quantized = (alpha * groups.sign() * kept).reshape(weight.shape)
        return weight + (quantized - weight).detach()


def fixture_model(name):
    weights = SHARED / f"{name}.safetensors"
    with open(weights, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    meta = header["__metadata__"]
    config = json.loads(meta["config"]) | {"drop_path_rate": 0.0}  # timm's Swin defaults to 0.1
    family = {"deit": timm.models.vision_transformer.VisionTransformer, "swin": timm.models.swin_transformer.SwinTransformer}
    model = family[meta["family"]](**config)
    model.load_state_dict(safetensors.torch.load_file(weights))
    return model.train()


def dump(name, weights):
    model = fixture_model(name)
    names = {id(p): n for n, p in model.named_parameters()}  # timm's names, before parametrization renames them
    if weights == "ternary":
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                parametrize.register_parametrization(module, "weight", ChannelTernary())
    io = safetensors.torch.load_file(SHARED / f"{name}.io.safetensors")
    images = io["input"]
    generator = torch.Generator().manual_seed(1)
    logits = model(images)
    cotangent = torch.randn(logits.shape, generator=generator)
    (logits * cotangent).sum().backward()
    tensors = {"input": images, "cotangent": cotangent, "logits": logits.detach()}
    for p in model.parameters():
        tensors["grad." + names[id(p)]] = p.grad
    meta = {"timm": timm.__version__, "torch": torch.__version__, "weights": weights}
    path = OUT / f"{name}.{weights}.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata=meta)
    print(f"{path.relative_to(ROOT)}: {len(tensors) - 3} gradients")


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("deit_mini", "swin_mini"):
        for weights in ("fp", "ternary"):
            dump(name, weights)


if __name__ == "__main__":
    main()
