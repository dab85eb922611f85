"""Serve a program's parameters, loss and gradient to `gradcheck fd` (docs/fd.md).

    from fd_serve import serve
    serve({"W": [[0.1, 0.2], [0.3, 0.4]], "b": [0.0, 0.1]}, loss, gradient)

`parameters` maps each name to its values: a number or nested lists (the
shape is read from the nesting). `loss(params)` returns the loss at `params`
(the same structure, perturbed); `gradient(params)` returns `(loss, grads)`
with `grads` in the same structure. Neither may modify what it is given:
untouched parameters are shared between evaluations. The batch is the
program's own and stays fixed. Standard library only.
"""
import json
import sys


def _shape(v):
    return [len(v)] + _shape(v[0]) if isinstance(v, (list, tuple)) else []


def _flat(v):
    if not isinstance(v, (list, tuple)):
        return [float(v)]
    return [x for row in v for x in _flat(row)] if v and isinstance(v[0], (list, tuple)) else [float(x) for x in v]


def _nest(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0]
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def serve(parameters, loss, gradient, precision=None, stdin=sys.stdin, stdout=sys.stdout):
    names = list(parameters)
    shapes = {n: _shape(parameters[n]) for n in names}
    flats = {n: _flat(parameters[n]) for n in names}
    base = {n: _nest(flats[n], shapes[n]) for n in names}

    def at(point):
        moved = {}
        for s in point.get("shifts", ()):
            v = moved.setdefault(s["param"], list(flats[s["param"]]))
            v[s["index"]] += s["delta"]
        step = point.get("step", 0.0)
        for n, d in point.get("direction", {}).items():
            v = moved.setdefault(n, list(flats[n]))
            for i, x in enumerate(d):
                v[i] += step * x
        return {n: _nest(moved[n], shapes[n]) if n in moved else base[n] for n in names}

    for line in stdin:
        request = json.loads(line).get("request")
        if request == "describe":
            reply = {"parameters": [{"name": n, "shape": shapes[n], "values": flats[n]} for n in names]}
            if precision:
                reply["precision"] = precision
        elif request == "gradient":
            value, grads = gradient(at({}))
            reply = {"loss": value, "gradient": {n: _flat(grads[n]) for n in names}}
        elif request == "loss":
            reply = {"losses": [loss(at(p)) for p in json.loads(line)["points"]]}
        else:
            reply = {"error": "unknown request %r" % request}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
