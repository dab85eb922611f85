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
  last-sample
            each sample's dL/dW and dL/db assigned to the accumulator (=)
            instead of added to it (+=): only the last sample's remain
  skip-first
            the batch loop that accumulates dL/dW and dL/db starts at 1
  average-twice
            the mean reduction's 1/N applied twice
  bias-sum  dL/db summed over the batch where the loss is averaged (the
            weights averaged, as they should be)
  no-hidden-derivative
            the hidden layers' act'(z) left out of the backward step
  formula-at-z
            sigmoid' and tanh' from the formulas in a fed z: z(1 - z), 1 - z^2
  softmax-diagonal
            softmax's derivative taken elementwise, a(1 - a) (unfused losses)
  targets-shifted
            sample s paired with the target of sample s + 1 (the last with the
            first's), in the loss and the gradients
  weight-decay
            0.01 * W added to every dL/dW (L2 regularisation the loss leaves out)
  mean-over-outputs
            the gradients divided by the number of outputs as well (the quadratic
            loss averaged over the output units in the backward only)
  float32   every reply value rounded to float32 (precision, not logic)
  nan       naive softmax, exp(z) / sum exp(z): NaN once a logit passes ~709
  shape     the first layer's dL/dW is missing its last column
  noise     replies differ in the last bits from one run of a case to the next
  no-zero-grad
            gradients accumulate from call to call for the same network shape
            (a forgotten zero_grad()): the second reply to a case is twice the first
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

--precision NAME computes as a program in that floating-point format would
(round_to: round to nearest, ties to even; overflow to +-inf, gradual underflow
through the subnormals to 0): every parsed number, every + - * / (sums one term
at a time) and every exp, log, log1p and tanh result is rounded to it, and x/0
and exp's overflow give C's inf and NaN instead of Python's exceptions:
  float64   the default: today's arithmetic, unchanged
  float32   24 significant bits, largest 3.4e38, subnormals down to 2^-149
  bfloat16  float32's exponent range with 8 significant bits, down to 2^-133
  float16   11 significant bits, largest 65504, subnormals down to 2^-24
Every reply then says "precision": NAME (when --precision was given), unless
--no-precision-field leaves gradcheck to infer it.
--digits N prints every reply value with N significant digits (%.Ng), as a
program that prints its numbers with a fixed precision does.
--textbook replaces the stable formulas by a textbook's (in any precision, the
--bug variants included):
  sigmoid   1 / (1 + exp(-z)), its derivative a (1 - a); tanh' = 1 - a^2
  softmax   exp(z - max z) / sum, the largest logit still subtracted
  losses    from a: -sum y ln a, -sum [y ln a + (1 - y) ln(1 - a)] (a term
            whose coefficient y or 1 - y is exactly 0 is skipped)
  delta     the fused a - y for softmax + cross_entropy and sigmoid +
            binary_cross_entropy; for every other pair dL/da (a - y, -y/a,
            (1 - y)/(1 - a) - y/a) times act'(z) from a, or the softmax
            Jacobian product
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
TEXTBOOK = False  # --textbook: the textbook formulas instead of the stable ones


# ---------------------------------------------------------------------------
# Precision: the arithmetic of a program written in a narrower format

# significant bits p, exponent of the smallest subnormal, largest finite value
FORMATS = {
    "float32": (24, -149, (2.0 - 2.0 ** -23) * 2.0 ** 127),
    "bfloat16": (8, -133, (2.0 - 2.0 ** -7) * 2.0 ** 127),
    "float16": (11, -24, 65504.0),
}


