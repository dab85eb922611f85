#!/usr/bin/python3
"""Writes the seed corpora under fuzz/corpus/ (committed; run again only to change them).

Seeds are small valid inputs and near-valid ones, one per kind of mistake, so that
the fuzzer starts next to every branch of the readers:
  fuzz_case_parser/   cases: every activation and loss, then one broken thing each
  fuzz_reply_parser/  replies: NaN/Infinity tokens in every spelling, null, 1e999, errors
  fuzz_idx_reader/    IDX images and labels, plain and gzip'd, truncated, bad magic
Findings of the fuzzer are committed next to the seeds as regression-<what>; this
script leaves them alone.
Usage: /usr/bin/python3 fuzz/make_seeds.py   (from anywhere; deterministic output)
"""
import gzip
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
ROOT = os.path.dirname(HERE)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def case(acts=("sigmoid", "sigmoid"), loss="quadratic", reduction=None, inputs=None, targets=None, name=None):
    layers = [
        {"activation": acts[0], "weights": [[0.1, 0.15, 0.2], [0.3, 0.35, 0.4]], "biases": [0.25, 0.45]},
        {"activation": acts[1], "weights": [[0.5, 0.55]], "biases": [0.6]},
    ]
    if acts[1] == "softmax":
        layers[1] = {"activation": "softmax", "weights": [[0.5, 0.55], [-0.5, 0.25]], "biases": [0.6, -0.1]}
    net = {"layers": layers, "loss": loss}
    if reduction:
        net["reduction"] = reduction
    c = {}
    if name:
        c["name"] = name
    c["network"] = net
    c["inputs"] = inputs if inputs is not None else [[0.0, 0.5, 1.0], [1.0, -2.0, 3.5]]
    out = len(layers[1]["weights"])
    c["targets"] = targets if targets is not None else [[1.0] + [0.0] * (out - 1), [0.0] * (out - 1) + [1.0]]
    return c


def dump(c, compact=True):
    return json.dumps(c, separators=(",", ":")) if compact else json.dumps(c, indent=2)


def case_seeds():
    t = "fuzz_case_parser"
    shutil.copy(os.path.join(ROOT, "docs/examples/case-321.json"), os.path.join(CORPUS, t, "valid-case-321.json"))
    for a in ("identity", "sigmoid", "tanh", "relu", "leaky_relu"):
        write(t, f"valid-{a}.json", dump(case((a, "identity"), reduction="sum")))
    write(t, "valid-softmax-ce.json", dump(case(("tanh", "softmax"), "cross_entropy", name="softmax")))
    write(t, "valid-bce.json", dump(case(("relu", "sigmoid"), "binary_cross_entropy", "mean")))
    write(t, "valid-integers-exponents.json",
          '{"network":{"layers":[{"activation":"identity","weights":[[1e-2,-3E+1,18446744073709551615]],'
          '"biases":[-0]}],"loss":"quadratic"},"inputs":[[1,2,3]],"targets":[[0.5e1]]}')
    write(t, "valid-unicode-name.json",
          json.dumps(case(name="r\u00e9seau \u03c3 \U0001F600 \\\" \u0000"), ensure_ascii=False))
    base = dump(case())
    bad = {
        "missing-comma": base.replace(',"inputs"', '"inputs"'),
        "empty": "",
        "trailing": base + "\n]",
        "nan-weight": base.replace("0.3,", "NaN,"),
        "inf-input": base.replace("[[0.0,0.5,1.0]", "[[0.0,-Infinity,1.0]"),
        "overflow-bias": base.replace("0.6]", "1e999]"),
        "deep": "[" * 70,
        "not-object": "[1, 2]",
        "no-network": '{"inputs": [[0]], "targets": [[1]]}',
        "weights-string": base.replace("[[0.5,0.55]]", '"0.5 0.55"'),
        "flat-weights": base.replace("[[0.5,0.55]]", "[0.5,0.55]"),
        "string-number": base.replace("0.35", '"0.35"'),
        "null-bias": base.replace("0.6]", "null]"),
        "ragged": base.replace("[0.3,0.35,0.4]", "[0.3,0.35]"),
        "mismatched": base.replace("[[0.5,0.55]]", "[[0.5,0.55,0.6]]"),
        "few-biases": base.replace("[0.25,0.45]", "[0.25]"),
        "no-layers": '{"network":{"layers":[],"loss":"quadratic"},"inputs":[[1]],"targets":[[1]]}',
        "no-units": base.replace("[[0.5,0.55]]", "[]"),
        "empty-batch": base.replace('"inputs":[[0.0,0.5,1.0],[1.0,-2.0,3.5]]', '"inputs":[]')
                           .replace('"targets":[[1.0],[0.0]]', '"targets":[]'),
        "unknown-activation": base.replace('"sigmoid"', '"sigmoyd"', 1),
        "unknown-loss": base.replace('"quadratic"', '"mse"'),
        "unknown-reduction": base.replace('"quadratic"', '"quadratic","reduction":"average"'),
        "softmax-hidden": base.replace('"sigmoid"', '"softmax"', 1),
        "ce-target": dump(case(loss="cross_entropy", targets=[[1.5], [0.0]])),
        "bce-target": dump(case(loss="binary_cross_entropy", targets=[[-0.25], [0.0]])),
        "ce-relu": dump(case(("sigmoid", "relu"), "cross_entropy")),
        "misspelled": base.replace('"activation"', '"activaton"', 1),
        "duplicate": base.replace('"biases":[0.6]', '"biases":[0.6],"biases":[0.7]'),
        "wide": '{"network":{"layers":[{"activation":"identity","weights":[[' + ",".join(["0"] * 600) +
                ']],"biases":[0]}],"loss":"quadratic"},"inputs":[[0]],"targets":[[0]]}',
        "bad-utf8": base.replace('"sigmoid"', '"sigm\xffid"', 1),
        "bad-escape": base.replace('"sigmoid"', '"\\ud800"', 1),
    }
    for name, text in bad.items():
        write(t, f"bad-{name}.json", text.encode("latin-1") if "\xff" in text else text)
    conv_seeds(t)


