"""A small dense network served to `gradcheck fd` (docs/fd.md), standard library only.

    gradcheck fd -- python3 examples/python/fd_dense.py                 # agree, exit 0
    gradcheck fd -- python3 examples/python/fd_dense.py --bug sign      # disagree, exit 1

x (4 samples of 3 features) -> W1 [4, 3], b1 [4], tanh (or --activation relu)
-> W2 [2, 4], b2 [2] -> loss ½ Σ (y − t)² / 4. The batch is fixed.

--bug sign          every gradient negated
--bug scale-w2      dW2 doubled (one tensor scaled)
--bug zero-b1       db1 sent as 0
--bug transpose-w1  dW1 computed as its [3, 4] transpose and sent in W1's place
--bug one-entry     one entry of dW1 off by 1 %
--bug noise         the loss carries random noise of 1e-3 (nondeterministic)
--tie               relu, with hidden unit 0 at z = 0 exactly for sample 0: a kink,
                    inconclusive (relu'(0) = 0 is a convention, not a bug)
--misbehave WHAT    on the first loss request: crash, hang, garbage, count (too few
                    losses); or shape (the gradient of b2 has 3 values)
"""
import argparse
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fd_serve import serve  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--bug", choices=["sign", "scale-w2", "zero-b1", "transpose-w1", "one-entry", "noise"])
p.add_argument("--activation", choices=["tanh", "relu"], default="tanh")
p.add_argument("--tie", action="store_true")
p.add_argument("--misbehave", choices=["crash", "hang", "garbage", "count", "shape"])
args = p.parse_args()
act = "relu" if args.tie else args.activation

rng = random.Random(7)
X = [[round(rng.uniform(-1, 1), 3) for _ in range(3)] for _ in range(4)]
T = [[round(rng.uniform(-1, 1), 3) for _ in range(2)] for _ in range(4)]
params = {
    "W1": [[round(rng.uniform(-1, 1), 3) for _ in range(3)] for _ in range(4)],
    "b1": [round(rng.uniform(-0.5, 0.5), 3) for _ in range(4)],
    "W2": [[round(rng.uniform(-1, 1), 3) for _ in range(4)] for _ in range(2)],
    "b2": [round(rng.uniform(-0.5, 0.5), 3) for _ in range(2)],
}
if args.tie:  # z = 0.5·0.5 − 0.25·1 + 0·0.3 + 0 = 0 exactly, for unit 0 and sample 0
    X[0] = [0.5, 1.0, 0.3]
    params["W1"][0] = [0.5, -0.25, 0.0]
    params["b1"][0] = 0.0


def f(z):
    return math.tanh(z) if act == "tanh" else max(z, 0.0)


def df(z, a):
    return 1 - a * a if act == "tanh" else (1.0 if z > 0 else 0.0)


def forward(P, x):
    z1 = [sum(w * xi for w, xi in zip(row, x)) + b for row, b in zip(P["W1"], P["b1"])]
    a1 = [f(z) for z in z1]
    y = [sum(w * a for w, a in zip(row, a1)) + b for row, b in zip(P["W2"], P["b2"])]
    return z1, a1, y


def value(P):
    total = sum(0.5 * sum((yi - ti) ** 2 for yi, ti in zip(forward(P, x)[2], t)) for x, t in zip(X, T)) / len(X)
    return total + (random.gauss(0, 1e-3) if args.bug == "noise" else 0.0)


def gradient(P):
    g = {"W1": [[0.0] * 3 for _ in range(4)], "b1": [0.0] * 4, "W2": [[0.0] * 4 for _ in range(2)], "b2": [0.0] * 2}
    for x, t in zip(X, T):
        z1, a1, y = forward(P, x)
        d2 = [(yi - ti) / len(X) for yi, ti in zip(y, t)]
        d1 = [sum(P["W2"][k][j] * d2[k] for k in range(2)) * df(z1[j], a1[j]) for j in range(4)]
        for k in range(2):
            g["b2"][k] += d2[k]
            for j in range(4):
                g["W2"][k][j] += d2[k] * a1[j]
        for j in range(4):
            g["b1"][j] += d1[j]
            for i in range(3):
                g["W1"][j][i] += d1[j] * x[i]
    if args.bug == "sign":
        g = {n: [[-v for v in r] if isinstance(r, list) else -r for r in g[n]] for n in g}
    elif args.bug == "scale-w2":
        g["W2"] = [[2 * v for v in r] for r in g["W2"]]
    elif args.bug == "zero-b1":
        g["b1"] = [0.0] * 4
    elif args.bug == "transpose-w1":
        flat = [g["W1"][j][i] for i in range(3) for j in range(4)]
        g["W1"] = [flat[3 * j:3 * j + 3] for j in range(4)]
    elif args.bug == "one-entry":
        g["W1"][2][1] *= 1.01
    if args.misbehave == "shape":
        g["b2"] = g["b2"] + [0.0]
    return value(P), g


loss = value
if args.misbehave in ("crash", "hang", "garbage", "count"):
    def loss(P):  # noqa: F811 - misbehaves at the first loss request
        if args.misbehave == "crash":
            sys.stderr.write("fd_dense: crashing as asked\n")
            os._exit(3)
        if args.misbehave == "hang":
            while True:
                time.sleep(1)
        # garbage: a line that is not JSON; count: one loss for the whole request
        sys.stdout.write("this is not JSON\n" if args.misbehave == "garbage" else '{"losses": [1.0]}\n')
        sys.stdout.flush()
        os._exit(0)

serve(params, loss, gradient)
