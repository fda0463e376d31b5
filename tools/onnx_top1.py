"""Top-1 of an exported demo model (tervit-export --format onnx) on Fashion-MNIST's 10,000 test images in
ONNX Runtime or OpenVINO: the check that an export classifies as tervit-eval does (tools/onnx_demo_accuracy.sh
runs both). The images come from Debian's dataset-fashion-mnist IDX files, preprocessed as the metadata
the export records says (crop_pct 1 at the images' own size: only mean and std apply). One image per call
by default: the dynamic form quantizes activations per call, so a batch would change every image's result.

    .venv/bin/python tools/onnx_top1.py --runtime onnxruntime --model out/demo.dynamic.onnx
"""
import argparse
import gzip
import json
import sys

import numpy as np

IDX = "/usr/share/datasets/fashion-mnist/t10k-{}-idx{}-ubyte.gz"


def read_idx(kind, dims):
    with gzip.open(IDX.format(kind, dims), "rb") as f:
        data = f.read()
    header = 4 + 4 * dims
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data[header:], dtype=np.uint8).reshape(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=["onnxruntime", "openvino"], required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    if args.runtime == "onnxruntime":
        import onnxruntime as ort
        session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
        metadata = session.get_modelmeta().custom_metadata_map
        shape = session.get_inputs()[0].shape
        run = lambda x: session.run(None, {"images": x})[0]  # noqa: E731
    else:
        import openvino as ov
        model = ov.Core().read_model(args.model)
        metadata = {k: v.astype(str) for k, v in model.get_rt_info()["framework"].items()}
        shape = [d.get_length() if d.is_static else None for d in model.input(0).get_partial_shape()]
        request = ov.Core().compile_model(model, "CPU").create_infer_request()
        run = lambda x: request.infer([x])[0]  # noqa: E731
    preprocess = json.loads(metadata.get("preprocess", "{}"))
    images, labels = read_idx("images", 3), read_idx("labels", 1)
    if shape[2:] != list(images.shape[1:]) or preprocess.get("crop_pct", 1.0) != 1.0:
        sys.exit(f"{args.model}: expects {shape[1:]} images with crop_pct {preprocess.get('crop_pct')}; "
                 f"this script feeds Fashion-MNIST's {list(images.shape[1:])} as they are")
    mean = np.array(preprocess["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.array(preprocess["std"], dtype=np.float32).reshape(1, -1, 1, 1)
    correct = 0
    for start in range(0, len(images), args.batch):
        gray = images[start:start + args.batch, None].astype(np.float32) / 255
        x = ((np.repeat(gray, shape[1], axis=1) - mean) / std).astype(np.float32)
        correct += int((run(x).argmax(1) == labels[start:start + args.batch]).sum())
    print(json.dumps({"runtime": args.runtime, "model": args.model, "images": len(images), "top1": 100.0 * correct / len(images)}))


if __name__ == "__main__":
    main()
