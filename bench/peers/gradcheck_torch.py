#!/usr/bin/python3
"""torch.autograd.gradcheck on the same case as bench/check_bench.cpp.

Reads the case JSON that `check_bench --case-out FILE` writes (the case format of
ARCHITECTURE.md), builds the same network in float64 and times
torch.autograd.gradcheck over all weights and biases with fast_mode=False and
fast_mode=True (torch's defaults otherwise: eps 1e-6, atol 1e-5, rtol 1e-3).

    /usr/bin/python3 bench/peers/gradcheck_torch.py CASE.json [--repeat N]
    /usr/bin/python3 bench/peers/gradcheck_torch.py CASE.json --once   # one full check, for whole-process timing
"""
import argparse
import json
import statistics
import time

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("case")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--once", action="store_true", help="one fast_mode=False check, no timing: what a user runs")
    args = parser.parse_args()
    with open(args.case) as f:
        case = json.load(f)
    net = case["network"]
    assert net["loss"] == "quadratic" and net.get("reduction", "mean") == "mean"
    params = []
    for layer in net["layers"]:
        assert layer["activation"] == "sigmoid"
        params.append(torch.tensor(layer["weights"], dtype=torch.float64, requires_grad=True))
        params.append(torch.tensor(layer["biases"], dtype=torch.float64, requires_grad=True))
    x = torch.tensor(case["inputs"], dtype=torch.float64).T  # features x samples
    y = torch.tensor(case["targets"], dtype=torch.float64).T
    n = x.shape[1]

    def loss(*ps):
        a = x
        for w, b in zip(ps[0::2], ps[1::2]):
            a = torch.sigmoid(w @ a + b[:, None])
        return 0.5 * ((a - y) ** 2).sum() / n

    count = sum(p.numel() for p in params)
    torch.set_num_threads(torch.get_num_threads())

    def timed(fast, repeat):
        times, cpus = [], []
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            ok = torch.autograd.gradcheck(loss, tuple(params), fast_mode=fast)
            times.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        return ok, statistics.median(times), statistics.median(cpus)

    if args.once:
        ok = torch.autograd.gradcheck(loss, tuple(params), fast_mode=False)
        print(f"torch.autograd.gradcheck: {count} parameters, passed {ok}")
        return
    ok, t_full, c_full = timed(False, args.repeat)
    print(f"torch {torch.__version__} gradcheck fast_mode=False: {count} parameters, passed {ok}: "
          f"median {t_full:.4f} s (cpu {c_full:.4f} s, {torch.get_num_threads()} threads)")
    ok, t_fast, c_fast = timed(True, args.repeat * 20)
    print(f"torch gradcheck fast_mode=True: passed {ok}: median {t_fast:.5f} s (cpu {c_fast:.5f} s)")


if __name__ == "__main__":
    main()
