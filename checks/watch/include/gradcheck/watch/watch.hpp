#pragma once
// The training watch: an observer on the trainer that says, from the numbers,
// why training fails. It records input sanity before training (check_inputs:
// range, scaling, non-finite values, the signed-byte signature), the first
// non-finite value of the run with the operation that produced it, per-layer
// norms, dead and saturated units, and loss plateau and divergence. Every
// Finding has a severity, a sentence, evidence and a fix; the result is data
// that reports/ renders. How each detector decides, what the emulated numerics
// are for and what it costs: docs/watch.md.
//
// How to use:
//   watch::Watch w;                                   // watch::Options for the cost knobs
//   w.check_inputs(training);                         // before training: input sanity
//   Trainer<double> trainer(net, train_options, w.callbacks());   // or w.callbacks(your_callbacks)
//   History h = trainer.train(training, &test);
//   watch::Result r = w.result();                     // findings, series, first non-finite
//   if (r.worst() == watch::Severity::error) ...
// or in one call:
//   auto run = watch::train_watched(net, training, train_options, &test);   // run.history, run.watch
//
// Thread-safety: none; one Watch per training run. A Watch must outlive the
// Trainer that uses its callbacks (they refer to it) and cannot be moved.

#include <gradcheck/engine/findings.hpp>
#include <gradcheck/engine/dataset.hpp>
#include <gradcheck/engine/network.hpp>
#include <gradcheck/engine/trainer.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gradcheck::watch {

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------
// Findings

// The shared vocabulary (engine/findings.hpp); the watch uses info, warning and error.
using gradcheck::Evidence;
using gradcheck::Severity;
using gradcheck::to_string;

enum class Kind {
  // input sanity (check_inputs)
  non_finite_inputs,  // error: NaN or ±inf among the inputs
  signed_bytes,       // error: the signed-byte signature (pixel bytes read as signed char)
  unscaled_inputs,    // warning: raw values (e.g. bytes 0…255) where [0, 1] or standardised values belong
  feature_scales,     // warning: features differ wildly in scale (largest / median > InputOptions::scale_ratio)
  constant_features,  // info: features that never change (no information; standardising would divide by 0)
  // training
  non_finite,         // error: the first NaN/±inf (Result::first_non_finite holds the detail)
  divergence,         // error: the loss rose by Options::divergence_factor over its best
  plateau,            // warning (stuck high) or info (levelled off): no improvement beyond Options::plateau_improvement
  dead_units,         // warning: relu units never active over an epoch, fraction ≥ Options::dead_warning
  saturated_units,    // warning: sigmoid/tanh pre-activations beyond the threshold, fraction ≥ Options::saturated_warning
  large_updates,      // warning: update/weight ratio above Options::update_ratio_warning
  chance_accuracy,    // warning: the last test accuracy is below Options::chance_factor × chance (1 / classes)
};
const char* to_string(Kind k);  // "signed-bytes", "non-finite", ...

// A finding of the watch: severity, message ("pixel bytes were read as signed
// char: ..."), evidence ({"fraction of values < 0", 0.3131}) and fix, plus where.
struct Finding : gradcheck::Finding {
  Kind kind = Kind::non_finite;
  int layer = -1;  // the layer it concerns (-1: the data or the whole network)
  int epoch = -1;  // where it was seen (-1: before training / the whole run)
  Index step = -1;
};

// ---------------------------------------------------------------------------
// Input sanity

struct InputOptions {
  // A feature whose largest |x| exceeds scale_ratio × the median feature's largest
  // |x| (over non-constant features) makes the features "differ wildly in scale".
  double scale_ratio = 100.0;
  // Inputs whose largest |x| exceeds this are reported as unscaled.
  double unscaled_max = 10.0;
  // The signed-byte signature needs at least this fraction of values within
  // 16 steps of each end of the signed range (−128…−113 and 112…127 in bytes),
  // and the two ends' masses within a factor of wrap_continuity of each other.
  double edge_fraction = 1e-3;
  double wrap_continuity = 4.0;
  // ... and the masses just below and just above 0 (16 byte steps each side)
  // differing by at least this factor: the jump where 255 met 0.
  double zero_jump = 4.0;
};

