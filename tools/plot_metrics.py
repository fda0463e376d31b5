#!/usr/bin/python3
"""Renders a run's metrics.jsonl (written by tervit-train) as curves in one PNG: training loss and
learning rate per logged step, val top-1 per epoch, and ternary sparsity / flip rate where logged.
Stage boundaries are marked. Needs Debian's python3-matplotlib.

    /usr/bin/python3 tools/plot_metrics.py runs/demo_fashion_mnist/metrics.jsonl --out runs/demo_fashion_mnist/curves.png
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", help="metrics.jsonl of a run folder")
    parser.add_argument("--out", required=True, help="PNG file to write")
    args = parser.parse_args()
    with open(args.metrics) as file:
        lines = [json.loads(line) for line in file if line.strip()]
    steps = [m for m in lines if m["kind"] == "step"]
    epochs = [m for m in lines if m["kind"] == "epoch"]
    if not steps and not epochs:
        raise SystemExit(f"{args.metrics}: no metrics lines")

    figure, axes = plt.subplots(2, 2, figsize=(12, 8))
    plots = [
        (axes[0][0], steps, "loss", "training loss"),
        (axes[0][1], steps, "lr", "learning rate"),
        (axes[1][0], epochs, "val_top1", "val top-1 (%)"),
    ]
    for axis, rows, key, title in plots:
        axis.plot([m["step"] for m in rows if key in m], [m[key] for m in rows if key in m], marker="." if rows is epochs else None)
        axis.set_title(title)
        axis.set_xlabel("optimizer step")
    ternary = axes[1][1]
    for key in ("ternary_sparsity", "flip_rate"):
        rows = [m for m in steps if key in m]
        ternary.plot([m["step"] for m in rows], [m[key] for m in rows], label=key)
    ternary.set_title("ternary layers")
    ternary.set_xlabel("optimizer step")
    ternary.legend()
    # Stage boundaries: the first step line of each new stage.
    previous = None
    for m in steps:
        if previous is not None and m["stage"] != previous:
            for axis in axes.flat:
                axis.axvline(m["step"], color="grey", linestyle=":", linewidth=1)
        previous = m["stage"]
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