def rounding(precision):
    """round_to(., precision) as a one-argument function (the identity for float64)."""
    if precision == "float64":
        return lambda x: x
    p, q_min, largest = FORMATS[precision]
    overflow = largest + 2.0 ** (math.frexp(largest)[1] - 1 - p)  # largest + half its spacing: a tie, to inf
    frexp, ldexp, copysign, inf = math.frexp, math.ldexp, math.copysign, math.inf

    def rnd(x):
        if not -overflow < x < overflow:  # inf, NaN, and what rounds past the largest value
            return x if x != x else copysign(inf, x)
        m, e = frexp(x)  # x = m 2^e, 1/2 <= |m| < 1
        q = max(e - p, q_min)  # the place of the last bit kept: p bits, or the subnormals' fixed one
        return copysign(ldexp(round(ldexp(m, e - q)), q), x)  # round(): ties to even; copysign keeps -0

    return rnd


def round_to(x, precision):
    """x rounded to the nearest value of float64, float32, bfloat16 or float16,
    ties to even; past the largest finite value +-inf, below the smallest normal
    one the subnormals' fixed spacing, then +-0 (IEEE 754's round to nearest)."""
    return rounding(precision)(x)


_round = rounding("float64")  # the program's precision (use_precision)
_new = float.__new__


def _div(x, y):  # C's x / y: division by zero gives +-inf, or NaN for 0/0
    try:
        return float.__truediv__(x, y)
    except ZeroDivisionError:
        return math.nan if x == 0 or x != x else math.copysign(math.inf, x) * math.copysign(1.0, y)


def _literal(v):  # a constant or count of the program, in its precision
    return v if type(v) is Rounded else _round(float(v))


class Rounded(float):
    """A number of the program's precision: every result of + - * / is rounded
    to it, constants are rounded before use, x/0 is C's inf or NaN."""
    __slots__ = ()

    def __add__(a, b): return _new(Rounded, _round(float.__add__(a, _literal(b))))
    def __radd__(a, b): return _new(Rounded, _round(float.__add__(a, _literal(b))))
    def __sub__(a, b): return _new(Rounded, _round(float.__sub__(a, _literal(b))))
    def __rsub__(a, b): return _new(Rounded, _round(float.__rsub__(a, _literal(b))))
    def __mul__(a, b): return _new(Rounded, _round(float.__mul__(a, _literal(b))))
    def __rmul__(a, b): return _new(Rounded, _round(float.__mul__(a, _literal(b))))
    def __truediv__(a, b): return _new(Rounded, _round(_div(a, _literal(b))))
    def __rtruediv__(a, b): return _new(Rounded, _round(_div(_literal(b), a)))
    def __neg__(a): return _new(Rounded, float.__neg__(a))
    def __pos__(a): return a
    def __abs__(a): return _new(Rounded, float.__abs__(a))


def number(v):
    """A parsed number or a function's result, in the program's precision."""
    return _new(Rounded, _round(float(v)))


class RoundedMath:
    """exp, log, log1p and tanh as C's <math.h> returns them (inf on overflow,
    -inf at a log's pole, NaN outside its domain), rounded to the precision."""
    inf, nan = math.inf, math.nan

    @staticmethod
    def exp(x):
        try:
            return number(math.exp(x))
        except OverflowError:
            return number(math.inf)

    @staticmethod
    def log(x):
        return number(math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan))

    @staticmethod
    def log1p(x):
        return number(math.log1p(x) if x > -1 else (-math.inf if x == -1 else math.nan))

    @staticmethod
    def tanh(x):
        return number(math.tanh(x))


fmath = math  # the math functions of the program: math itself, or RoundedMath (use_precision)
NOISE = 2.0 ** -50  # the relative size of --bug noise: a few units in the last place
# In float64 the noise is a random multiple 1..64 of NOISE: a process started
# again draws the same two values for a case only 1 time in 4096, where a
# fraction of NOISE would round to the same few values (and look stateful).
NOISE_STEPS = 64


