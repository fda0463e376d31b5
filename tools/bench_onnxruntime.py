"""ONNX Runtime's images/s on an ONNX model with synthetic images, printed as bench_packed model prints
tervit's: the peer for LibTorch fp32 (bench_packed model --mode fp) and tervit-run. Runs in the checkout's
virtual environment (tools/python_env.sh installs onnxruntime there):

    .venv/bin/python tools/bench_onnxruntime.py --onnx out/deit_small.onnx --batch 1 --threads 1,2 --seconds 3
"""
import argparse
import time

import numpy as np
import onnxruntime as ort


def images_per_second(session, batch, seconds):
    images = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    feed = {session.get_inputs()[0].name: images}
    session.run(None, feed)  # warm-up
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < seconds:
        session.run(None, feed)
        calls += 1
    return calls * batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--batch", default="1")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"{'model':<32} {'batch':>6} {'threads':>8} {'img/s':>10}")
    for threads in (int(t) for t in args.threads.split(",")):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])
        for batch in (int(b) for b in args.batch.split(",")):
            rate = images_per_second(session, batch, args.seconds)
            print(f"{'onnxruntime ' + ort.__version__:<32} {batch:>6} {threads:>8} {rate:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