// How the signed-byte signature was tested (filled whenever the values lie on a
// byte grid; see signed_bytes in InputSanity).
struct ByteGrid {
  bool on_grid = false;       // every finite value is k·scale with integer k
  double scale = 0;           // 1/255, 1/256 or 1 (the first that fits)
  int min_byte = 0, max_byte = 0;  // smallest and largest k
  // masses (fractions of all values) in windows of 16 byte steps:
  double low_edge = 0;        // k in [−128, −113]: just above the bottom of the signed range (−0.5)
  double high_edge = 0;       // k in [112, 127]: just below its top (+0.5)
  double below_zero = 0;      // k in [−16, −1]  (unsigned 240…255)
  double above_zero = 0;      // k in [0, 15]
  std::vector<double> histogram;  // 256 fractions, k = −128…127 (empty unless min_byte < 0)
};

struct InputSanity {
  Index samples = 0, features = 0;
  double min = nan, max = nan, mean = nan;
  double fraction_negative = 0;
  Index non_finite = 0;            // NaN/±inf values
  Index constant_features = 0;     // features with one value over every sample
  Index first_constant_feature = -1;
  double median_feature_scale = nan;  // median over non-constant features of max |x|
  double largest_feature_scale = nan;
  Index largest_scale_feature = -1;
  ByteGrid bytes;
  bool signed_bytes = false;       // the signature holds (a Finding says so with evidence)
  std::vector<Finding> findings;
};

// Input sanity of a dataset's inputs (features × samples), before training.
// The signed-byte signature, detected on its own: every value is k/255 (or k/256,
// or k) with k in [−128, 127], some are negative, none reaches 128/255, both ends
// of that range are populated and continuous with each other (the density just
// above −0.5 matches the density just below +0.5 — one distribution wrapped),
// and the density jumps at 0 (where unsigned 255 now meets 0). Named as such:
// "pixel bytes were read as signed char: 31.3 % of values are negative, none is
// ≥ 0.5; read them as unsigned char".
InputSanity check_inputs(const Matrix<double>& inputs, const InputOptions& options = {});
// The same for inputs kept as bytes, from how often each byte occurs per
// feature (the mean summed by byte: equal to the matrix's to about 1e-15).
InputSanity check_inputs(const ByteInputs<double>& inputs, const InputOptions& options = {});
inline InputSanity check_inputs(const Dataset<double>& data, const InputOptions& options = {}) {
  return data.bytes ? check_inputs(*data.bytes, options) : check_inputs(data.inputs, options);
}

// ---------------------------------------------------------------------------
// The first non-finite value

// Where in a step.
enum class Pass { forward, loss, backward, update };
const char* to_string(Pass p);  // "forward", "loss", "backward", "update"

// What a non-finite entry is an entry of, and how NonFinite::row / col index it:
//   input, z, a, delta (dL/dz):  row = unit (feature for input), col = sample in the batch
//   loss:                        row = the output unit blamed (-1: the sum), col = sample (-1: the batch loss)
//   weight_gradient, weights:    row = unit, col = input;   bias_gradient, biases: row = unit, col = 0
enum class Quantity { input, target, z, a, loss, delta, weight_gradient, bias_gradient, weights, biases };
const char* to_string(Quantity q);  // "input", "z", "a", "loss", "dL/dz", "dL/dW", "dL/db", "weights", "biases"

