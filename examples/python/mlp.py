#!/usr/bin/env python3
"""A multilayer perceptron's gradients, speaking gradcheck's probe protocol.

Reads one case per line on stdin (the JSON case format of docs/case-format.md),
writes one reply per line on stdout: dL/dW and dL/db of every layer, the loss
and the outputs. Standard library only; runs with any Python 3.

    gradcheck probe --cases 100 -- python3 examples/python/mlp.py

The numerics follow the same choices as gradcheck's engine (docs/engine.md) so
that the gradients keep their relative accuracy at every magnitude: sigmoid and
tanh derivatives from z, softmax minus its largest logit, fused output error
terms, and 1 - a of a saturated output computed without cancellation.

--bug NAME turns it into a deliberately wrong implementation, to see what
gradcheck says about each kind of mistake (docs/probe.md):
  sign      output error term with the wrong sign (y - a instead of a - y)
  bias      bias gradients reported as zero
  sum       the mean reduction's 1/N forgotten: every gradient N times too large
  double    every gradient twice too large (d/da of (a - y)^2 without the 1/2)
  half      every gradient half what it should be
  deriv-at-a     activation derivatives evaluated at a = act(z) instead of z
  no-output-derivative
            output delta dL/da, without the output activation's derivative
  z-for-a   dL/dW from the previous layer's z instead of its activations a
  softmax-on-fused
            softmax's Jacobian applied again to the fused softmax +
            cross-entropy delta a - y
  leaky-zero
            leaky_relu's derivative for z <= 0 taken as 0 (relu's) instead of its slope
  transpose the backward step multiplies by W instead of its transpose (shows
            only where a layer is square)
  float32   every reply value rounded to float32 (precision, not logic)
  nan       naive softmax, exp(z) / sum exp(z): NaN once a logit passes ~709
  shape     the first layer's dL/dW is missing its last column
  noise     replies differ in the last bits from one run of a case to the next
  crash     aborts (SIGABRT) on the --bug-at'th case
  hang      stops answering on the --bug-at'th case
  garbage   answers the --bug-at'th case with a line that is not JSON
  partial   writes half a reply to the --bug-at'th case, then exits
  huge      answers the --bug-at'th case with a line of --huge-bytes bytes
  stderr    writes 1 MB to stderr per case, then raises on the --bug-at'th case
  close     closes its stdout on the --bug-at'th case and keeps running
  exit      exits at once without reading anything
--decline NAME (repeatable) answers {"error": ...} to cases that use that
activation or loss, the way a partial implementation declines what it lacks.
"""

import argparse
import json
import math
import os
import random
import struct
import sys
import time

LEAKY_SLOPE = 0.01
NEGATIVE_SIDE_SLOPE = LEAKY_SLOPE  # leaky_relu'(z) for z <= 0 (0 with --bug leaky-zero)


# ---------------------------------------------------------------------------
# Activations

def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def sigmoid_prime(z):
    # sigma(z) * sigma(-z) from z: a * (1 - a) is 0 once a rounds to 1.
    t = math.exp(-abs(z))
    return t / ((1.0 + t) * (1.0 + t))


def tanh_prime(z):
    # sech^2(z) = 4t / (1 + t)^2 with t = e^(-2|z|), rather than 1 - tanh^2.
    t = math.exp(-2.0 * abs(z))
    return 4.0 * t / ((1.0 + t) * (1.0 + t))


def softplus(x):  # log(1 + e^x)
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


class SoftmaxColumn:
    """One softmax column kept as e_k = exp(z_k - z_max), their total, and
    rest_k = sum of the others, so that 1 - a_k = rest_k / total is accurate."""

    def __init__(self, z, naive=False):
        self.m = max(range(len(z)), key=lambda k: (z[k], -k))  # first largest
        shift = 0.0 if naive else z[self.m]
        self.e = [naive_exp(zk) if naive else math.exp(zk - shift) for zk in z]
        self.total = sum(self.e)
        others = sum(e for k, e in enumerate(self.e) if k != self.m)
        self.rest = [others if k == self.m else self.total - e for k, e in enumerate(self.e)]

    def a(self, k):
        return self.e[k] / self.total if 0 < self.total < math.inf else math.nan

    def one_minus_a(self, k):
        return self.rest[k] / self.total


