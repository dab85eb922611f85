"""Layers gradcheck does not implement, served to `gradcheck fd` (docs/fd.md), stdlib only.

    gradcheck fd -- python3 examples/python/fd_layers.py layernorm               # agree
    gradcheck fd -- python3 examples/python/fd_layers.py layernorm --bug no-mean  # disagree

layernorm  h = W x (W [4, 3]), y = γ ⊙ (h − μ) / σ + β, batch 3
           --bug no-mean: the −mean(γ dy) term of the backward left out
attention  one head, 3 tokens of 4 features: Q, K, V = X Wq, X Wk, X Wv ([4, 3] each),
           O = softmax(Q Kᵀ / √3) V
           --bug softmax-transposed: the softmax backward sums over the column, not the row
lstm       one LSTM step, batch 2, 3 inputs, 2 units: W [8, 5], b [8] (gates i, f, g, o)
           --bug forget: dL/df taken as dc ⊙ c (the new cell) instead of dc ⊙ c_prev
Each loss is ½ Σ (output − target)² over the batch, the batch fixed.
"""
import argparse
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fd_serve import serve  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("layer", choices=["layernorm", "attention", "lstm"])
p.add_argument("--bug", choices=["no-mean", "softmax-transposed", "forget"])
args = p.parse_args()
rng = random.Random(11)


def mat(r, c, a=1.0):
    return [[round(rng.uniform(-a, a), 3) for _ in range(c)] for _ in range(r)]


def matmul(A, B):
    return [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]


def T(A):
    return [list(c) for c in zip(*A)]


def half_sq(Y, Tg):
    return 0.5 * sum((y - t) ** 2 for ry, rt in zip(Y, Tg) for y, t in zip(ry, rt))


def diff(Y, Tg):
    return [[y - t for y, t in zip(ry, rt)] for ry, rt in zip(Y, Tg)]


# --- layer normalisation after a linear layer -------------------------------------------
def layernorm_forward(P, x):
    h = [sum(w * xi for w, xi in zip(row, x)) for row in P["W"]]
    mu = sum(h) / len(h)
    sigma = math.sqrt(sum((v - mu) ** 2 for v in h) / len(h) + 1e-5)
    xhat = [(v - mu) / sigma for v in h]
    return [g * v + b for g, v, b in zip(P["gamma"], xhat, P["beta"])], xhat, sigma


def layernorm_grad(P, X, Tg):
    g = {"W": [[0.0] * 3 for _ in range(4)], "gamma": [0.0] * 4, "beta": [0.0] * 4}
    for x, t in zip(X, Tg):
        y, xhat, sigma = layernorm_forward(P, x)
        dy = [a - b for a, b in zip(y, t)]
        dxhat = [d * gm for d, gm in zip(dy, P["gamma"])]
        m1 = 0.0 if args.bug == "no-mean" else sum(dxhat) / 4
        m2 = sum(d * v for d, v in zip(dxhat, xhat)) / 4
        dh = [(d - m1 - v * m2) / sigma for d, v in zip(dxhat, xhat)]
        for j in range(4):
            g["gamma"][j] += dy[j] * xhat[j]
            g["beta"][j] += dy[j]
            for i in range(3):
                g["W"][j][i] += dh[j] * x[i]
    return g


# --- one attention head ----------------------------------------------------------------
def attention_forward(P, X):
    Q, K, V = matmul(X, P["Wq"]), matmul(X, P["Wk"]), matmul(X, P["Wv"])
    S = [[s / math.sqrt(3) for s in row] for row in matmul(Q, T(K))]
    A = []
    for row in S:
        m = max(row)
        e = [math.exp(s - m) for s in row]
        A.append([v / sum(e) for v in e])
    return matmul(A, V), Q, K, V, A


