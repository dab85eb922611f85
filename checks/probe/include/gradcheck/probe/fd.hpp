#pragma once
// Black-box mode (docs/fd.md): a program's own gradient against finite
// differences of the program's own loss. gradcheck knows nothing of the
// layers; the program describes its parameters, sends its gradient, and
// evaluates its loss at perturbed points, hundreds per request.
//
// Per entry θ_i of a tensor T (scale s_i = max(|θ_i|, rms(θ_T)), 1 if both are 0):
//   1. the forward noise ε_f is MEASURED first: the base point repeated (two
//      values differ: a nondeterministic loss, reported as such) and losses
//      along random sparse directions at tiny steps, whose high-order
//      differences are noise only (Moré & Wild's ECnoise);
//   2. D = (f(θ + h e_i) − f(θ − h e_i)) / 2h at h = ∛(ε_f / |f|) · s_i, the step
//      that balances truncation and round-off, with the error bar ε_f / h; an
//      entry that agrees by the comparison rule (docs/comparison-rule.md) with
//      an error bar below max_error_fraction of its scale costs 2 evaluations;
//   3. every other entry gets one-sided derivatives at h and 2h (a kink: they
//      differ beyond their errors) and a Ridders tableau (truncation measured),
//      and the comparison rule decides with Ridders' error estimate.
//   Verdicts: agree, disagree, inconclusive-kink, inconclusive-noise (the error
//   bar is too wide to decide: never a silent pass), non-finite.
//
// How to use (a program over JSON lines):
//   FdOptions o;
//   const FdResult r = fd({"python3", "examples/python/fd_dense.py"}, o);   // throws FdProgramError
//   if (!r.passed()) ...          // r.tensors[t].entries, r.signatures, r.noise
// or on an in-process function (what the tests do):
//   const FdResult r = fd_check(description, analytic_loss, analytic_gradient, loss_at_points, o);

#include <gradcheck/engine/precision.hpp>
#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/probe/subprocess.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gradcheck {

// One parameter tensor as the program describes it: values flat, row-major.
struct FdParameter {
  std::string name;
  std::vector<std::size_t> shape;
  std::vector<double> values;
};

struct FdDescription {
  std::vector<FdParameter> parameters;
  std::optional<Precision> precision;  // the program's "precision", if it said
};

// A point of a `loss` request: the described values, plus each shift added to
// one entry, plus step × direction (direction empty, or one vector per
// parameter, empty for a parameter it does not move).
struct FdShift {
  std::size_t param = 0;  // index into FdDescription::parameters
  std::size_t index = 0;  // flat, row-major
  double delta = 0;
};
struct FdPoint {
  std::vector<FdShift> shifts;
  std::vector<std::vector<double>> direction;
  double step = 0;
};

// The loss at every point, in order: any number of points (`fd` sends them to
// the program in lines of max_points_per_request, pipelined; in-process, a loop).
using FdLossAt = std::function<std::vector<double>(const std::vector<FdPoint>&)>;

enum class FdVerdict { agree, disagree, inconclusive_kink, inconclusive_noise, non_finite };
const char* to_string(FdVerdict v);  // "agree", "disagree", "inconclusive-kink", "inconclusive-noise", "non-finite"

// full: every entry on its own. fast: a few random directions per tensor
// first; only a tensor that fails one is searched, by bisection over blocks
// of its entries, down to the wrong entries (docs/fd.md#fast-mode).
enum class FdMode { full, fast };

struct FdOptions {
  FdMode mode = FdMode::full;
  // Fast mode: Gaussian directions per tensor. A wrong tensor whose error
  // along a random direction is ≥ 10 × the tolerance escapes one direction
  // with probability ≤ 0.08, all of them with ≤ 0.08^k (k = 8: 2e-9).
  int directions = 8;
  Tolerances tolerances;          // the one comparison rule (compare.hpp)
  int base_repeats = 4;           // the base point evaluated this many times (two requests): determinism
  int noise_directions = 2;       // random directions of the tiny-step noise measurement
  int noise_points = 9;           // points per direction (differences of order up to 6)
  // Entries each direction moves (all of them when there are fewer): enough to
  // reach the computation's rounding everywhere, few enough that a line of a
  // model with millions of parameters stays short.
  std::size_t noise_entries = 64;
  double noise_step = 1e-6;       // relative spacing of those points (× each entry's scale)
  // An entry whose error bar (κ·ε) exceeds this fraction of its scale
  // (max(|entry|, its tensor's floor, its tensor's largest finite difference,
  // FdTensor::bar_scale)) is inconclusive-noise: the bar is too wide for
  // `agree` to mean anything (docs/fd.md#how-an-entry-is-decided).
  double max_error_fraction = 1e-2;
  int ridders_steps = 10;         // Ridders tableau size (2 evaluations per step)
  double ridders_first_step = 1e-2;  // relative (× scale) first step of the tableau
  std::size_t max_points_per_request = 1024;  // points per `loss` line
  std::uint64_t seed = 1;         // the noise directions
  std::size_t max_worst = 10;     // worst entries kept in FdResult::worst
};

// The forward noise, measured.
struct FdNoise {
  double base_loss = 0;              // the first loss at the described values
  std::vector<double> repeats;       // every loss at the described values (bitwise equal when deterministic)
  bool deterministic = true;
  double spread = 0;                 // max − min of the repeats
  double tiny_step_noise = 0;        // ECnoise's estimate from the tiny-step lines
  double noise = 0;                  // ε_f used: max(spread, tiny-step estimate, a few ulps of |f|)
  double relative = 0;               // ε_f / |f| (the unit round-off of the format when f = 0)
  // The gradient request's loss equals the loss at the described values within
  // κ·ε_f + rtol·|f|: false says the program's two paths compute different losses
  // (another batch, another mode), which the report says before any entry.
  bool gradient_loss_matches = true;
};

