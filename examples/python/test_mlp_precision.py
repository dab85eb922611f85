#!/usr/bin/env python3
"""Self-test of examples/python/mlp.py's --precision and --textbook (stdlib unittest).

round_to against independent references: struct's float32 ('f') on 10,000
random doubles, and for bfloat16 and float16 the nearest of every finite value
of the format, enumerated from its 65,536 bit patterns and compared exactly;
known values at the ends; every value of a float32 run's replies a float32;
the "precision" field; and a --textbook float64 run giving the default run's
gradients within 1e-6.

    cd examples/python && python3 -B -m unittest -v test_mlp_precision

(ctest runs exactly this: python_example_precision_rounds_as_ieee_754_does.)
"""

import bisect
import json
import math
import os
import random
import struct
import subprocess
import sys
import unittest
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import mlp  # noqa: E402  (its main() runs only as a program)

round_to = mlp.round_to
INF = math.inf


def struct_float32(x):
    """C's (float)x through struct; its OverflowError is IEEE's inf."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(INF, x)


def format_values(decode):
    """Every finite non-negative value of a 16-bit format, ascending, and their bit patterns."""
    table = sorted((v, bits) for v, bits in ((decode(b), b) for b in range(0x8000)) if math.isfinite(v))
    return [v for v, _ in table], [bits for _, bits in table]


BFLOAT16 = format_values(lambda b: struct.unpack(">f", struct.pack(">H", b) + b"\0\0")[0])
FLOAT16 = format_values(lambda b: struct.unpack(">e", struct.pack(">H", b))[0])


def nearest(table, x):
    """The value of the table nearest to x, compared exactly; a tie goes to the
    even bit pattern; past the largest value plus half its spacing, inf."""
    if math.isnan(x):
        return x
    values, patterns = table
    magnitude, largest, below_largest = Fraction(abs(x)), Fraction(values[-1]), Fraction(values[-2])
    if magnitude >= largest + (largest - below_largest) / 2:
        return math.copysign(INF, x)
    i = bisect.bisect_left(values, abs(x))
    if i == len(values) or values[i] == abs(x):  # past the largest value, but below the tie
        i = min(i, len(values) - 1)
        return math.copysign(values[i], x)
    d_lo, d_hi = magnitude - Fraction(values[i - 1]), Fraction(values[i]) - magnitude
    pick = i - 1 if d_lo < d_hi or (d_lo == d_hi and patterns[i - 1] % 2 == 0) else i
    return math.copysign(values[pick], x)


def random_doubles(count, low_exponent, high_exponent, seed):
    """Random signed doubles whose binary exponents spread evenly over the range;
    one in three with a short significand (8 to 25 bits), which makes values of
    the narrow formats and ties halfway between two of them."""
    rng = random.Random(seed)
    out = []
    for k in range(count):
        e = rng.randint(low_exponent, high_exponent)
        if k % 3 == 0:
            bits = rng.choice((7, 8, 10, 11, 12, 23, 24, 25))
            m = rng.randrange(2 ** bits) / 2 ** bits
        else:
            m = rng.random()
        out.append(math.copysign(math.ldexp(0.5 + m / 2, e), rng.choice((-1.0, 1.0))))
    return out


def same(a, b):
    """Bitwise-equal floats: -0 is not 0, NaN is NaN."""
    return struct.pack("d", a) == struct.pack("d", b)


def run(args, cases):
    """The example's replies to the cases, in order."""
    lines = "".join(json.dumps(c) + "\n" for c in cases)
    out = subprocess.run([sys.executable, "-B", os.path.join(HERE, "mlp.py")] + args, input=lines,
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def case(layers, loss, inputs, targets, reduction="mean"):
    return {"network": {"layers": [{"activation": a, "weights": w, "biases": b} for a, w, b in layers],
                        "loss": loss, "reduction": reduction},
            "inputs": inputs, "targets": targets}


# Small unsaturated cases: every output/loss pair of the textbook formulas.
SMALL_CASES = [
    case([("tanh", [[0.5, -0.3], [0.2, 0.8], [-0.7, 0.1]], [0.1, -0.2, 0.05]),
          ("sigmoid", [[0.3, -0.6, 0.9]], [0.2])], "quadratic", [[0.4, -1.2], [1.5, 0.3]], [[0.7], [0.1]]),
    case([("sigmoid", [[0.5, -0.3], [0.2, 0.8]], [0.1, -0.2]),
          ("softmax", [[0.3, -0.6], [0.9, 0.4], [-0.5, 0.2]], [0.2, 0.0, -0.1])], "cross_entropy",
         [[0.4, -1.2], [1.5, 0.3]], [[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]], "sum"),
    case([("leaky_relu", [[0.5, -0.3], [-0.2, 0.8]], [0.1, -0.2]),
          ("softmax", [[0.3, -0.6], [0.9, 0.4], [-0.5, 0.2]], [0.2, 0.0, -0.1])], "binary_cross_entropy",
         [[0.4, -1.2], [1.5, 0.3]], [[0.2, 0.9, 0.5], [0.0, 1.0, 0.3]]),
    case([("relu", [[0.5, -0.3], [0.2, 0.8]], [0.1, -0.2]),
          ("sigmoid", [[0.3, -0.6], [0.9, 0.4]], [0.2, -0.1])], "binary_cross_entropy",
         [[0.4, -1.2], [1.5, 0.3]], [[0.2, 1.0], [0.0, 0.6]]),
    case([("identity", [[0.5, -0.3], [0.2, 0.8]], [0.1, -0.2]),
          ("sigmoid", [[0.3, -0.6], [0.9, 0.4]], [0.2, -0.1])], "cross_entropy",
         [[0.4, -1.2], [1.5, 0.3]], [[0.2, 1.0], [0.0, 0.6]]),
    case([("tanh", [[0.5, -0.3], [0.2, 0.8]], [0.1, -0.2]),
          ("softmax", [[0.3, -0.6], [0.9, 0.4], [-0.5, 0.2]], [0.2, 0.0, -0.1])], "quadratic",
         [[0.4, -1.2], [1.5, 0.3]], [[0.2, -0.3, 0.5], [1.0, 0.0, -1.0]]),
]


def reply_values(reply):
    for g in reply["layers"]:
        for row in g["weights"]:
            yield from row
        yield from g["biases"]
    yield reply["loss"]
    for row in reply["outputs"]:
        yield from row


class RoundTo(unittest.TestCase):
    def test_float32_is_structs_float_on_10000_random_doubles_subnormals_and_overflow_included(self):
        for x in random_doubles(10000, -160, 140, seed=1):  # 2^-149 is the smallest subnormal, 2^128 overflows
            self.assertTrue(same(round_to(x, "float32"), struct_float32(x)), repr(x))

    def test_float32_ends_ties_and_specials_are_structs_float(self):
        largest = (2 - 2 ** -23) * 2 ** 127
        for x in [0.0, -0.0, INF, -INF, 1 + 2 ** -24, 1 + 3 * 2 ** -24, -(1 + 2 ** -24), largest,
                  largest + 2 ** 103, largest + 2 ** 103 - 2 ** 76, -largest - 2 ** 103, 1e39, -1e39, 1e308,
                  2 ** -149, 2 ** -150, 3 * 2 ** -151, 2 ** -150 + 2 ** -200, -2 ** -150, 2 ** -126 - 2 ** -150,
                  5e-324, 0.1, 1 / 3]:
            self.assertTrue(same(round_to(x, "float32"), struct_float32(x)), repr(x))
        self.assertTrue(math.isnan(round_to(math.nan, "float32")))

    def test_bfloat16_is_the_nearest_bfloat16_on_10000_random_doubles(self):
        for x in random_doubles(10000, -140, 130, seed=2):  # subnormals down to 2^-133, overflow past 2^128
            self.assertTrue(same(round_to(x, "bfloat16"), nearest(BFLOAT16, x)), repr(x))

    def test_float16_is_the_nearest_float16_and_structs_half_on_10000_random_doubles(self):
        for x in random_doubles(10000, -27, 18, seed=3) + [65505.0, -65519.99, 65520.0, 2.0 ** -25, 2.0 ** -26]:
            r = round_to(x, "float16")
            self.assertTrue(same(r, nearest(FLOAT16, x)), repr(x))
            try:
                self.assertTrue(same(r, struct.unpack("e", struct.pack("e", x))[0]), repr(x))
            except OverflowError:
                self.assertEqual(r, math.copysign(INF, x))

    def test_known_bfloat16_and_float16_values(self):
        self.assertEqual(round_to(1 / 3, "bfloat16"), 0.333984375)
        self.assertEqual(round_to(65519.0, "float16"), 65504.0)
        self.assertEqual(round_to(65520.0, "float16"), INF)
        self.assertEqual(round_to(-65520.0, "float16"), -INF)
        self.assertEqual(round_to(2.0 ** -25, "float16"), 0.0)
        self.assertEqual(round_to(3 * 2.0 ** -26, "float16"), 2.0 ** -24)
        self.assertEqual(round_to(2.0 ** -133, "bfloat16"), 2.0 ** -133)
        self.assertEqual(round_to(2.0 ** -134, "bfloat16"), 0.0)
        self.assertEqual(round_to(3.4e38, "bfloat16"), INF)  # bfloat16's largest is 3.39e38

    def test_float64_is_left_as_it_is(self):
        for x in [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -0.0]:
            self.assertTrue(same(round_to(x, "float64"), x))


class Arithmetic(unittest.TestCase):
    """Rounded and RoundedMath, in this process: mlp.use_precision sets them."""

    def setUp(self):
        self.number = mlp.use_precision("float32", textbook=False)

    def tearDown(self):
        mlp.use_precision("float64", textbook=False)

    def test_every_operation_of_a_float32_program_rounds_its_result_constants_included(self):
        rng = random.Random(4)
        for _ in range(2000):
            x, y = (self.number(math.ldexp(rng.uniform(-1, 1), rng.randint(-140, 120))) for _ in range(2))
            c = rng.choice((1.0, 0.1, 2, 1 / 3))  # a literal of the program, rounded before use
            xf, yf, cf = float(x), float(y), struct_float32(c)  # plain floats: exact results, then rounded once
            for got, want in [(x + y, xf + yf), (x - y, xf - yf), (x * y, xf * yf), (x / y, xf / yf),
                              (c - x, cf - xf), (c / x, cf / xf), (c * x, cf * xf), (c + x, cf + xf),
                              (x - c, xf - cf), (x / c, xf / cf), (-x, -xf), (abs(x), abs(xf))]:
                self.assertIs(type(got), mlp.Rounded)
                self.assertTrue(same(got, struct_float32(want)), (x, y, c))
            self.assertTrue(same(sum([x, y, x]), struct_float32(struct_float32(xf + yf) + xf)))

    def test_division_by_zero_and_the_math_functions_behave_as_in_c(self):
        one, zero = self.number(1.0), self.number(0.0)
        self.assertEqual(one / zero, INF)
        self.assertEqual(-one / zero, -INF)
        self.assertEqual(one / -zero, -INF)
        self.assertTrue(math.isnan(zero / zero))
        self.assertEqual(mlp.fmath.exp(self.number(89.0)), INF)  # float32 overflows past 88.7
        self.assertEqual(mlp.fmath.exp(self.number(1000.0)), INF)  # math.exp raises there
        self.assertEqual(mlp.fmath.exp(self.number(-104.0)), 0.0)
        self.assertEqual(mlp.fmath.log(zero), -INF)
        self.assertTrue(math.isnan(mlp.fmath.log(-one)))
        self.assertEqual(mlp.fmath.log1p(-one), -INF)
        self.assertTrue(same(mlp.fmath.tanh(self.number(0.5)), struct_float32(math.tanh(struct_float32(0.5)))))


class Program(unittest.TestCase):
    def test_every_reply_value_of_a_float32_run_is_a_float32(self):
        for extra in ([], ["--textbook"]):
            for reply in run(["--precision", "float32"] + extra, SMALL_CASES):
                for v in reply_values(reply):
                    self.assertTrue(same(v, struct_float32(v)), repr(v))

    def test_every_reply_value_of_a_bfloat16_run_is_a_bfloat16(self):
        for reply in run(["--precision", "bfloat16", "--textbook"], SMALL_CASES):
            for v in reply_values(reply):
                self.assertTrue(same(v, nearest(BFLOAT16, v)), repr(v))

    def test_replies_say_their_precision_unless_told_not_to(self):
        self.assertEqual(run(["--precision", "bfloat16"], SMALL_CASES[:1])[0]["precision"], "bfloat16")
        self.assertEqual(run(["--precision", "float64"], SMALL_CASES[:1])[0]["precision"], "float64")
        self.assertNotIn("precision", run(["--precision", "float16", "--no-precision-field"], SMALL_CASES[:1])[0])
        self.assertNotIn("precision", run([], SMALL_CASES[:1])[0])

    def test_a_textbook_float64_run_gives_the_default_gradients_within_1e_6(self):
        for c, stable, textbook in zip(SMALL_CASES, run([], SMALL_CASES), run(["--textbook"], SMALL_CASES)):
            pairs = list(zip(reply_values(stable), reply_values(textbook)))
            self.assertEqual(len(pairs), len(list(reply_values(stable))))
            for s, t in pairs:
                self.assertLessEqual(abs(t - s), 1e-6 * abs(s) + 1e-300, json.dumps(c))

    def test_a_float32_run_is_close_to_the_float64_one_but_not_the_same(self):
        f64, f32 = run([], SMALL_CASES), run(["--precision", "float32"], SMALL_CASES)
        differ = 0
        for a, b in zip(f64, f32):
            for s, t in zip(reply_values(a), reply_values(b)):
                self.assertLessEqual(abs(t - s), 1e-5 * abs(s) + 1e-30)
                differ += s != t
        self.assertGreater(differ, 0)


if __name__ == "__main__":
    unittest.main()