def use_precision(precision, textbook):
    """Computes in that precision from here on (Rounded and RoundedMath); in
    float64 only where the textbook formulas need C's inf and NaN. Returns the
    JSON number parser, None for Python's own floats."""
    global _round, fmath, NOISE, NOISE_STEPS, TEXTBOOK
    plain = precision == "float64" and not textbook
    TEXTBOOK, _round, fmath = textbook, rounding(precision), math if plain else RoundedMath
    NOISE = 2.0 ** -50 if precision == "float64" else 2.0 ** (3 - FORMATS[precision][0])
    NOISE_STEPS = 64 if precision == "float64" else 0  # 0: a fraction of NOISE
    return None if plain else number


# ---------------------------------------------------------------------------
# Activations

def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + fmath.exp(-z))
    e = fmath.exp(z)
    return e / (1.0 + e)


def sigmoid_prime(z):
    # sigma(z) * sigma(-z) from z: a * (1 - a) is 0 once a rounds to 1.
    t = fmath.exp(-abs(z))
    return t / ((1.0 + t) * (1.0 + t))


def tanh_prime(z):
    # sech^2(z) = 4t / (1 + t)^2 with t = e^(-2|z|), rather than 1 - tanh^2.
    t = fmath.exp(-2.0 * abs(z))
    return 4.0 * t / ((1.0 + t) * (1.0 + t))


def softplus(x):  # log(1 + e^x)
    return x + fmath.log1p(fmath.exp(-x)) if x > 0 else fmath.log1p(fmath.exp(x))


class SoftmaxColumn:
    """One softmax column kept as e_k = exp(z_k - z_max), their total, and
    rest_k = sum of the others, so that 1 - a_k = rest_k / total is accurate."""

    def __init__(self, z, naive=False):
        self.m = max(range(len(z)), key=lambda k: (z[k], -k))  # first largest
        shift = 0.0 if naive else z[self.m]
        self.e = [naive_exp(zk) if naive else fmath.exp(zk - shift) for zk in z]
        self.total = sum(self.e)
        others = sum(e for k, e in enumerate(self.e) if k != self.m)
        self.rest = [others if k == self.m else self.total - e for k, e in enumerate(self.e)]

    def a(self, k):
        return self.e[k] / self.total if 0 < self.total < math.inf else math.nan

    def one_minus_a(self, k):
        return self.rest[k] / self.total


def naive_exp(x):  # what C's exp does past its range, for the nan bug
    try:
        return fmath.exp(x)
    except OverflowError:
        return math.inf


def unit_activation(act):
    """The activation of one value (every one but softmax): stable or textbook."""
    return {
        "identity": lambda v: v,
        "sigmoid": textbook_sigmoid if TEXTBOOK else sigmoid,
        "tanh": fmath.tanh,
        "relu": lambda v: v if v > 0 else 0.0,
        "leaky_relu": lambda v: v if v > 0 else LEAKY_SLOPE * v,
    }[act]


def softmax_column(z, naive=False):
    if TEXTBOOK:
        return textbook_softmax(z, naive)
    sc = SoftmaxColumn(z, naive)
    return [sc.a(k) for k in range(len(z))]


def activate(act, z, naive=False):
    """z: units x batch (a list of rows). Returns a, the same shape."""
    if act == "softmax":
        out_cols = [softmax_column(col, naive) for col in zip(*z)]
        return [list(r) for r in zip(*out_cols)]
    f = unit_activation(act)
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


def slope(act, z, a, at_a=False):
    """act'(z) in a backward step: from z with the stable formulas, from a = act(z)
    with the textbook ones; at_a evaluates it at a instead (the deriv-at-a bug)."""
    if TEXTBOOK:
        return textbook_derivative(act, unit_activation(act)(a) if at_a else a)
    return derivative(act, a if at_a else z)


# ---------------------------------------------------------------------------
# The textbook formulas (--textbook), as most hand-written backprop has them

FUSED = {("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")}


def textbook_sigmoid(z):  # exp(-z) overflows to inf below z = -709 (-88 in float32): a = 0
    return 1.0 / (1.0 + fmath.exp(-z))