// The operation that made the value non-finite.
enum class Operation {
  exp_overflow,        // exp(x) = inf for finite x > ln(DBL_MAX) ≈ 709.78 (naive softmax)
  log_of_zero,         // ln 0 = −inf (cross-entropy of an output that underflowed to 0)
  inf_minus_inf,       // (+inf) + (−inf) = NaN, the infinities made by overflow in the same operation
  zero_times_inf,      // 0 · inf = NaN (e.g. the 0 · ln 0 term of a naive cross-entropy)
  zero_over_zero,      // 0 / 0 = NaN (a naive softmax whose every exp underflowed)
  overflow,            // a product or sum of finite numbers beyond ±1.8e308
  division_by_zero,    // finite / 0 = ±inf (−y / a of a naive cross-entropy gradient)
  non_finite_operand,  // nothing here made it: an operand was already non-finite (passed on)
};
const char* to_string(Operation o);

// Where that operation sits in the computation.
enum class Site {
  data,                   // the batch's inputs or targets
  parameters,             // the weights and biases the step started from
  matrix_product,         // z = W·a (forward)
  bias_add,               // z = W·a + b
  activation,             // a = act(z), elementwise
  softmax,                // a = softmax(z)
  loss,                   // the per-sample loss, or the batch's sum of them
  output_error,           // dL/dz of the output layer
  backprop_product,       // Wᵀ·δ (backward)
  activation_derivative,  // ⊙ act'(z)
  weight_gradient,        // δ·aᵀ
  bias_gradient,          // Σ_samples δ
  weight_update,          // the optimiser's θ ← θ − update
};
const char* to_string(Site s);

// A tensor downstream of the first non-finite value that holds non-finite
// entries too: the operations that only PASSED IT ON.
struct Propagation {
  Pass pass = Pass::forward;
  Quantity quantity = Quantity::a;
  int layer = 0;
  Index non_finite = 0;  // entries that are NaN/±inf
  Index entries = 0;     // entries in the tensor
};

// One step's per-layer statistics (see LayerStats).
struct LayerStats {
  double activation_norm = nan;     // ‖a_l‖_F / √m: RMS over the batch of each sample's ‖a‖₂ (layer output)
  double gradient_norm = nan;       // ‖(dL/dW_l, dL/db_l)‖₂ as backward gave it (before clipping; to 1e-7
                                    // relative or better when formed from Gram matrices, docs/watch.md)
  double weight_norm = nan;         // ‖(W_l, b_l)‖₂ before the update
  double update_ratio = nan;        // ‖Δ(W_l, b_l)‖₂ / ‖(W_l, b_l)‖₂ of this step's update (NaN: not measured)
  double max_abs_z = nan;           // largest |z_l|
  double dead_fraction = nan;       // relu: fraction of units with z ≤ 0 on every sample of the batch (NaN: not relu)
  double saturated_fraction = nan;  // sigmoid/tanh: fraction of (unit, sample) with |z| > threshold (NaN: other)
};

struct StepStats {
  int epoch = 0;
  Index step = 0;
  double loss = nan;        // mean per-sample loss of the batch, before the update
  double clip_scale = 1;    // the trainer's gradient-clipping factor (1: not clipped)
  std::vector<LayerStats> layers;
};

struct NonFinite {
  int epoch = 0;
  Index step = 0;
  Pass pass = Pass::forward;
  Quantity quantity = Quantity::z;
  int layer = 0;
  Index row = 0, col = 0;     // see Quantity
  // An entry of an image layer's map or kernel, in its own words: "channel 2 at
  // (3, 4)" for a row of z, a or δ of a conv2d or pooling layer, "kernel
  // [1][0][2][2]" for a conv2d weight ([out][in][y][x]); empty for dense layers.
  std::string position;
  double value = nan;         // the non-finite value (NaN, +inf or −inf)
  Operation operation = Operation::overflow;
  Site site = Site::matrix_product;
  bool produced = true;       // false: an operand was already non-finite (data, initial weights): passed on
  bool emulated = false;      // found under Options::numerics (e.g. a naive softmax), not in the engine's numbers
  std::string cause;          // e.g. "exp overflow in softmax", "overflow in a weight update"
  std::string detail;         // one sentence with the operands, e.g. "exp(z) with z = 712.4 > 709.78 ..."
  std::vector<Evidence> operands;      // the operands and intermediate results, by name
  std::vector<Propagation> passed_on;  // the tensors after it in the step that are non-finite too, in order
  std::vector<StepStats> history;      // the last Options::history steps before it, oldest first
};