def attention_grad(P, X, Tg):
    O, Q, K, V, A = attention_forward(P, X)
    dO = diff(O, Tg)
    dA, dV = matmul(dO, T(V)), matmul(T(A), dO)
    n = len(A)
    if args.bug == "softmax-transposed":
        dS = [[A[i][j] * (dA[i][j] - sum(dA[k][j] * A[k][j] for k in range(n))) for j in range(n)] for i in range(n)]
    else:
        dS = [[A[i][j] * (dA[i][j] - sum(dA[i][k] * A[i][k] for k in range(n))) for j in range(n)] for i in range(n)]
    dS = [[v / math.sqrt(3) for v in row] for row in dS]
    dQ, dK = matmul(dS, K), matmul(T(dS), Q)
    return {"Wq": matmul(T(X), dQ), "Wk": matmul(T(X), dK), "Wv": matmul(T(X), dV)}


# --- one LSTM step -----------------------------------------------------------------------
def sig(z):
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def lstm_forward(P, x, h0, c0):
    v = x + h0
    z = [sum(w * a for w, a in zip(row, v)) + b for row, b in zip(P["W"], P["b"])]
    i, f, o = [sig(a) for a in z[0:2]], [sig(a) for a in z[2:4]], [sig(a) for a in z[6:8]]
    g = [math.tanh(a) for a in z[4:6]]
    c = [fk * ck + ik * gk for fk, ck, ik, gk in zip(f, c0, i, g)]
    h = [ok * math.tanh(ck) for ok, ck in zip(o, c)]
    return h, (v, i, f, g, o, c)


def lstm_grad(P, X, Tg, H0, C0):
    gr = {"W": [[0.0] * 5 for _ in range(8)], "b": [0.0] * 8}
    for x, t, h0, c0 in zip(X, Tg, H0, C0):
        h, (v, i, f, g, o, c) = lstm_forward(P, x, h0, c0)
        dh = [a - b for a, b in zip(h, t)]
        do = [d * math.tanh(ck) for d, ck in zip(dh, c)]
        dc = [d * ok * (1 - math.tanh(ck) ** 2) for d, ok, ck in zip(dh, o, c)]
        df = [d * (ck if args.bug == "forget" else cp) for d, ck, cp in zip(dc, c, c0)]
        di, dg = [d * gk for d, gk in zip(dc, g)], [d * ik for d, ik in zip(dc, i)]
        dz = ([d * a * (1 - a) for d, a in zip(di, i)] + [d * a * (1 - a) for d, a in zip(df, f)]
              + [d * (1 - a * a) for d, a in zip(dg, g)] + [d * a * (1 - a) for d, a in zip(do, o)])
        for r in range(8):
            gr["b"][r] += dz[r]
            for k in range(5):
                gr["W"][r][k] += dz[r] * v[k]
    return gr


if args.layer == "layernorm":
    params = {"W": mat(4, 3), "gamma": [round(rng.uniform(0.5, 1.5), 3) for _ in range(4)],
              "beta": [round(rng.uniform(-0.5, 0.5), 3) for _ in range(4)]}
    X, Tg = mat(3, 3), mat(3, 4)

    def loss(P):
        return sum(half_sq([layernorm_forward(P, x)[0]], [t]) for x, t in zip(X, Tg))

    def gradient(P):
        return loss(P), layernorm_grad(P, X, Tg)
elif args.layer == "attention":
    params = {"Wq": mat(4, 3), "Wk": mat(4, 3), "Wv": mat(4, 3)}
    X, Tg = mat(3, 4), mat(3, 3)

    def loss(P):
        return half_sq(attention_forward(P, X)[0], Tg)

    def gradient(P):
        return loss(P), attention_grad(P, X, Tg)
else:
    params = {"W": mat(8, 5, 0.7), "b": [round(rng.uniform(-0.3, 0.3), 3) for _ in range(8)]}
    X, Tg, H0, C0 = mat(2, 3), mat(2, 2, 0.5), mat(2, 2, 0.5), mat(2, 2, 0.5)

    def loss(P):
        return sum(half_sq([lstm_forward(P, x, h0, c0)[0]], [t]) for x, t, h0, c0 in zip(X, Tg, H0, C0))

    def gradient(P):
        return loss(P), lstm_grad(P, X, Tg, H0, C0)

serve(params, loss, gradient)