def textbook_softmax(z, naive=False):  # the largest logit subtracted, except for the nan bug
    shift = 0.0 if naive else max(z)
    e = [fmath.exp(zk - shift) for zk in z]
    total = sum(e)
    return [ek / total for ek in e]


def textbook_derivative(act, a):
    """act'(z) from a = act(z): a (1 - a) and 1 - a^2 lose their digits at saturation."""
    if act == "sigmoid":
        return a * (1.0 - a)
    if act == "tanh":
        return 1.0 - a * a
    if act == "identity":
        return 1.0
    return 1.0 if a > 0 else (0.0 if act == "relu" else NEGATIVE_SIDE_SLOPE)


def textbook_loss_derivative(loss, a, y):
    """dL/da for one sample; a term whose coefficient y or 1 - y is exactly 0 is
    skipped, as in the loss (-y/a would be 0/0 where a = 0)."""
    part = lambda c, v: c / v if c != 0 else 0.0
    if loss == "quadratic":
        return [ak - yk for ak, yk in zip(a, y)]
    if loss == "cross_entropy":
        return [-part(yk, ak) for ak, yk in zip(a, y)]
    return [part(1.0 - yk, 1.0 - ak) - part(yk, ak) for ak, yk in zip(a, y)]


def textbook_output_delta(loss, out, a, y):
    """dL/dz of the output layer for one sample: the fused a - y where textbooks
    derive it, else the chain rule through act'(z) taken from a."""
    if (out, loss) in FUSED:
        return [ak - yk for ak, yk in zip(a, y)]
    d = textbook_loss_derivative(loss, a, y)
    if out == "softmax":
        return softmax_jacobian_times(a, d)
    return [dk * textbook_derivative(out, ak) for dk, ak in zip(d, a)]


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
        ln_a = [zk - z[sc.m] - fmath.log(sc.total) for zk in z]
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
    """The textbook loss from a, as C would compute it: log(0) = -inf, NaN propagates
    (the nan bug's, and --textbook's)."""
    if loss == "quadratic":
        return sum((ak - yk) * (ak - yk) for ak, yk in zip(a, y)) / 2.0
    c_log = lambda v: -math.inf if v == 0 else (fmath.log(v) if v > 0 else math.nan)
    return cross_entropy_terms(loss, [c_log(ak) for ak in a], [c_log(1.0 - ak) for ak in a], y)


def softmax_log_one_minus(z, sc, k):
    """ln(1 - a_k); for the dominant class a log-sum-exp over the others."""
    if k != sc.m:
        return fmath.log1p(-sc.a(k))
    others = [z[i] for i in range(len(z)) if i != k]
    m2 = max(others)
    t = sum(fmath.exp(v - m2) for v in others)
    return m2 - z[k] + fmath.log(t) - fmath.log(sc.total)


def share_without(z, j, k):
    """e_j / sum_{i != k} e_i, in log space: both may underflow while the ratio is 1."""
    others = [z[i] for i in range(len(z)) if i != k]
    m = max(others)
    return fmath.exp(z[j] - m - fmath.log(sum(fmath.exp(v - m) for v in others)))


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


WEIGHT_DECAY = 0.01  # --bug weight-decay


def buggy_slope(bug, act, z, a, hidden):
    """act'(z) as the derivative-formula bugs compute it; None where they leave it alone."""
    if bug == "no-hidden-derivative" and hidden:
        return 1.0
    if bug == "formula-at-z" and act == "sigmoid":
        return z * (1.0 - z)
    if bug == "formula-at-z" and act == "tanh":
        return 1.0 - z * z
    return None


