#!/usr/bin/env python3
"""One epoch of LeNet-5 in PyTorch float64, on the batches gradcheck trains.

LeNet-5 as `gradcheck train --net lenet5` builds it (c6k5p2-m2-c16k5-m2-120-84-10):
conv 6@5x5 pad 2, relu, max pool 2; conv 16@5x5, relu, max pool 2; flatten
(channel-major, as torch's view); dense 120, 84 with relu; 10 logits; softmax +
cross-entropy averaged over the batch (F.cross_entropy); plain SGD, eta and the
mini-batch size (32) read from the shared file. The initial parameters and the
epoch's sample order come from the file that `gradcheck_epoch --net lenet5
--share DIR` wrote for the same seed (DIR/lenet5-seed<s>.json), so both
programs train the same network on the same batches. Gradients by autograd,
convolutions by torch's own CPU kernels (float64 has no oneDNN path). Run with
/usr/bin/python3 (Debian's python3-torch); bench/run.sh also runs it on the
reference BLAS and with OPENBLAS_CORETYPE=SkylakeX.
"""
import json
import os

import torch
import torch.nn.functional as F

import common

SHAPES = [(6, 1, 5, 5), (16, 6, 5, 5), (120, 400), (84, 120), (10, 84)]


def load_shared(path):
    with open(path) as f:
        shared = json.load(f)
    params = []
    for shape, layer in zip(SHAPES, shared["layers"]):
        params.append(torch.tensor(layer["weights"], dtype=torch.float64).reshape(shape))
        params.append(torch.tensor(layer["biases"], dtype=torch.float64))
    return params, torch.tensor(shared["order"], dtype=torch.int64), shared["batch"], shared["lr"]


def logits(params, x):
    w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2)), 2)
    h = h.reshape(h.shape[0], -1)
    h = F.relu(F.linear(h, w3, b3))
    h = F.relu(F.linear(h, w4, b4))
    return F.linear(h, w5, b5)


def main():
    p = common.argument_parser(__doc__)
    p.add_argument("--share", required=True, help="the folder gradcheck_epoch --share wrote")
    args = p.parse_args()
    impl = args.impl or "torch"
    x_train, y_train = common.load(args.data, "train")
    x_test, y_test = common.load(args.data, "test")
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    X = torch.from_numpy(x_train).reshape(-1, 1, 28, 28)
    Y = torch.from_numpy(y_train)
    Xt = torch.from_numpy(x_test).reshape(-1, 1, 28, 28)
    yt = torch.from_numpy(y_test)
    for seed in [int(s) for s in args.seeds.split(",")]:
        params, order, m, eta = load_shared(os.path.join(args.share, f"lenet5-seed{seed}.json"))
        if order.numel() != X.shape[0]:
            raise SystemExit(f"{args.share}: the order has {order.numel()} samples, the data {X.shape[0]}")
        for t in params:
            t.requires_grad_(True)
        with common.Timer() as timer:
            for i in range(0, X.shape[0], m):
                idx = order[i:i + m]
                loss = F.cross_entropy(logits(params, X[idx]), Y[idx])
                common.sgd_step(params, loss, eta)
        with torch.no_grad():  # in chunks of 1,000 images, as gradcheck's evaluate
            correct = sum((logits(params, Xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item()
                          for i in range(0, Xt.shape[0], 1000))
            accuracy = correct / Xt.shape[0]
        common.report(impl, seed, timer, accuracy)


if __name__ == "__main__":
    main()
