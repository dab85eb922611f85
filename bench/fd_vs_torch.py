"""`gradcheck fd` against torch.autograd.gradcheck on the same programs (bench/README.md#fd-against-torch).

    /usr/bin/python3 bench/fd_vs_torch.py build/cli/gradcheck

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


def main():
    gradcheck = sys.argv[1]
    print("| function | torch.autograd.gradcheck | time | gradcheck fd | exit | time |")
    print("|---|---|---|---|---|---|")
    for name, args in CASES:
        argv = [sys.executable, ROOT + "/examples/python/" + args[0]] + args[1:]
        tv, tt = torch_side(argv)
        fv, code, ft = fd_side(gradcheck, argv)
        print("| %s | %s | %.2f s | %s | %d | %.2f s |" % (name, tv, tt, fv, code, ft))


if __name__ == "__main__":
    main()
