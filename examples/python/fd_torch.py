"""Serve any torch.nn.Module to `gradcheck fd` (docs/fd.md#serving-a-torch-module).

    from fd_torch import serve_module
    serve_module(model, lambda out: torch.nn.functional.mse_loss(out, y), x)

The module is converted to float64 (`dtype=torch.float32` keeps float32 and
says so); its parameters are what gradcheck perturbs; the batch `inputs` and
the loss are fixed. A loss point moves the parameters in place under
no_grad and puts them back, so a point costs its shifts and one forward.

Run as a program, it serves a small model with a hand-written autograd
Function in it (the kind of code fd exists for):

    gradcheck fd -- python3 examples/python/fd_torch.py                 # agree
    gradcheck fd -- python3 examples/python/fd_torch.py --bug swish     # disagree: d swish / dz wrong
"""
import argparse
import json
import math
import sys

import torch


def _number(x):
    x = float(x)
    return x if math.isfinite(x) else ("NaN" if x != x else ("Infinity" if x > 0 else "-Infinity"))


def serve_module(module, loss_fn, inputs, dtype=torch.float64, stdin=sys.stdin, stdout=sys.stdout):
    module = module.to(dtype)
    inputs = inputs.to(dtype)
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    index = {n: k for k, (n, _) in enumerate(named)}
    base = [p.detach().clone() for _, p in named]

    def loss_at(point):
        with torch.no_grad():
            moved = set()
            if "direction" in point:
                for n, d in point["direction"].items():
                    p = named[index[n]][1]
                    p.view(-1).add_(torch.tensor(d, dtype=dtype), alpha=point["step"])
                    moved.add(index[n])
            for s in point.get("shifts", ()):
                k = index[s["param"]]
                named[k][1].view(-1)[s["index"]] += s["delta"]
                moved.add(k)
            value = loss_fn(module(inputs)).item()
            for k in moved:
                named[k][1].copy_(base[k])
        return _number(value)

    for line in stdin:
        request = json.loads(line)
        kind = request.get("request")
        if kind == "describe":
            reply = {"parameters": [{"name": n, "shape": list(p.shape), "values": p.detach().view(-1).tolist()}
                                    for n, p in named],
                     "precision": "float64" if dtype == torch.float64 else "float32"}
        elif kind == "gradient":
            module.zero_grad()
            loss = loss_fn(module(inputs))
            loss.backward()
            reply = {"loss": _number(loss.item()),
                     "gradient": {n: [_number(v) for v in p.grad.view(-1).tolist()] for n, p in named}}
        elif kind == "loss":
            reply = {"losses": [loss_at(p) for p in request["points"]]}
        else:
            reply = {"error": "unknown request %r" % kind}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


class Swish(torch.autograd.Function):
    """z · σ(z) with a hand-written backward; --bug swish drops the σ'(z) term."""
    bug = False

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return z * torch.sigmoid(z)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        s = torch.sigmoid(z)
        return grad * (s if Swish.bug else s + z * s * (1 - s))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(3, 5), torch.nn.Linear(5, 2)

    def forward(self, x):
        return self.fc2(Swish.apply(self.fc1(x)))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--bug", choices=["swish"])
    Swish.bug = p.parse_args().bug == "swish"
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    serve_module(Model(), lambda out: torch.nn.functional.mse_loss(out, y), x)
