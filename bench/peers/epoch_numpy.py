#!/usr/bin/env python3
"""One epoch of [784, 30, 10] sigmoid / quadratic / N(0,1) / mini-batch 10 / eta 3.0 in NumPy float64.

Vectorised mini-batch backpropagation (Nielsen's network.py with the batch as one
matrix): weights and biases ~ N(0, 1) from numpy's seeded generator, delta of
the output = (a - y) * sigma'(z), dW = delta a_prev^T, theta -= (eta/m) * dW.
Run with /usr/bin/python3; bench/run.sh also runs it with OPENBLAS_CORETYPE=SkylakeX.
"""
import numpy as np

import common


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def main():
    args = common.parse_args(__doc__)
    impl = args.impl or "numpy"
    x_train, y_train = common.load(args.data, "train")
    x_test, y_test = common.load(args.data, "test")
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    Y = np.eye(10)[y_train]                              # N x 10 one-hot
    n, m, eta = x_train.shape[0], 10, 3.0
    np.seterr(over="ignore")  # exp(-z) overflows to inf for z < -709: sigmoid is then 0, as it should be
    for seed in [int(s) for s in args.seeds.split(",")]:
        rng = np.random.default_rng(seed)
        w1, b1 = rng.standard_normal((30, 784)), rng.standard_normal((30, 1))
        w2, b2 = rng.standard_normal((10, 30)), rng.standard_normal((10, 1))
        with common.Timer() as timer:
            order = rng.permutation(n)
            for i in range(0, n, m):
                idx = order[i:i + m]
                x = x_train[idx].T                           # 784 x m
                y = Y[idx].T                                 # 10 x m
                a1 = sigmoid(w1 @ x + b1)
                a2 = sigmoid(w2 @ a1 + b2)
                d2 = (a2 - y) * a2 * (1.0 - a2)
                d1 = (w2.T @ d2) * a1 * (1.0 - a1)
                k = eta / x.shape[1]
                w2 -= k * (d2 @ a1.T)
                b2 -= k * d2.sum(axis=1, keepdims=True)
                w1 -= k * (d1 @ x.T)
                b1 -= k * d1.sum(axis=1, keepdims=True)
        out = sigmoid(w2 @ sigmoid(w1 @ x_test.T + b1) + b2)
        accuracy = float((out.argmax(axis=0) == y_test).mean())
        common.report(impl, seed, timer, accuracy)


if __name__ == "__main__":
    main()
