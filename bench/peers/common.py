"""Shared by the peers: read Fashion-MNIST's gzip'd IDX files, print one result line.

Each peer prints, per seed, one line that bench/run.sh collects:
    RESULT impl=<name> seed=<s> seconds=<wall time> cpu=<process CPU time> accuracy=<test accuracy>
Only the epoch's training loop is timed (not loading, not evaluation), as in the C++ bench.
CPU time is the steadier number on a machine that other work shares.
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    # Unsigned bytes: pixel 255 is 255, not -1.
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz"))
    x = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0  # samples x 784
    return x, labels.astype(np.int64)


def argument_parser(description):
    """The options every peer takes: --data, --seeds, --limit, --impl."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", default=DEFAULT_DATA, help="folder with the four *-ubyte.gz files")
    p.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated seeds, one epoch each")
    p.add_argument("--limit", type=int, default=0, help="train on the first LIMIT images only (0 = all)")
    p.add_argument("--impl", default=None, help="name printed in the RESULT lines")
    return p


def parse_args(description):
    return argument_parser(description).parse_args()


class Timer:
    """Wall and process CPU time of a with-block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def report(impl, seed, timer, accuracy):
    print(f"RESULT impl={impl} seed={seed} seconds={timer.wall:.6f} cpu={timer.cpu:.6f} accuracy={accuracy:.4f}",
          flush=True)


def sgd_step(params, loss, eta):
    """Plain SGD on torch tensors: gradients of loss by autograd, then theta -= eta * grad."""
    import torch  # here, not at the top: the NumPy peer imports this module without torch
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= eta * p.grad