// ---------------------------------------------------------------------------
// Emulated numerics and the diagnostic re-computation

enum class SoftmaxForm {
  stable,  // the engine's: exp(z_k − max z) / Σ exp(z_i − max z)
  naive,   // exp(z_k) / Σ exp(z_i): overflows for z > 709.78, 0/0 when every exp underflows
};
enum class CrossEntropyForm {
  from_logits,   // the engine's: log-sum-exp from z (softmax), softplus (sigmoid); terms with y = 0 skipped
  from_outputs,  // −Σ_k y_k ln a_k over every k, from a as computed: ln 0 = −inf, 0 · ln 0 = NaN
};
struct Numerics {
  SoftmaxForm softmax = SoftmaxForm::stable;
  CrossEntropyForm cross_entropy = CrossEntropyForm::from_logits;

  bool engine() const { return softmax == SoftmaxForm::stable && cross_entropy == CrossEntropyForm::from_logits; }
};

// Re-runs forward, loss and backward of one step op by op, as an implementation
// with `numerics` would compute them (hidden layers and the backward pattern are
// the engine's definitions; only the output layer's softmax / cross-entropy
// change), and returns the first non-finite value in computation order with the
// operation that produced it, and the tensors after it that passed it on. nullopt:
// every value is finite. The position fields epoch/step/history are left for the
// caller. inputs: features × batch, targets: outputs × batch.
std::optional<NonFinite> trace_step(const Network<double>& net, const Matrix<double>& inputs,
                                    const Matrix<double>& targets, const Numerics& numerics = {});

// Explains the first non-finite parameter after an update, given the parameters
// before it (nullptr: unknown, Options::snapshot off), the raw gradients and the
// clip scale the trainer used, and (when known) the training options.
// nullopt: `after` is finite.
std::optional<NonFinite> explain_update(const Network<double>* before, const Network<double>& after,
                                        const Gradients<double>& gradients, double clip_scale,
                                        const std::optional<TrainOptions>& training = std::nullopt);

// ---------------------------------------------------------------------------
// The watch

enum class Cadence {
  step,   // keep every step's StepStats (Result::steps): O(steps × layers) memory
  epoch,  // keep one EpochStats per epoch and the last `history` steps only
};
const char* to_string(Cadence c);

struct Options {
  Cadence cadence = Cadence::step;
  Index stats_every = 1;          // per-layer statistics on every n-th step (1 = all); the non-finite check runs every step
  bool snapshot = true;           // copy the parameters before each update: an overflowing update is shown with its
                                  // operands, and the update/weight ratio is measured (one copy of the model per step)
  bool stop_on_non_finite = true; // stop training at the first non-finite value (nothing after it is informative)
  int history = 32;               // K: steps of per-layer norms kept (ring buffer) and attached to the first non-finite
  Numerics numerics;              // emulate the output layer's numerics (default: the engine's own: no emulation)
  double saturation_sigmoid = 6.0;  // |z| beyond which a sigmoid unit is saturated: σ'(6) = 0.0025 = 1 % of σ'(0)
  double saturation_tanh = 3.0;     // ... a tanh unit: tanh'(3) = 0.0099 = 1 % of tanh'(0)
  double dead_warning = 0.10;       // warn when ≥ 10 % of a relu layer's units are dead in an epoch ...
  Index dead_window = 100;          // ... i.e. not active on any sample of its last 100 statistics steps (all, if fewer;
                                    // epochs of fewer than 10 statistics steps are not judged)
  double saturated_warning = 0.50;  // warn when ≥ 50 % of a sigmoid/tanh layer's pre-activations are saturated (epoch mean)
  double update_ratio_warning = 0.1;// warn when a layer's median update/weight ratio over an epoch exceeds this
  Index loss_window = 50;           // steps per loss window (plateau and divergence compare window means)
  double divergence_factor = 10.0;  // divergence: a window's mean loss > factor × the best window mean so far
  double plateau_improvement = 0.01;// plateau: no window improved the best mean by more than 1 % ...
  int plateau_windows = 5;          // ... for this many consecutive windows, up to the end of the run
  double plateau_stuck = 0.5;       // a plateau above this fraction of the first window's loss is "stuck" (warning)
  double chance_factor = 1.5;       // warn when the last test accuracy is below 1.5 × 1/classes (two outputs: 1/2)
};