def gradients(case, bug=None):
    net = case["network"]
    layers, loss = net["layers"], net.get("loss", "quadratic")
    reduction = net.get("reduction", "mean")
    targets = case["targets"]
    if bug == "targets-shifted":
        targets = targets[1:] + targets[:1]
    x, y = transpose(case["inputs"]), transpose(targets)
    naive = bug == "nan"
    zs, acts = forward(layers, x, naive)
    out = layers[-1]["activation"]
    n = len(x[0])

    z_cols, a_cols, y_cols = transpose(zs[-1]), transpose(acts[-1]), transpose(y)
    naive_softmax = naive and out == "softmax"
    if naive_softmax or TEXTBOOK:
        losses = [naive_sample_loss(loss, a_cols[c], y_cols[c]) for c in range(n)]
    else:
        losses = [sample_loss(loss, out, z_cols[c], a_cols[c], y_cols[c]) for c in range(n)]
    total = sum(losses) / n if reduction == "mean" else sum(losses)

    if naive_softmax and loss == "cross_entropy" and not TEXTBOOK:  # a * sum(y) - y with the naive a
        deltas_cols = [[ak * sum(y_cols[c]) - yk for ak, yk in zip(a_cols[c], y_cols[c])] for c in range(n)]
    elif bug == "no-output-derivative":
        dl_da = textbook_loss_derivative if TEXTBOOK else loss_derivative
        deltas_cols = [dl_da(loss, a_cols[c], y_cols[c]) for c in range(n)]
    elif bug == "deriv-at-a" and loss == "quadratic" and out != "softmax":
        deltas_cols = [[(ak - yk) * slope(out, None, ak, at_a=True) for ak, yk in zip(a_cols[c], y_cols[c])]
                       for c in range(n)]
    elif bug == "formula-at-z" and loss == "quadratic" and out in ("sigmoid", "tanh"):
        deltas_cols = [[(ak - yk) * buggy_slope(bug, out, zk, ak, False)
                        for zk, ak, yk in zip(z_cols[c], a_cols[c], y_cols[c])] for c in range(n)]
    elif bug == "softmax-diagonal" and out == "softmax" and loss != "cross_entropy":
        deltas_cols = [[dk * ak * (1.0 - ak) for dk, ak in zip(loss_derivative(loss, a_cols[c], y_cols[c]), a_cols[c])]
                       for c in range(n)]
    elif TEXTBOOK:
        deltas_cols = [textbook_output_delta(loss, out, a_cols[c], y_cols[c]) for c in range(n)]
    else:
        deltas_cols = [output_delta(loss, out, z_cols[c], a_cols[c], y_cols[c]) for c in range(n)]
    if bug == "softmax-on-fused" and out == "softmax" and loss == "cross_entropy":
        deltas_cols = [softmax_jacobian_times(a_cols[c], deltas_cols[c]) for c in range(n)]
    delta = transpose(deltas_cols)
    if reduction == "mean" and bug != "sum":
        delta = [[d * (1.0 / n) for d in row] for row in delta]
    if reduction == "mean" and bug == "average-twice":
        delta = [[d * (1.0 / n) for d in row] for row in delta]
    # The samples whose gradients the accumulation keeps.
    kept = {"last-sample": [n - 1], "skip-first": list(range(1, n))}.get(bug, list(range(n)))
    bias_factor = n if bug == "bias-sum" and reduction == "mean" else 1.0
    factor = {"sign": -1.0, "double": 2.0, "half": 0.5, "mean-over-outputs": 1.0 / len(delta)}.get(bug)
    if factor is not None:
        delta = [[factor * d for d in row] for row in delta]

    grads = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        a_prev = zs[l - 1] if bug == "z-for-a" and l > 0 else acts[l]
        dw = [[sum(delta[j][c] * a_prev[i][c] for c in kept) for i in range(len(a_prev))]
              for j in range(len(delta))]
        db = [sum(row[c] for c in kept) * bias_factor for row in delta]
        if bug == "weight-decay":
            dw = [[g + WEIGHT_DECAY * w for g, w in zip(grow, wrow)] for grow, wrow in zip(dw, layers[l]["weights"])]
        grads[l] = {"weights": dw, "biases": db}
        if l > 0:
            w = layers[l]["weights"]
            act, z, a = layers[l - 1]["activation"], zs[l - 1], acts[l]
            at_a = bug == "deriv-at-a"
            square = len(w) == len(w[0])
            wt = (lambda i, j: w[i][j]) if bug == "transpose" and square else (lambda i, j: w[j][i])
            def step(i, c):
                wrong = buggy_slope(bug, act, z[i][c], a[i][c], True)
                return wrong if wrong is not None else slope(act, z[i][c], a[i][c], at_a)
            delta = [[sum(wt(i, j) * delta[j][c] for j in range(len(w))) * step(i, c)
                      for c in range(n)] for i in range(len(w[0]))]

    if bug == "no-zero-grad":
        grads = accumulate(layers, grads)
    reply = {"layers": grads, "loss": total, "outputs": transpose(acts[-1])}
    return apply_value_bug(reply, bug)


