#!/usr/bin/env python3
"""Runs an ONNX model in ONNX Runtime or OpenVINO for tervit's tests (the reference clients of the ONNX
export; no part of the product): float32 images from a raw file in, logits to a raw file out.

Prints one JSON line: the model's metadata as the runtime reads it and, for ONNX Runtime, the operators
of the graph it optimized (which shows the fusions it made). Exit codes: 0 done; 2 the runtime rejected
the model (its message on stderr); 77 the runtime is not installed (the test reports itself skipped).
"""
import argparse
import collections
import json
import os
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtime", choices=["onnxruntime", "openvino"], required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True, help="raw float32 images")
    parser.add_argument("--shape", required=True, help="the images' shape, e.g. 2,3,32,32")
    parser.add_argument("--output", required=True, help="raw float32 logits to write")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    try:
        import numpy as np
        if args.runtime == "onnxruntime":
            import onnxruntime as ort
        else:
            import openvino as ov
    except ImportError as e:
        print(f"{args.runtime} is not installed: {e} (bash tools/python_env.sh)", file=sys.stderr)
        return 77
    images = np.fromfile(args.input, dtype=np.float32).reshape([int(d) for d in args.shape.split(",")])
    report = {}
    try:
        if args.runtime == "onnxruntime":
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.log_severity_level = 3  # errors only: saving the optimized graph warns every time
            # ONNX Runtime turns weight-only DequantizeLinear + MatMul into MatMulNBits, by default computing
            # with int8 activations (accuracy level 4); level 1 keeps them float32, the qdq form's meaning.
            options.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "1")
            with tempfile.TemporaryDirectory() as folder:
                # The graph after ONNX Runtime's optimizations, in its ORT format: node types are plain text in it.
                options.optimized_model_filepath = os.path.join(folder, "optimized.onnx")
                session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
                report["optimized_operators"] = optimized_operators(options.optimized_model_filepath)
            logits = session.run(["logits"], {"images": images})[0]
            report["metadata"] = session.get_modelmeta().custom_metadata_map
        else:
            core = ov.Core()
            model = core.read_model(args.model)
            # f32 inference: OpenVINO would otherwise pick bf16 on CPUs that have it, and quantize the activations
            # of MatMuls on integer weights to int8 (its dynamic quantization).
            config = {"INFERENCE_NUM_THREADS": args.threads, "INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": 0}
            compiled = core.compile_model(model, "CPU", config)
            logits = compiled([images])[compiled.output(0)]
            info = model.get_rt_info()
            report["metadata"] = {k: v.astype(str) for k, v in info["framework"].items()} if "framework" in info else {}
    except Exception as e:  # the runtimes raise their own exception types
        print(f"{args.runtime} rejected {args.model}: {e}", file=sys.stderr)
        return 2
    np.ascontiguousarray(logits, dtype=np.float32).tofile(args.output)
    print(json.dumps(report))
    return 0


def optimized_operators(path):
    """Node counts by operator type of an optimized model that ONNX Runtime wrote (an ONNX protobuf),
    read with the protobuf wire format alone (no onnx package needed): GraphProto.node = 1 of
    ModelProto.graph = 7, NodeProto.op_type = 4."""
    data = open(path, "rb").read()
    graph = next(value for field, value in fields(data) if field == 7)
    counts = collections.Counter()
    for field, node in fields(graph):
        if field == 1:
            counts.update(value.decode() for f, value in fields(node) if f == 4)
    return dict(counts)


def fields(data):
    """(field number, bytes) of each length-delimited field of a protobuf message; other fields skipped."""
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            size, i = varint(data, i)
            yield field, data[i:i + size]
            i += size
        else:
            raise ValueError(f"protobuf wire type {wire}")


def varint(data, i):
    value, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


if __name__ == "__main__":
    sys.exit(main())