// Mean per-sample loss over Options::loss_window consecutive steps.
struct LossWindow {
  Index first_step = 0, steps = 0;
  double mean_loss = nan;
};

struct EpochStats {
  int epoch = 0;
  Index steps = 0;                  // steps watched in this epoch
  double train_loss = nan;          // the trainer's EpochRecord::train_loss
  std::optional<Evaluation> test;   // after the epoch, when a test set was given
  double seconds = 0;
  // Per layer, over the epoch's statistics steps: norms are means; update_ratio
  // the median; max_abs_z the maximum; dead_fraction the fraction of units not
  // active on any sample of the epoch's last Options::dead_window statistics
  // steps (the whole epoch when it is shorter); saturated_fraction the mean.
  std::vector<LayerStats> layers;
};

struct Result {
  Options options;
  std::vector<Activation> activations;  // of each layer (what dead / saturated mean per layer)
  std::vector<LayerKind> kinds;         // of each layer: a conv2d layer's dead units are its feature maps
  Index outputs = 0;                    // units of the output layer (classes)
  std::optional<InputSanity> inputs;    // of the training set, when check_inputs ran
  std::vector<StepStats> steps;         // Cadence::step: every statistics step
  std::vector<EpochStats> epochs;       // every completed (or interrupted) epoch
  std::vector<LossWindow> loss_windows;
  std::optional<NonFinite> first_non_finite;
  std::vector<Finding> findings;        // input findings first, then in the order found
  Index steps_seen = 0;                 // steps the watch saw (including one it stopped)
  bool stopped = false;                 // the watch stopped training (Options::stop_on_non_finite)

  // The most severe finding (nullopt: no finding at all).
  std::optional<Severity> worst() const;
  std::size_t count(Severity s) const;
  const Finding* find(Kind k) const;    // the first finding of that kind, or nullptr
};

class Watch {
 public:
  // `training`: the trainer's options, when known (the update's η and optimiser
  // then appear in an overflowing update's evidence and in the fixes).
  explicit Watch(Options options = {}, std::optional<TrainOptions> training = std::nullopt);
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  ~Watch();

  // Input sanity of the training set; its findings come first in the result.
  const InputSanity& check_inputs(const Dataset<double>& training, const InputOptions& options = {});
  // The same with a sanity computed elsewhere (watch::check_inputs of the
  // training set, e.g. on another thread while the Trainer runs: nothing
  // during training reads it). Before or after training, the result is the same.
  const InputSanity& add_inputs(InputSanity sanity);

  // Callbacks for the Trainer. `then` runs after the watch's own, step by step
  // (a progress bar, a SIGINT flag); either may stop training. The watch reads
  // no dL/dW the trainer would not otherwise write (it forms δ aᵀ, or its norm
  // from Gram matrices, when it needs them), so under SGD the trainer writes
  // dL/dW only if `then` reads it (then.weight_gradients, true by default).
  Callbacks<double> callbacks(Callbacks<double> then = {});

  // The result so far, with the end-of-run analysis (plateau, divergence, the
  // current epoch's aggregates) applied to a copy: callable at any time, e.g.
  // for a partial report after an interruption.
  Result result() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// check_inputs, training with the watch, and its result.
struct WatchedRun {
  History history;
  Result watch;
};
WatchedRun train_watched(Network<double>& net, const Dataset<double>& training, const TrainOptions& train_options,
                         const Dataset<double>* test = nullptr, const Options& options = {},
                         const InputOptions& input_options = {});

}  // namespace gradcheck::watch
