"""Images/s and peak memory of an ONNX model (tervit-export --format onnx) in ONNX Runtime or OpenVINO on
synthetic images: the peers of tervit-run, run side by side with it by tools/bench_deploy_peers.sh. One
JSON line per run. Each runtime keeps its defaults but the thread count (ONNX Runtime: all graph
optimizations, which fuse the dynamic form into DynamicQuantizeMatMul; OpenVINO: its CPU plugin's
latency mode, whose inference precision on this CPU is printed). Peak RSS is the whole process's, Python
and numpy included (about 30 MB of it). Runs in the checkout's .venv (tools/python_env.sh):

    .venv/bin/python tools/bench_onnx.py --runtime onnxruntime --model out/deit_small.dynamic.onnx --batch 1 --threads 1
"""
import argparse
import json
import resource
import time

import numpy as np


def onnxruntime_session(model, threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return (lambda images: session.run(None, {"images": images})[0]), {"runtime": "onnxruntime " + ort.__version__}


def openvino_session(model, threads):
    import openvino as ov
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    info = {"runtime": "openvino " + ov.__version__, "precision": str(compiled.get_property("INFERENCE_PRECISION_HINT"))}
    return (lambda images: request.infer([images])), info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=["onnxruntime", "openvino"], required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=224, help="image side")
    args = parser.parse_args()
    session = onnxruntime_session if args.runtime == "onnxruntime" else openvino_session
    run, report = session(args.model, args.threads)
    images = np.random.default_rng(0).standard_normal((args.batch, 3, args.size, args.size), dtype=np.float32)
    run(images)  # warm-up
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < args.seconds:
        run(images)
        calls += 1
    report.update(model=args.model, batch=args.batch, threads=args.threads,
                  images_per_second=calls * args.batch / (time.perf_counter() - start),
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
