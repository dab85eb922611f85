#!/usr/bin/env python3
"""A convolutional network's gradients, speaking gradcheck's probe protocol.

Reads one case per line on stdin (docs/case-format.md: dense, conv2d, max_pool
and avg_pool layers), writes one reply per line on stdout: dL/dW and dL/db of
every layer (a conv2d kernel's as [out][in][kh][kw], a pooling layer's empty),
the loss and the outputs. Standard library only; the activations, losses and
output error terms are examples/python/mlp.py's, so this file holds only what
images add: the convolution, the pooling and the walk over a sample's map.

    python3 examples/python/cnn.py --case CASE.json > reply.json   # one case, one reply
    gradcheck verify CASE.json reply.json

Conventions (gradcheck's engine, docs/engine.md): cross-correlation, zero
padding on four sides, a max-pool window's gradient to its first largest entry
in row-major order, avg pool divided by window², images channel-major.

--bug NAME turns it into a wrong implementation, one per conv signature of
`gradcheck verify` (docs/verify.md):
  flip-dw        dW computed with the kernel flipped (a true convolution's indexing)
  flip-dx        dX scattered through the flipped kernel
  stride-one     dW and dX as if the stride were 1
  no-padding     the backward ignores the padding (taps from y = oy·s + u)
  channels-swapped
                 dX through W[i][o] instead of W[o][i] (layers with as many
                 input as output channels)
  pool-to-all    a max-pool window's gradient sent to every entry of the window
  pool-to-ties   ... to every entry equal to the window's maximum
  pool-averaged  ... shared equally over the window, as avg pool does
  avg-undivided  avg pool's gradient not divided by window²
  bias-one-position
                 a conv bias's gradient from the first output position only
  bias-mean      a conv bias's gradient averaged over the positions
  sign           every gradient with the wrong sign (a dense bug, for comparison)
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp  # noqa: E402  (activations, losses and output error terms)


# ---------------------------------------------------------------------------
# Shapes

def shapes(net):
    """Each layer's input and output shape: (c, h, w) for images, (n,) flattened."""
    shape = tuple(net["input_shape"]) if "input_shape" in net else None
    out = []
    for layer in net["layers"]:
        kind = layer.get("type", "dense")
        if kind == "dense":
            n_in = len(layer["weights"][0])
            out.append(((n_in,), (len(layer["weights"]),)))
            shape = (len(layer["weights"]),)
        elif kind == "conv2d":
            c, h, w = shape
            kh, kw = layer["kernel"]
            s, p = layer.get("stride", 1), layer.get("padding", 0)
            o = (len(layer["weights"]), (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1)
            out.append((shape, o))
            shape = o
        else:
            c, h, w = shape
            k = layer["window"]
            s = layer.get("stride", k)
            o = (c, (h - k) // s + 1, (w - k) // s + 1)
            out.append((shape, o))
            shape = o
    return out


def taps(layer, in_shape, out_shape, oy, ox, padding=None, stride=None):
    """(i, u, v, feature) for each kernel tap of output (oy, ox) inside the input."""
    c, h, w = in_shape
    kh, kw = layer["kernel"]
    s = layer.get("stride", 1) if stride is None else stride
    p = layer.get("padding", 0) if padding is None else padding
    for i in range(c):
        for u in range(kh):
            for v in range(kw):
                y, x = oy * s - p + u, ox * s - p + v
                if 0 <= y < h and 0 <= x < w:
                    yield i, u, v, (i * h + y) * w + x


def windows(layer, in_shape, out_shape):
    """(output feature, [input features of its window, row-major])."""
    c, h, w = in_shape
    k = layer["window"]
    s = layer.get("stride", k)
    _, oh, ow = out_shape
    for ch in range(c):
        for oy in range(oh):
            for ox in range(ow):
                yield (ch * oh + oy) * ow + ox, [(ch * h + oy * s + u) * w + ox * s + v
                                                 for u in range(k) for v in range(k)]


# ---------------------------------------------------------------------------
# One sample, forward

def layer_forward(layer, shape, a):
    """z of one sample (a flat list) through one layer."""
    kind = layer.get("type", "dense")
    W, b = layer.get("weights"), layer.get("biases")
    in_shape, out_shape = shape
    if kind == "dense":
        return [sum(wji * ai for wji, ai in zip(row, a)) + bj for row, bj in zip(W, b)]
    if kind == "conv2d":
        o_c, oh, ow = out_shape
        z = [0.0] * (o_c * oh * ow)
        for o in range(o_c):
            for oy in range(oh):
                for ox in range(ow):
                    z[(o * oh + oy) * ow + ox] = b[o] + sum(W[o][i][u][v] * a[f]
                                                           for i, u, v, f in taps(layer, in_shape, out_shape, oy, ox))
        return z
    z = [0.0] * (out_shape[0] * out_shape[1] * out_shape[2])
    for out, window in windows(layer, in_shape, out_shape):
        values = [a[f] for f in window]
        z[out] = max(values) if kind == "max_pool" else sum(values) / len(values)
    return z


def activation(layer):
    return layer.get("activation", "identity" if layer.get("type", "dense").endswith("pool") else None)


# ---------------------------------------------------------------------------
# One sample, backward through one layer

def conv_backward(layer, shape, a, delta, bug):
    """dW, db and dL/da of one conv2d layer for one sample."""
    in_shape, out_shape = shape
    W = layer["weights"]
    o_c, oh, ow = out_shape
    kh, kw = layer["kernel"]
    dW = [[[[0.0] * kw for _ in range(kh)] for _ in range(in_shape[0])] for _ in range(o_c)]
    db = [0.0] * o_c
    da = [0.0] * len(a)
    back = {}  # the backward's taps, as the bugs compute them
    if bug == "stride-one":
        back["stride"] = 1
    if bug == "no-padding":
        back["padding"] = 0
    square = o_c == in_shape[0]
    for o in range(o_c):
        for oy in range(oh):
            for ox in range(ow):
                d = delta[(o * oh + oy) * ow + ox]
                db[o] += d if bug != "bias-one-position" or (oy, ox) == (0, 0) else 0.0
                for i, u, v, f in taps(layer, in_shape, out_shape, oy, ox, **back):
                    fu, fv = (kh - 1 - u, kw - 1 - v)
                    if bug == "flip-dw":
                        dW[o][i][fu][fv] += d * a[f]
                    else:
                        dW[o][i][u][v] += d * a[f]
                    if bug == "flip-dx":
                        da[f] += W[o][i][fu][fv] * d
                    elif bug == "channels-swapped" and square:
                        da[f] += W[i][o][u][v] * d
                    else:
                        da[f] += W[o][i][u][v] * d
    if bug == "bias-mean":
        db = [v / (oh * ow) for v in db]
    return dW, db, da


def pool_backward(layer, shape, a, delta, bug):
    """dL/da of one pooling layer for one sample."""
    in_shape, out_shape = shape
    da = [0.0] * len(a)
    kind = layer["type"]
    for out, window in windows(layer, in_shape, out_shape):
        d = delta[out]
        if kind == "avg_pool":
            share = d if bug == "avg-undivided" else d / len(window)
            for f in window:
                da[f] += share
            continue
        values = [a[f] for f in window]
        top = max(values)
        if bug == "pool-to-all":
            targets = window
        elif bug == "pool-to-ties":
            targets = [f for f in window if a[f] == top]
        elif bug == "pool-averaged":
            targets, d = window, d / len(window)
        else:
            targets = [window[values.index(top)]]
        for f in targets:
            da[f] += d
    return da


def dense_backward(layer, a, delta):
    W = layer["weights"]
    dW = [[dj * ai for ai in a] for dj in delta]
    da = [sum(W[j][i] * delta[j] for j in range(len(W))) for i in range(len(a))]
    return dW, list(delta), da


# ---------------------------------------------------------------------------
# The batch

def gradients(case, bug=None):
    net = case["network"]
    layers, loss = net["layers"], net.get("loss", "quadratic")
    reduction = net.get("reduction", "mean")
    shp = shapes(net)
    n = len(case["inputs"])
    out_act = activation(layers[-1])
    grads = [None] * len(layers)
    total, outputs = 0.0, []
    for x, y in zip(case["inputs"], case["targets"]):
        zs, acts = [], [list(x)]
        for layer, shape in zip(layers, shp):
            z = layer_forward(layer, shape, acts[-1])
            zs.append(z)
            acts.append([col[0] for col in mlp.activate(activation(layer), [[v] for v in z])])
        total += mlp.sample_loss(loss, out_act, zs[-1], acts[-1], y)
        outputs.append(acts[-1])
        delta = mlp.output_delta(loss, out_act, zs[-1], acts[-1], y)
        if reduction == "mean":
            delta = [d / n for d in delta]
        if bug == "sign":
            delta = [-d for d in delta]
        for l in range(len(layers) - 1, -1, -1):
            layer, kind = layers[l], layers[l].get("type", "dense")
            if kind == "dense":
                dW, db, da = dense_backward(layer, acts[l], delta)
            elif kind == "conv2d":
                dW, db, da = conv_backward(layer, shp[l], acts[l], delta, bug)
            else:
                dW, db, da = [], [], pool_backward(layer, shp[l], acts[l], delta, bug)
            grads[l] = (dW, db) if grads[l] is None else (add(grads[l][0], dW), add(grads[l][1], db))
            if l > 0:
                act = activation(layers[l - 1])
                delta = [g * mlp.slope(act, z, a) for g, z, a in zip(da, zs[l - 1], acts[l])]
    return {"layers": [{"weights": g[0], "biases": g[1]} for g in grads],
            "loss": total / n if reduction == "mean" else total, "outputs": outputs}


def add(x, y):
    """Elementwise sum of two equally nested lists."""
    if isinstance(x, list):
        return [add(a, b) for a, b in zip(x, y)]
    return x + y


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bug", choices=["flip-dw", "flip-dx", "stride-one", "no-padding", "channels-swapped",
                                     "pool-to-all", "pool-to-ties", "pool-averaged", "avg-undivided",
                                     "bias-one-position", "bias-mean", "sign"])
    p.add_argument("--case", help="answer this case file (any layout) once, instead of lines on stdin")
    args = p.parse_args()
    if args.case:
        with open(args.case) as f:
            print(json.dumps(gradients(json.load(f), args.bug)))
        return 0
    for line in sys.stdin:
        print(json.dumps(gradients(json.loads(line), args.bug)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