def naive_exp(x):  # what C's exp does past its range, for the nan bug
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def activate(act, z, naive=False):
    """z: units x batch (a list of rows). Returns a, the same shape."""
    if act == "softmax":
        cols = list(zip(*z))
        out_cols = []
        for col in cols:
            sc = SoftmaxColumn(col, naive)
            out_cols.append([sc.a(k) for k in range(len(col))])
        return [list(r) for r in zip(*out_cols)]
    f = {
        "identity": lambda v: v,
        "sigmoid": sigmoid,
        "tanh": math.tanh,
        "relu": lambda v: v if v > 0 else 0.0,
        "leaky_relu": lambda v: v if v > 0 else LEAKY_SLOPE * v,
    }[act]
    return [[f(v) for v in row] for row in z]


def loss_derivative(loss, a, y):
    """dL/da for one sample (the no-output-derivative bug starts from it)."""
    if loss == "quadratic":
        return [ak - yk for ak, yk in zip(a, y)]
    if loss == "cross_entropy":
        return [-yk / ak for ak, yk in zip(a, y)]
    return [(1.0 - yk) / (1.0 - ak) - yk / ak for ak, yk in zip(a, y)]


def softmax_jacobian_times(a, d):
    """J_softmax(a) d = a * (d - a.d), for the softmax-on-fused bug."""
    dot = sum(ak * dk for ak, dk in zip(a, d))
    return [ak * (dk - dot) for ak, dk in zip(a, d)]


def derivative(act, v):
    return {
        "identity": lambda: 1.0,
        "sigmoid": lambda: sigmoid_prime(v),
        "tanh": lambda: tanh_prime(v),
        "relu": lambda: 1.0 if v > 0 else 0.0,
        "leaky_relu": lambda: 1.0 if v > 0 else NEGATIVE_SIDE_SLOPE,
    }[act]()


# ---------------------------------------------------------------------------
# Forward, loss, backward (batches are lists of rows: features x samples)

def transpose(m):
    return [list(r) for r in zip(*m)]


def forward(layers, x, naive=False):
    zs, acts = [], [x]
    for layer in layers:
        w, b, a_prev = layer["weights"], layer["biases"], acts[-1]
        z = [[sum(wji * a_prev[i][c] for i, wji in enumerate(w[j])) + b[j]
              for c in range(len(a_prev[0]))] for j in range(len(w))]
        zs.append(z)
        acts.append(activate(layer["activation"], z, naive))
    return zs, acts


def sample_loss(loss, out, z, a, y):
    """Per-sample loss from the output column z, a and target column y, taken
    from z where that is more accurate: log-sum-exp for softmax, softplus for sigmoid."""
    if loss == "quadratic":
        return sum((ak - yk) * (ak - yk) for ak, yk in zip(a, y)) / 2.0
    if out == "softmax":
        sc = SoftmaxColumn(z)
        ln_a = [zk - z[sc.m] - math.log(sc.total) for zk in z]
        ln_1ma = [softmax_log_one_minus(z, sc, k) for k in range(len(z))]
    else:
        ln_a = [-softplus(-zk) for zk in z]
        ln_1ma = [-softplus(zk) for zk in z]
    return cross_entropy_terms(loss, ln_a, ln_1ma, y)


def cross_entropy_terms(loss, ln_a, ln_1ma, y):
    total = 0.0
    for k, yk in enumerate(y):
        if yk != 0:
            total -= yk * ln_a[k]
        if loss == "binary_cross_entropy" and yk != 1:
            total -= (1.0 - yk) * ln_1ma[k]
    return total


def naive_sample_loss(loss, a, y):
    """The textbook loss from a, as C would compute it: log(0) = -inf, NaN propagates."""
    if loss == "quadratic":
        return sum((ak - yk) * (ak - yk) for ak, yk in zip(a, y)) / 2.0
    c_log = lambda v: -math.inf if v == 0 else (math.log(v) if v > 0 else math.nan)
    return cross_entropy_terms(loss, [c_log(ak) for ak in a], [c_log(1.0 - ak) for ak in a], y)


def softmax_log_one_minus(z, sc, k):
    """ln(1 - a_k); for the dominant class a log-sum-exp over the others."""
    if k != sc.m:
        return math.log1p(-sc.a(k))
    others = [z[i] for i in range(len(z)) if i != k]
    m2 = max(others)
    t = sum(math.exp(v - m2) for v in others)
    return m2 - z[k] + math.log(t) - math.log(sc.total)


