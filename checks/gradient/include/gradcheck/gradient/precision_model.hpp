#pragma once
// The precision model (docs/comparison-rule.md#the-precision-model): for a case
// and a floating-point format p, how far a CORRECT implementation computing in
// p can be from the exact outputs, loss and gradients, and which operation
// loses the digits.
//
// The case is run twice in a scalar that carries a first-order bound on its
// rounding error: once with the stable formulas (σ'(z) from z, log-sum-exp,
// the fused output deltas) and once with the textbook ones (a(1 − a), 1 − a²,
// ln a and ln(1 − a) from a, dL/da times act'). Every parsed number, every
// operation and every library function rounds to p; a sum of n terms adds
// (n − 1)·u·Σ|terms| (any summation order). A finite claimed value is within
// precision when it is within κ × the larger finite bound of the two ways; a
// non-finite one when either way overflows there.
//
//   const PrecisionModel m = precision_model(c, Precision::float32);
//   const EntryBound& b = m.weight(0, 1, 2);       // layer 0, W(1, 2)
//   if (std::abs(claimed - exact) <= m.kappa * b.bound) ...   // precision
//   if (b.cause >= 0) describe(m.causes[b.cause]);  // "1 − a in a(1 − a) ..."

#include <gradcheck/engine/case.hpp>
#include <gradcheck/engine/precision.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace gradcheck {

// The operations that lose digits, named in the notes.
enum class PrecisionOperation {
  weighted_sum,          // z = W a + b (cancellation between its terms)
  softmax_exp,           // exp(z − max z)
  sigmoid,               // σ(z)
  tanh,                  // tanh(z)
  sigmoid_derivative,    // σ'(z) = a(1 − a) (textbook)
  tanh_derivative,       // tanh'(z) = 1 − a² (textbook)
  log_a,                 // ln a in the cross-entropy
  log_one_minus_a,       // ln(1 − a) in the binary cross-entropy
  one_minus_a,           // 1 − a in the derivative of the loss
  loss_derivative,       // dL/da = −y/a, (1 − y)/(1 − a)
  output_error,          // a − y, the output error term
  softmax_jacobian,      // a ⊙ (d − a·d)
  loss_sum,              // the loss summed over units and samples
  backward_sum,          // Wᵀ δ
  batch_sum,             // Σ over the batch of δ aᵀ and of δ
  overflow,              // a value beyond the format's largest number
  kink_side,             // relu'(z), leaky_relu'(z) where z's error reaches across 0
};
const char* to_string(PrecisionOperation op);  // "1 − a²", "ln(1 − a)", ...
// The stable form that keeps the digits, or "" when there is none to give.
const char* stable_form(PrecisionOperation op);

// One place where an operation loses digits.
struct PrecisionCause {
  PrecisionOperation operation = PrecisionOperation::weighted_sum;
  std::size_t layer = 0;
  Index unit = 0, sample = 0;
  double argument = 0;     // what it worked on: a for 1 − a, z for exp, the result for a sum
  double digits_kept = 0;  // significant digits its result keeps (0: none)
  bool textbook = false;   // found in the textbook way (false: the stable way has it too)
};

struct EntryBound {
  double bound = 0;                // finite claims: |claimed − exact| ≤ kappa · bound (inf: any value)
  bool may_be_non_finite = false;  // a standard way overflows (or takes ln 0) on the way to it
  int cause = -1;                  // into PrecisionModel::causes, −1: rounding alone
};

struct PrecisionModel {
  Precision precision = Precision::float64;
  // First-order bounds leave out second-order terms and library functions'
  // last ulp: the safety factor on every bound (docs/comparison-rule.md).
  double kappa = 4;
  std::vector<std::vector<EntryBound>> weights;  // per layer, row-major (units × inputs)
  std::vector<std::vector<EntryBound>> biases;   // per layer, per unit
  std::vector<EntryBound> outputs;               // row-major (outputs × samples)
  EntryBound loss;
  // Per layer, units × samples: the error bound of a computation of z in p
  // (the side of a relu kink it can land on).
  std::vector<Matrix<double>> z_error;
  std::vector<PrecisionCause> causes;

  const EntryBound& weight(std::size_t l, Index row, Index col) const;
  const EntryBound& bias(std::size_t l, Index row) const;
  const EntryBound& output(Index unit, Index sample) const;
};

// Throws InputError only for an invalid case (validate fails).
PrecisionModel precision_model(const Case& c, Precision p);

// Half a unit in the last digit printed: x's shortest decimal form that reads
// back as x has d significant digits; a value printed with d digits carries up
// to 0.5·10^(e − d + 1) of printing error (e: its decimal exponent). 0 for
// values that need all 17 digits.
double print_error(double x);
int printed_digits(double x);

}  // namespace gradcheck