def conv_case():
    """1 x 5 x 5 images, conv2d 3 x 3 (2 channels, padding 1) + relu, 2 x 2 max pool, dense 8 -> 1."""
    kernel = [[[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]],
              [[[-0.1, -0.2, -0.3], [-0.4, -0.5, -0.6], [-0.7, -0.8, -0.9]]]]
    layers = [
        {"type": "conv2d", "activation": "relu", "in_channels": 1, "kernel": [3, 3], "stride": 1, "padding": 1,
         "weights": kernel, "biases": [0.05, -0.05]},
        {"type": "max_pool", "window": 2, "stride": 2},
        {"activation": "sigmoid", "weights": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]], "biases": [0.25]},
    ]
    return {"network": {"input_shape": [1, 5, 5], "layers": layers, "loss": "quadratic"},
            "inputs": [[0.04 * k for k in range(25)]], "targets": [[1.0]]}


def conv_seeds(t):
    base = dump(conv_case())
    write(t, "valid-conv2d-max-pool.json", base)
    write(t, "valid-avg-pool-first.json", base.replace('"layers":[', '"layers":[{"type":"avg_pool","window":1},', 1))
    write(t, "valid-conv2d-stride-2.json", base.replace('"stride":1,"padding":1', '"stride":2,"padding":1')
          .replace('{"type":"max_pool","window":2,"stride":2}', '{"type":"max_pool","window":1}')
          .replace('[[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]]', '[[' + ",".join(["0.1"] * 18) + ']]'))
    bad = {
        "conv-no-input-shape": base.replace('"input_shape":[1,5,5],', ""),
        "conv-kernel-too-large": base.replace("[1,5,5]", "[1,1,5]").replace('"padding":1', '"padding":0'),
        "conv-stride-zero": base.replace('"stride":1,', '"stride":0,'),
        "conv-negative-padding": base.replace('"padding":1', '"padding":-1'),
        "conv-channel-mismatch": base.replace("[1,5,5]", "[2,5,5]"),
        "conv-overflow": base.replace("[1,5,5]", "[1048576,1048576,1048576]"),
        "conv-dense-width": base.replace("0.7,0.8]]", "0.7]]"),
        "conv-ragged-kernel": base.replace("[0.7,0.8,0.9]", "[0.7,0.8]"),
        "conv-fractional-stride": base.replace('"stride":1,', '"stride":1.5,'),
        "conv-pool-activation": base.replace('{"type":"max_pool",', '{"type":"max_pool","activation":"relu",'),
    }
    for name, text in bad.items():
        write(t, f"bad-{name}.json", text)