def share_without(z, j, k):
    """e_j / sum_{i != k} e_i, in log space: both may underflow while the ratio is 1."""
    others = [z[i] for i in range(len(z)) if i != k]
    m = max(others)
    return math.exp(z[j] - m - math.log(sum(math.exp(v - m) for v in others)))


def output_delta(loss, out, z, a, y):
    """dL/dz of the output layer for one sample (columns z, a, y)."""
    K = len(z)
    if out == "softmax" and loss != "quadratic":
        sc = SoftmaxColumn(z)
        ysum = sum(y)
        if loss == "cross_entropy":  # a * sum(y) - y, dominant class without cancellation
            d = [sc.a(k) * ysum - y[k] for k in range(K)]
            d[sc.m] = sum(y[k] for k in range(K) if k != sc.m) - sc.one_minus_a(sc.m) * ysum
            return d
        d = []  # binary cross-entropy through softmax, fused (docs/engine.md)
        for j in range(K):
            dj = sc.a(j) * (ysum + 1.0 - y[j]) - y[j]
            for k in range(K):
                if k != j:
                    dj -= (1.0 - y[k]) * sc.a(k) * share_without(z, j, k)
            d.append(dj)
        return d
    if out == "sigmoid" and loss == "cross_entropy":
        return [-yk * sigmoid(-zk) for zk, yk in zip(z, y)]
    # a - y, as (1 - y) - (1 - a) where a is near 1
    d = [ak - yk for ak, yk in zip(a, y)]
    if out == "sigmoid":
        d = [(1.0 - yk) - sigmoid(-zk) if zk > 0 else dk for zk, yk, dk in zip(z, y, d)]
    elif out == "softmax":
        sc = SoftmaxColumn(z)
        d[sc.m] = (1.0 - y[sc.m]) - sc.one_minus_a(sc.m)
    if loss == "binary_cross_entropy" and out == "sigmoid":
        return d
    if out == "softmax":  # quadratic through softmax: the Jacobian-vector product
        sc = SoftmaxColumn(z)
        t = [sc.a(k) * d[k] for k in range(K)]
        dot = sum(t)
        others = sum(t[k] for k in range(K) if k != sc.m)
        bracket_m = sc.one_minus_a(sc.m) * d[sc.m] - others
        return [sc.a(k) * (bracket_m if k == sc.m else d[k] - dot) for k in range(K)]
    return [dk * derivative(out, zk) for dk, zk in zip(d, z)]


def gradients(case, bug=None):
    net = case["network"]
    layers, loss = net["layers"], net.get("loss", "quadratic")
    reduction = net.get("reduction", "mean")
    x, y = transpose(case["inputs"]), transpose(case["targets"])
    naive = bug == "nan"
    zs, acts = forward(layers, x, naive)
    out = layers[-1]["activation"]
    n = len(x[0])

    z_cols, a_cols, y_cols = transpose(zs[-1]), transpose(acts[-1]), transpose(y)
    naive_softmax = naive and out == "softmax"
    if naive_softmax:
        losses = [naive_sample_loss(loss, a_cols[c], y_cols[c]) for c in range(n)]
    else:
        losses = [sample_loss(loss, out, z_cols[c], a_cols[c], y_cols[c]) for c in range(n)]
    total = sum(losses) / n if reduction == "mean" else sum(losses)

    if naive_softmax and loss == "cross_entropy":  # a * sum(y) - y with the naive a
        deltas_cols = [[ak * sum(y_cols[c]) - yk for ak, yk in zip(a_cols[c], y_cols[c])] for c in range(n)]
    elif bug == "no-output-derivative":
        deltas_cols = [loss_derivative(loss, a_cols[c], y_cols[c]) for c in range(n)]
    elif bug == "deriv-at-a" and loss == "quadratic" and out != "softmax":
        deltas_cols = [[(ak - yk) * derivative(out, ak) for ak, yk in zip(a_cols[c], y_cols[c])]
                       for c in range(n)]
    else:
        deltas_cols = [output_delta(loss, out, z_cols[c], a_cols[c], y_cols[c]) for c in range(n)]
    if bug == "softmax-on-fused" and out == "softmax" and loss == "cross_entropy":
        deltas_cols = [softmax_jacobian_times(a_cols[c], deltas_cols[c]) for c in range(n)]
    delta = transpose(deltas_cols)
    if reduction == "mean" and bug != "sum":
        delta = [[d * (1.0 / n) for d in row] for row in delta]
    factor = {"sign": -1.0, "double": 2.0, "half": 0.5}.get(bug)
    if factor is not None:
        delta = [[factor * d for d in row] for row in delta]

    grads = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        a_prev = zs[l - 1] if bug == "z-for-a" and l > 0 else acts[l]
        dw = [[sum(delta[j][c] * a_prev[i][c] for c in range(n)) for i in range(len(a_prev))]
              for j in range(len(delta))]
        db = [sum(row) for row in delta]
        grads[l] = {"weights": dw, "biases": db}
        if l > 0:
            w = layers[l]["weights"]
            act = layers[l - 1]["activation"]
            at = acts[l] if bug == "deriv-at-a" else zs[l - 1]
            square = len(w) == len(w[0])
            wt = (lambda i, j: w[i][j]) if bug == "transpose" and square else (lambda i, j: w[j][i])
            delta = [[sum(wt(i, j) * delta[j][c] for j in range(len(w))) * derivative(act, at[i][c])
                      for c in range(n)] for i in range(len(w[0]))]

    reply = {"layers": grads, "loss": total, "outputs": transpose(acts[-1])}
    return apply_value_bug(reply, bug)