struct FdEntry {
  std::size_t param = 0, index = 0;
  double value = 0;                 // θ_i
  double analytic = 0;              // the program's gradient
  double numeric = 0;               // the finite difference the verdict used
  double error = 0;                 // its error estimate (ε)
  double step = 0;                  // its step
  double forward = 0, backward = 0; // one-sided derivatives (refined entries only; NaN otherwise)
  double relative_error = 0;        // e of the comparison rule
  double tolerance = 0;             // τ of the comparison rule
  int evaluations = 0;              // losses spent on this entry
  bool refined = false;             // went past the first central difference
  FdVerdict verdict = FdVerdict::agree;
};

struct FdTensor {
  std::string name;
  std::vector<std::size_t> shape;
  std::size_t size = 0;             // entries of the tensor
  // Full mode: every entry, flat order. Fast mode: the entries checked on
  // their own (those the bisection reached), in the order it reached them.
  std::vector<FdEntry> entries;
  // Fast mode: directions along which the whole tensor was compared, those
  // that disagreed or stayed undecided, and the probability that a wrong
  // tensor passes all of them (0 in full mode: nothing was sampled).
  int directions = 0, directions_disagree = 0, directions_undecided = 0;
  double miss_probability = 0;
  std::size_t search_evaluations = 0;  // losses the bisection spent in this tensor
  std::size_t agree = 0, disagree = 0, kink = 0, noise = 0, non_finite = 0;
  double worst_relative_error = 0;  // over decided entries (agree, disagree)
  double max_abs_numeric = 0, max_abs_analytic = 0;
  // Error bars are judged against max(|entry|, tensor floor, this): 1e-3 ×
  // the largest gradient entry of the whole model, so that a tensor of dead
  // units (0 against 0 ± ε) agrees instead of being inconclusive.
  double bar_scale = 0;
  FdVerdict verdict() const;        // the worst of its entries
};

// A pattern across a tensor's disagreeing entries (docs/fd.md#signatures):
// kind is one of "sign-flip", "constant-scale", "tensor-scale", "tensor-zero",
// "transposed" (the names of verify's BugKind where the idea is the same).
struct FdSignature {
  std::string kind;
  std::string tensor;  // "" for every tensor at once
  double factor = 0;   // the fitted ratio analytic / numeric (scales)
  std::string message;
};

struct FdResult {
  std::vector<std::string> command;  // empty for an in-process check
  FdDescription description;
  double gradient_loss = 0;          // the loss the gradient request sent
  FdNoise noise;
  std::vector<FdTensor> tensors;
  std::vector<FdEntry> worst;        // the entries that decide, worst first
  std::vector<FdSignature> signatures;
  std::size_t evaluations = 0;       // losses requested
  std::size_t requests = 0;          // lines exchanged
  double elapsed_seconds = 0;
  bool interrupted = false;

  FdMode mode = FdMode::full;

  std::size_t count(FdVerdict v) const;
  // Deterministic, and no entry disagrees, is non-finite or went undecided for
  // noise (an entry nobody could check is not a pass), and (fast mode) no
  // direction disagreed (an undecided one sent its entries to be checked alone). Entries at a kink pass unless
  // strict, as in `gradcheck check` (they are printed either way).
  bool passed(bool strict = false) const;
};

// The program misbehaved (died, hung, wrote garbage, answered shapes that
// disagree with its description): what() names the request, e.g.
// "fd: reply to request 3 (loss, 1024 points): 1000 losses, expected 1024".
class FdProgramError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The check on a described program whose gradient is known: asks `loss_at` for
// every evaluation. Throws std::invalid_argument for shapes that disagree.
FdResult fd_check(const FdDescription& description, double gradient_loss,
                  const std::vector<std::vector<double>>& gradient, const FdLossAt& loss_at,
                  const FdOptions& options = {});

struct FdProgramOptions {
  std::chrono::milliseconds timeout{60000};          // per reply
  std::chrono::milliseconds startup_timeout{60000};  // the describe reply (start-up included)
  std::size_t max_reply_bytes = std::size_t{64} << 20;
  const std::atomic<bool>* interrupt = nullptr;      // raised: stop, result marked interrupted
  // Called after each loss request with the losses evaluated so far and the
  // parameter entries described (the command line's progress line on a terminal).
  std::function<void(std::size_t evaluations, std::size_t entries)> progress;
};

// Starts `command`, sends describe, gradient and the loss requests, stops it.
// Throws SpawnError (cannot start) and FdProgramError (misbehaved).
FdResult fd(const std::vector<std::string>& command, const FdOptions& options = {},
            const FdProgramOptions& program = {});

namespace detail {
// The protocol's messages (docs/fd.md), exposed for the tests.
std::string fd_loss_request(const FdDescription& d, std::vector<FdPoint>::const_iterator first,
                            std::vector<FdPoint>::const_iterator last);
inline std::string fd_loss_request(const FdDescription& d, const std::vector<FdPoint>& points) {
  return fd_loss_request(d, points.begin(), points.end());
}
FdDescription fd_parse_describe(const std::string& line, const std::string& source);
// Returns the loss and fills `gradient` (one flat vector per parameter).
double fd_parse_gradient(const std::string& line, const FdDescription& d, std::vector<std::vector<double>>& gradient,
                         const std::string& source);
std::vector<double> fd_parse_losses(const std::string& line, std::size_t expected, const std::string& source);
}  // namespace detail

}  // namespace gradcheck
