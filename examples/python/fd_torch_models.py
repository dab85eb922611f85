"""torch models with hand-written backward passes, served to `gradcheck fd` (docs/fd.md#serving-a-torch-module).

    gradcheck fd -- /usr/bin/python3 examples/python/fd_torch_models.py --model conv                # agree
    gradcheck fd -- /usr/bin/python3 examples/python/fd_torch_models.py --model conv --bug flip-dw  # disagree

Models (a fixed batch, a fixed mean-squared-error loss, seed 0):
  conv     conv2d 1 -> 2 channels, 3x3, padding 1, relu, 2x2 max pool, dense 8 -> 3;
           the conv2d and the max pool are torch.autograd.Functions written by hand.
           --bug flip-dw: dW turned 180 degrees (a true convolution).
  tie      the conv model plus a learned offset image P before the pool, set so that
           sample 0's first pooling window has an exact tie between two entries that
           different weights feed: a kink of the loss. --bug pool-to-ties: the pool's
           gradient goes to every tied entry instead of one.
  float32  the conv model in float32 (the description says so). --bug flip-dw.
  big      784 -> 64 -> 10, tanh, 50,890 parameters, the first layer's backward written by hand.
           --bug entry: dW[12][345] of the first layer off by 5 % of the largest |dW|.
`model_and_loss(name, bug)` returns (module, loss_fn, inputs) for in-process use
(bench/fd_vs_torch.py runs torch.autograd.gradcheck on the same function).
"""
import argparse

import torch
import torch.nn.functional as F

from fd_torch import serve_module

BUG = {"value": None}


class Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return F.conv2d(x, w, b, padding=1)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = torch.nn.grad.conv2d_input(x.shape, w, g, padding=1)
        gw = torch.nn.grad.conv2d_weight(x, w.shape, g, padding=1)
        if BUG["value"] == "flip-dw":
            gw = gw.flip(-1, -2)
        return gx, gw, g.sum((0, 2, 3))


class MaxPool(torch.autograd.Function):
    """2x2 max pool; its gradient goes to the entry torch's max_pool2d picks (the first of a tie)."""

    @staticmethod
    def forward(ctx, z):
        out, idx = F.max_pool2d(z, 2, return_indices=True)
        ctx.save_for_backward(z, out, idx)
        return out

    @staticmethod
    def backward(ctx, g):
        z, out, idx = ctx.saved_tensors
        if BUG["value"] == "pool-to-ties":  # every entry equal to its window's max
            up = F.interpolate(out, scale_factor=2, mode="nearest")
            return (z == up).to(g.dtype) * F.interpolate(g, scale_factor=2, mode="nearest")
        return F.max_unpool2d(g, idx, 2, output_size=z.shape[-2:])


class HandLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return x @ w.t() + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gw = g.t() @ x
        if BUG["value"] == "entry":
            gw = gw.clone()
            gw[12, 345] += 0.05 * gw.abs().max()
        return g @ w, gw, g.sum(0)


class ConvNet(torch.nn.Module):
    def __init__(self, offset=False):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)
        self.fc = torch.nn.Linear(8, 3)
        self.offset = torch.nn.Parameter(torch.zeros(2, 4, 4)) if offset else None

    def forward(self, x):
        z = torch.relu(Conv.apply(x, self.conv.weight, self.conv.bias))
        if self.offset is not None:
            z = z + self.offset
        return self.fc(MaxPool.apply(z).flatten(1))


class Big(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(784, 64), torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(torch.tanh(HandLinear.apply(x, self.fc1.weight, self.fc1.bias)))


def _dyadic(*shape):  # multiples of 1/8: sums of their products are exact in float64
    return torch.randint(-8, 9, shape).to(torch.float64) / 8


def _tie(model, x):
    """Sets the offset so that sample 0, channel 0, window (0, 0) ties between (0, 0) and (0, 1)."""
    with torch.no_grad():
        for p in (model.conv.weight, model.conv.bias):
            p.copy_(_dyadic(*p.shape))
        model.conv.bias[0] = 16.0  # channel 0's relu never at 0: both tied entries depend on the weights
        z = torch.relu(F.conv2d(x, model.conv.weight, model.conv.bias, padding=1))
        model.offset[0, 0, 0] = 4.0
        model.offset[0, 0, 1] = z[0, 0, 0, 0] + 4.0 - z[0, 0, 0, 1]
        assert z[0, 0, 0, 0] + model.offset[0, 0, 0] == z[0, 0, 0, 1] + model.offset[0, 0, 1]


def model_and_loss(name, bug=None):
    BUG["value"] = bug
    torch.manual_seed(0)
    dtype = torch.float32 if name == "float32" else torch.float64
    if name == "big":
        model, x, y = Big(), torch.randn(8, 784), torch.randn(8, 10)
    else:
        model = ConvNet(offset=name == "tie")
        x, y = _dyadic(2, 1, 4, 4), torch.randn(2, 3)
    model, x, y = model.to(dtype), x.to(dtype), y.to(dtype)
    if name == "tie":
        _tie(model, x)
    return model, (lambda out: F.mse_loss(out, y)), x


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["conv", "tie", "float32", "big"], default="conv")
    p.add_argument("--bug", choices=["flip-dw", "pool-to-ties", "entry"])
    a = p.parse_args()
    model, loss_fn, x = model_and_loss(a.model, a.bug)
    serve_module(model, loss_fn, x, dtype=torch.float32 if a.model == "float32" else torch.float64)
