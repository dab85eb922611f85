"""`gradcheck fd` against torch.autograd.gradcheck on the same programs (bench/README.md#fd-against-torch).

    /usr/bin/python3 bench/fd_vs_torch.py build/cli/gradcheck

The second group of rows are torch modules with hand-written backward passes
(examples/python/fd_torch_models.py): there torch.autograd.gradcheck runs
in-process on the module's loss over its parameters, in a process of its own,
and `gradcheck fd` serves the module through the torch adapter; both are timed
as whole processes (torch's import included on both sides).

Each row is one fd example program (examples/python). torch's side speaks the
same protocol to the same program: a torch.autograd.Function whose forward
asks the program for its loss at θ (a `direction` point from the described
values) and whose backward returns the program's own gradient, checked by
torch.autograd.gradcheck in float64 with its default tolerances
(eps 1e-6, atol 1e-5, rtol 1e-3). Both sides therefore pay the same pipe;
times are wall times, start-up included.
"""
import json
import subprocess
import sys
import time

import torch

ROOT = __file__.rsplit("/bench/", 1)[0]
CASES = [
    ("dense", ["fd_dense.py"]), ("dense, sign flipped", ["fd_dense.py", "--bug", "sign"]),
    ("dense, one entry 1 % off", ["fd_dense.py", "--bug", "one-entry"]),
    ("dense, relu unit at a tie", ["fd_dense.py", "--tie"]),
    ("layer norm", ["fd_layers.py", "layernorm"]), ("layer norm, mean term missing", ["fd_layers.py", "layernorm", "--bug", "no-mean"]),
    ("attention head", ["fd_layers.py", "attention"]),
    ("attention, softmax backward transposed", ["fd_layers.py", "attention", "--bug", "softmax-transposed"]),
    ("LSTM cell", ["fd_layers.py", "lstm"]), ("LSTM, forget gate from c", ["fd_layers.py", "lstm", "--bug", "forget"]),
]


class Program:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, request):
        self.p.stdin.write(json.dumps(request) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def torch_side(argv):
    t0 = time.perf_counter()
    prog = Program(argv)
    params = prog.ask({"request": "describe"})["parameters"]
    theta0 = torch.tensor([v for p in params for v in p["values"]], dtype=torch.float64)
    grad = prog.ask({"request": "gradient"})["gradient"]
    g = torch.tensor([v for p in params for v in grad[p["name"]]], dtype=torch.float64)

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, theta):
            d, k = {}, 0
            for p in params:
                n = len(p["values"])
                d[p["name"]] = (theta - theta0)[k:k + n].tolist()
                k += n
            value = prog.ask({"request": "loss", "points": [{"direction": d, "step": 1.0}]})["losses"][0]
            return torch.tensor(float(value), dtype=torch.float64)

        @staticmethod
        def backward(ctx, out):
            return out * g

    theta = theta0.clone().requires_grad_(True)
    try:
        ok = torch.autograd.gradcheck(Loss.apply, (theta,), raise_exception=False)
    finally:
        prog.close()
    return ("pass" if ok else "FAIL"), time.perf_counter() - t0


def fd_side(gradcheck, argv):
    t0 = time.perf_counter()
    r = subprocess.run([gradcheck, "fd", "--"] + argv, capture_output=True, text=True)
    return r.stdout.strip().splitlines()[-1], r.returncode, time.perf_counter() - t0


# torch modules with hand-written backward passes (examples/python/fd_torch_models.py):
# torch.autograd.gradcheck runs in its own process on the module's loss as a function
# of its parameters (functional_call), fd over the torch adapter; both timed whole.
MODULES = [
    ("conv2d", "conv", None, []), ("conv2d, dW flipped", "conv", "flip-dw", []),
    ("max pool at an exact tie", "tie", None, []), ("max pool at a tie, gradient to both", "tie", "pool-to-ties", []),
    ("conv2d in float32", "float32", None, []), ("conv2d in float32, dW flipped", "float32", "flip-dw", []),
    ("50,890 parameters (fd fast mode)", "big", None, ["--mode", "fast"]),
    ("50,890 parameters, one entry 5 % off (fd fast mode)", "big", "entry", ["--mode", "fast"]),
]


def torch_module_side(model_name, bug):
    """In a fresh process: torch.autograd.gradcheck of the module's loss over its parameters."""
    sys.path.insert(0, ROOT + "/examples/python")
    from fd_torch_models import model_and_loss
    from torch.nn.utils.stateless import functional_call
    model, loss_fn, x = model_and_loss(model_name, bug)
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in model.named_parameters())

    def f(*ps):
        return loss_fn(functional_call(model, dict(zip(names, ps)), (x,)))

    print("pass" if torch.autograd.gradcheck(f, params, raise_exception=False) else "FAIL")


def timed(argv):
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    return r, time.perf_counter() - t0


def main():
    if sys.argv[1] == "--torch-module":  # the torch side of MODULES, in its own process
        return torch_module_side(sys.argv[2], None if sys.argv[3] == "-" else sys.argv[3])
    gradcheck = sys.argv[1]
    print("| function | torch.autograd.gradcheck | time | gradcheck fd | exit | time |")
    print("|---|---|---|---|---|---|")
    for name, args in CASES:
        argv = [sys.executable, ROOT + "/examples/python/" + args[0]] + args[1:]
        tv, tt = torch_side(argv)
        fv, code, ft = fd_side(gradcheck, argv)
        print("| %s | %s | %.2f s | %s | %d | %.2f s |" % (name, tv, tt, fv, code, ft))
    for name, model, bug, fd_options in MODULES:
        tr, tt = timed([sys.executable, __file__, "--torch-module", model, bug or "-"])
        program = [sys.executable, ROOT + "/examples/python/fd_torch_models.py", "--model", model]
        fr, ft = timed([gradcheck, "fd"] + fd_options + ["--"] + program + (["--bug", bug] if bug else []))
        verdict = fr.stdout.strip().splitlines()[-1] if fr.stdout.strip() else fr.stderr.strip()
        print("| %s | %s | %.2f s | %s | %d | %.2f s |" % (name, tr.stdout.strip() or tr.stderr.strip()[-80:], tt,
                                                         verdict, fr.returncode, ft))


if __name__ == "__main__":
    main()
