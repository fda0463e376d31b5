#!/usr/bin/python3
"""Convert a PyTorch checkpoint (.pth, a pickle LibTorch cannot read) to safetensors for tervit.

    /usr/bin/python3 tools/pth_to_safetensors.py IN.pth OUT.safetensors

Needs Debian's python3-torch. Unwraps the usual containers ("model", "state_dict", "model_ema") and
writes every tensor unchanged: tervit itself remaps the official Swin layout to timm's on load, so
there is one remapping, in one place. Offline reference tooling only: no Python in training or eval.
"""
import json
import struct
import sys

import torch

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def unwrap(checkpoint):
    for key in ("model", "state_dict", "model_ema"):
        if isinstance(checkpoint, dict) and key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    return checkpoint


def main(source, target):
    state = unwrap(torch.load(source, map_location="cpu"))
    header, blobs, offset = {}, [], 0
    for name in sorted(state):
        tensor = state[name]
        if not torch.is_tensor(tensor):
            continue
        if tensor.dtype not in DTYPES:
            sys.exit(f"{source}: tensor {name} has unsupported dtype {tensor.dtype}")
        blob = tensor.detach().contiguous().numpy().tobytes() if tensor.dtype != torch.bfloat16 \
            else tensor.detach().contiguous().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {"source": source}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(target, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)
    print(f"{target}: {len(blobs)} tensors")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
