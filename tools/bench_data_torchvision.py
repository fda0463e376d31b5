#!/usr/bin/python3
"""The torchvision reference for tools/bench/bench_data.cpp: the same images, the same work
(PIL open + convert('RGB') + RandomResizedCrop(224, bicubic) + RandomHorizontalFlip + ToTensor +
Normalize), batches of 32 from a DataLoader with the same number of worker processes. Besides
wall-clock rates it reports images per CPU-second of the main process and its workers.

    build/bench_data --threads 1,2          # makes /tmp/tervit-bench-data on its first run
    /usr/bin/python3 tools/bench_data_torchvision.py --data /tmp/tervit-bench-data --workers 1,2
"""
import argparse
import multiprocessing
import os
import time

import torch
from torchvision import datasets, transforms
from torchvision.transforms import InterpolationMode


def cpu_seconds():
    """CPU time of this process (all threads) and of its live children, the DataLoader's workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    for child in multiprocessing.active_children():
        with open(f"/proc/{child.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def measure(root, workers, epochs):
    """(images per second, images per CPU-second) over `epochs` epochs after a warm-up one."""
    transform = transforms.Compose([
        transforms.RandomResizedCrop(224, interpolation=InterpolationMode.BICUBIC),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    dataset = datasets.ImageFolder(root, transform=transform)
    # persistent_workers: worker start-up is not part of the per-image cost, as in bench_data.
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True, num_workers=workers,
                                         persistent_workers=True)
    images = 0
    start = cpu_start = 0.0
    for epoch in range(epochs + 1):  # epoch 0 warms up (page cache, worker start)
        if epoch == 1:
            start = time.perf_counter()
            cpu_start = cpu_seconds()
            images = 0
        for batch, _ in loader:
            images += batch.shape[0]
    return images / (time.perf_counter() - start), images / (cpu_seconds() - cpu_start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/tmp/tervit-bench-data")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'workers':<8} {'images/s':>10} {'images/s/core':>14} {'images/cpu-s':>14}")
    for workers in (int(w) for w in args.workers.split(",")):
        rate, cpu_rate = measure(args.data, workers, args.epochs)
        print(f"{workers:<8} {rate:>10.1f} {rate / workers:>14.1f} {cpu_rate:>14.1f}", flush=True)


if __name__ == "__main__":
    main()