def apply_value_bug(reply, bug):
    if bug == "bias":
        for g in reply["layers"]:
            g["biases"] = [0.0] * len(g["biases"])
    elif bug == "shape":
        reply["layers"][0]["weights"] = [row[:-1] for row in reply["layers"][0]["weights"]]
    elif bug == "float32":
        f32 = lambda v: struct.unpack("f", struct.pack("f", v))[0]
        for g in reply["layers"]:
            g["weights"] = [[f32(v) for v in row] for row in g["weights"]]
            g["biases"] = [f32(v) for v in g["biases"]]
        reply["loss"] = f32(reply["loss"])
        reply["outputs"] = [[f32(v) for v in row] for row in reply["outputs"]]
    elif bug == "noise":
        w = reply["layers"][0]["weights"]
        w[0][0] += w[0][0] * 2.0 ** -50 * random.random()
    return reply


# ---------------------------------------------------------------------------
# The protocol loop

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bug", choices=["sign", "bias", "sum", "double", "half", "deriv-at-a", "no-output-derivative",
                                     "z-for-a", "softmax-on-fused", "leaky-zero", "transpose", "float32", "nan", "shape", "noise", "crash", "hang",
                                     "garbage", "partial", "huge", "stderr", "close", "exit"])
    p.add_argument("--bug-at", type=int, default=3, help="which case (1-based) the event bugs hit")
    p.add_argument("--huge-bytes", type=int, default=70 << 20)
    p.add_argument("--decline", action="append", default=[], help="activation or loss to decline")
    args = p.parse_args()
    bug = args.bug
    if bug == "leaky-zero":
        global NEGATIVE_SIDE_SLOPE
        NEGATIVE_SIDE_SLOPE = 0.0
    if bug == "exit":
        return 0
    random.seed(os.urandom(8))

    for count, line in enumerate(sys.stdin, start=1):
        at = count == args.bug_at
        if bug == "stderr":
            sys.stderr.write("x" * 1000000 + "\n")
            if at:
                raise RuntimeError("bug 'stderr': giving up after the flood")
        if at and bug == "crash":
            sys.stdout.flush()
            os.abort()
        if at and bug == "hang":
            time.sleep(3600)
        if at and bug == "garbage":
            print("this is not json", flush=True)
            continue
        if at and bug == "partial":
            sys.stdout.write('{"layers": [{"weights": [[0.1')
            sys.stdout.flush()
            return 0
        if at and bug == "huge":
            sys.stdout.write('{"layers": [], "padding": "' + "x" * args.huge_bytes + '"}\n')
            sys.stdout.flush()
            continue
        if at and bug == "close":
            sys.stdout.flush()
            os.close(1)
            time.sleep(3600)

        case = json.loads(line)
        used = set(layer["activation"] for layer in case["network"]["layers"])
        used.add(case["network"].get("loss", "quadratic"))
        declined = sorted(used.intersection(args.decline))
        if declined:
            reply = {"error": "not implemented: " + ", ".join(declined)}
        else:
            reply = gradients(case, bug)
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