def reply_seeds():
    t = "fuzz_reply_parser"
    shutil.copy(os.path.join(ROOT, "docs/examples/reply-321.json"), os.path.join(CORPUS, t, "valid-reply-321.json"))
    write(t, "nan-tokens.json",
          '{"layers": [{"weights": [[NaN, 1], [-Infinity, inf]], "biases": [nan, -inf]}], "loss": Infinity, '
          '"outputs": [[INF], [-NaN]]}')
    write(t, "null-values.json", '{"layers": [{"weights": [[null]], "biases": [0.5]}], "loss": null}')
    write(t, "overflow.json",
          '{"layers": [{"weights": [[1.7976931348623157e308, 1.7976931348623158e308, 1.7976931348623159e308, '
          '1e999, -1e999, 1e-400, 0.1e310]], "biases": [1]}]}')
    write(t, "extra-fields.json",
          '{"id": 17, "layers": [{"weights": [[1, 2, 3]], "biases": [], "note": "x"}, {"weights": [], "biases": [4]}],'
          ' "time_ms": 0.25}')
    write(t, "declined.json", '{"error": "softmax not implemented"}')
    write(t, "declined-object.json", '{"error": {"code": 3, "why": [NaN]}}')
    write(t, "error-null.json", '{"error": null, "layers": []}')
    write(t, "duplicate.json", '{"layers": [], "layers": [{"weights": [[1]], "biases": [2]}], "loss": 1, "loss": 2}')
    write(t, "ragged.json", '{"layers": [{"weights": [[1, 2], [3]], "biases": [0, 0]}]}')
    write(t, "ragged-outputs.json", '{"layers": [], "outputs": [[1], [2, 3]]}')
    write(t, "no-layers.json", '{"loss": 1}')
    write(t, "string-loss.json", '{"layers": [], "loss": "0.5"}')
    write(t, "garbage.json", "got here\n")
    write(t, "many-nan.json", '{"layers": [{"weights": [[' + ",".join(["NaN"] * 120) + ']], "biases": []}]}')
    write(t, "nan-in-string.json", '{"layers": [], "x": "NaN Infinity \\" inf", "loss": -0.0}')
    write(t, "python-repr.json", "{'layers': []}")
    write(t, "two-lines.json", '{"layers": []}\n{"layers": []}\n')
    write(t, "conv-kernel.json",
          '{"layers": [{"weights": [[[[1, 2], [3, 4]]], [[[5, NaN], [7, 8]]]], "biases": [0.5, -0.5]}, '
          '{"weights": [], "biases": []}, {"weights": [[1, 2]], "biases": [0]}]}')
    write(t, "conv-ragged-kernel.json", '{"layers": [{"weights": [[[[1, 2]]], [[[3]]]], "biases": [0, 0]}]}')


def idx(dims, data):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


def idx_seeds():
    t = "fuzz_idx_reader"
    images = idx([3, 4, 5], [(i * 37) % 256 for i in range(60)])
    labels = idx([3], [9, 0, 3])
    seeds = {
        "images-3x4x5.idx": images,
        "labels-3.idx": labels,
        "images-3x4x5.idx.gz": gz(images),
        "labels-3.idx.gz": gz(labels),
        "empty-images-0x28x28.idx": idx([0, 28, 28], []),
        "zero-count-huge-image.idx": idx([0, 0xFFFFFFFF, 0xFFFFFFFF], []),
        "rank-2.idx": idx([2, 3], range(6)),
        "rank-4.idx": idx([1, 2, 2, 2], range(8)),
        "truncated-header.idx": images[:10],
        "truncated-magic.idx": images[:2],
        "truncated-data.idx": images[:-7],
        "surplus-data.idx": images + b"\x00\x01",
        "wrong-magic-png.idx": b"\x89PNG\r\n\x1a\n" + images[8:],
        "wrong-type.idx": b"\x00\x00\x09\x03" + images[4:],
        "rank-0.idx": b"\x00\x00\x08\x00",
        "over-limit.idx": idx([1000000000, 28, 28], range(16)),
        "gzip-cut.idx.gz": gz(images)[:-12],
        "gzip-no-trailer.idx.gz": gz(images)[:-8],
        "gzip-bad-crc.idx.gz": gz(images)[:-8] + b"\x00\x00\x00\x00" + gz(images)[-4:],
        "gzip-two-members.idx.gz": gz(images[:30]) + gz(images[30:]),
        "gzip-trailing-junk.idx.gz": gz(labels) + b"junk",
        "gzip-surplus.idx.gz": gz(labels + b"\x07"),
    }
    for name, data in seeds.items():
        write(t, name, data)


if __name__ == "__main__":
    for t in ("fuzz_case_parser", "fuzz_reply_parser", "fuzz_idx_reader"):
        # Findings (regression-*) are kept; the seeds are written afresh.
        d = os.path.join(CORPUS, t)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if not f.startswith("regression-"):
                os.remove(os.path.join(d, f))
    case_seeds()
    reply_seeds()
    idx_seeds()
    for t in sorted(os.listdir(CORPUS)):
        print(t, len(os.listdir(os.path.join(CORPUS, t))), "seeds")