ACCUMULATED = {}  # network shape -> gradients so far (--bug no-zero-grad)


def accumulate(layers, grads):
    """The gradients of every call so far with this network's shape, summed."""
    key = json.dumps([[len(l["weights"]), len(l["weights"][0])] for l in layers])
    old = ACCUMULATED.get(key)
    if old is not None:
        grads = [{"weights": [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(g["weights"], o["weights"])],
                  "biases": [a + b for a, b in zip(g["biases"], o["biases"])]} for g, o in zip(grads, old)]
    ACCUMULATED[key] = grads
    return grads


def printed(value, digits):
    """The reply as printed with `digits` significant digits (--digits; None: every digit)."""
    if digits is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, list):
        return [printed(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: printed(v, digits) for k, v in value.items()}
    return value


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
        w[0][0] += w[0][0] * NOISE * (random.randint(1, NOISE_STEPS) if NOISE_STEPS else random.random())
    return reply


# ---------------------------------------------------------------------------
# The protocol loop

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bug", choices=["sign", "bias", "sum", "double", "half", "deriv-at-a", "no-output-derivative",
                                     "z-for-a", "softmax-on-fused", "leaky-zero", "transpose", "last-sample",
                                     "skip-first", "average-twice", "bias-sum", "no-hidden-derivative",
                                     "formula-at-z", "softmax-diagonal", "targets-shifted", "weight-decay",
                                     "mean-over-outputs", "no-zero-grad", "float32", "nan", "shape", "noise", "crash", "hang",
                                     "garbage", "partial", "huge", "stderr", "close", "exit"])
    p.add_argument("--bug-at", type=int, default=3, help="which case (1-based) the event bugs hit")
    p.add_argument("--huge-bytes", type=int, default=70 << 20)
    p.add_argument("--decline", action="append", default=[], help="activation or loss to decline")
    p.add_argument("--precision", choices=["float64", "float32", "bfloat16", "float16"],
                   help="compute in this format (default float64)")
    p.add_argument("--no-precision-field", action="store_true", help="leave \"precision\" out of the replies")
    p.add_argument("--textbook", action="store_true", help="the textbook formulas instead of the stable ones")
    p.add_argument("--digits", type=int, help="print every reply value with this many significant digits")
    args = p.parse_args()
    bug = args.bug
    parse_number = use_precision(args.precision or "float64", args.textbook)
    stated = None if args.no_precision_field else args.precision
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

        case = json.loads(line, parse_float=parse_number, parse_int=parse_number)
        used = set(layer["activation"] for layer in case["network"]["layers"])
        used.add(case["network"].get("loss", "quadratic"))
        declined = sorted(used.intersection(args.decline))
        if declined:
            reply = {"error": "not implemented: " + ", ".join(declined)}
        else:
            reply = gradients(case, bug)
        if stated:
            reply["precision"] = stated
        print(json.dumps(printed(reply, args.digits)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
