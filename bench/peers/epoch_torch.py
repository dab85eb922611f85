#!/usr/bin/env python3
"""One epoch of [784, 30, 10] sigmoid / quadratic / N(0,1) / mini-batch 10 / eta 3.0 in PyTorch float64.

The same work as bench/epoch.cpp: weights and biases ~ N(0, 1) (torch's generator,
seeded), loss = mean over the batch of 1/2 sum_k (a_k - y_k)^2, plain SGD
theta -= eta * grad (grad already averaged over the batch, = Nielsen's eta/m sum),
the sample order reshuffled by torch.randperm. Gradients by autograd. Run with
/usr/bin/python3 (Debian's python3-torch); bench/run.sh also runs it with
OPENBLAS_CORETYPE=SkylakeX.
"""
import torch

import common


def main():
    args = common.parse_args(__doc__)
    impl = args.impl or "torch"
    x_train, y_train = common.load(args.data, "train")
    x_test, y_test = common.load(args.data, "test")
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    X = torch.from_numpy(x_train)                       # N x 784, float64
    Y = torch.nn.functional.one_hot(torch.from_numpy(y_train), 10).to(torch.float64)
    Xt = torch.from_numpy(x_test)
    yt = torch.from_numpy(y_test)
    n, m, eta = X.shape[0], 10, 3.0
    for seed in [int(s) for s in args.seeds.split(",")]:
        g = torch.Generator().manual_seed(seed)
        params = [torch.randn(30, 784, generator=g, dtype=torch.float64),
                  torch.randn(30, generator=g, dtype=torch.float64),
                  torch.randn(10, 30, generator=g, dtype=torch.float64),
                  torch.randn(10, generator=g, dtype=torch.float64)]
        for p in params:
            p.requires_grad_(True)
        w1, b1, w2, b2 = params
        with common.Timer() as timer:
            order = torch.randperm(n, generator=g)
            for i in range(0, n, m):
                idx = order[i:i + m]
                xb, yb = X[idx], Y[idx]
                a1 = torch.sigmoid(xb @ w1.T + b1)
                a2 = torch.sigmoid(a1 @ w2.T + b2)
                loss = 0.5 * ((a2 - yb) ** 2).sum() / xb.shape[0]
                common.sgd_step(params, loss, eta)
        with torch.no_grad():
            out = torch.sigmoid(torch.sigmoid(Xt @ w1.T + b1) @ w2.T + b2)
            accuracy = (out.argmax(1) == yt).double().mean().item()
        common.report(impl, seed, timer, accuracy)


if __name__ == "__main__":
    main()
