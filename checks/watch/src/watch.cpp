// The training watch: per-step checks and statistics on the trainer's callbacks,
// and the end-of-run analysis (plateau, divergence, per-layer findings).
#include "watch_detail.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace gradcheck::watch {

const char* to_string(Kind k) {
  switch (k) {
    case Kind::non_finite_inputs: return "non-finite-inputs";
    case Kind::signed_bytes: return "signed-bytes";
    case Kind::unscaled_inputs: return "unscaled-inputs";
    case Kind::feature_scales: return "feature-scales";
    case Kind::constant_features: return "constant-features";
    case Kind::non_finite: return "non-finite";
    case Kind::divergence: return "divergence";
    case Kind::plateau: return "plateau";
    case Kind::dead_units: return "dead-units";
    case Kind::saturated_units: return "saturated-units";
    case Kind::large_updates: return "large-updates";
    case Kind::chance_accuracy: return "chance-accuracy";
  }
  return "?";
}

const char* to_string(Pass p) {
  switch (p) {
    case Pass::forward: return "forward";
    case Pass::loss: return "loss";
    case Pass::backward: return "backward";
    case Pass::update: return "update";
  }
  return "?";
}

const char* to_string(Quantity q) {
  switch (q) {
    case Quantity::input: return "input";
    case Quantity::target: return "target";
    case Quantity::z: return "z";
    case Quantity::a: return "a";
    case Quantity::loss: return "loss";
    case Quantity::delta: return "dL/dz";
    case Quantity::weight_gradient: return "dL/dW";
    case Quantity::bias_gradient: return "dL/db";
    case Quantity::weights: return "weights";
    case Quantity::biases: return "biases";
  }
  return "?";
}

const char* to_string(Operation o) {
  switch (o) {
    case Operation::exp_overflow: return "exp overflow";
    case Operation::log_of_zero: return "log(0)";
    case Operation::inf_minus_inf: return "inf − inf";
    case Operation::zero_times_inf: return "0 · inf";
    case Operation::zero_over_zero: return "0 / 0";
    case Operation::overflow: return "overflow";
    case Operation::division_by_zero: return "division by zero";
    case Operation::non_finite_operand: return "non-finite operand";
  }
  return "?";
}

const char* to_string(Site s) {
  switch (s) {
    case Site::data: return "data";
    case Site::parameters: return "parameters";
    case Site::matrix_product: return "W·a";
    case Site::bias_add: return "W·a + b";
    case Site::activation: return "activation";
    case Site::softmax: return "softmax";
    case Site::loss: return "loss";
    case Site::output_error: return "output error";
    case Site::backprop_product: return "Wᵀ·δ";
    case Site::activation_derivative: return "act'(z)";
    case Site::weight_gradient: return "δ·aᵀ";
    case Site::bias_gradient: return "Σ δ";
    case Site::weight_update: return "update";
  }
  return "?";
}

const char* to_string(Cadence c) { return c == Cadence::step ? "step" : "epoch"; }

std::optional<Severity> Result::worst() const {
  std::optional<Severity> w;
  for (const Finding& f : findings)
    w = w ? gradcheck::worst(*w, f.severity) : f.severity;
  return w;
}

std::size_t Result::count(Severity s) const {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(), [s](const Finding& f) { return f.severity == s; }));
}

const Finding* Result::find(Kind k) const {
  for (const Finding& f : findings)
    if (f.kind == k) return &f;
  return nullptr;
}

namespace {

using detail::num;
using detail::percent;

bool is_saturating(Activation a) { return a == Activation::sigmoid || a == Activation::tanh; }

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return nan;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// Per layer, over one epoch's statistics steps.
struct LayerAccumulator {
  double activation = 0, gradient = 0, weight = 0, saturated = 0, max_abs_z = 0;
  std::vector<double> ratios;
  std::vector<Index> last_active;  // relu: the statistics step (1-based count n) at which unit j last had z > 0; 0: never
  Index n = 0;
};

std::string fix_for(const NonFinite& nf, const std::optional<TrainOptions>& training) {
  const std::string rate = training ? " (η = " + num(training->learning_rate) + "; try " +
                                          num(training->learning_rate / 10) + ")"
                                    : "";
  switch (nf.operation) {
    case Operation::exp_overflow:
    case Operation::zero_over_zero:
      if (nf.site == Site::softmax)
        return "subtract the largest logit before exp (the stable softmax), or fuse softmax and cross-entropy "
               "into log-sum-exp; the logits grew this large because of the learning rate" + rate;
      break;
    case Operation::log_of_zero:
    case Operation::zero_times_inf:
      if (nf.site == Site::loss)
        return "compute cross-entropy from the logits (log-sum-exp / log_softmax) instead of log(softmax(z)), "
               "and skip terms whose target is 0 (0 · ln 0 = 0)";
      break;
    case Operation::division_by_zero:
      return "fuse the output activation with the loss: for softmax + cross-entropy dL/dz = a − y, never −y / a";
    case Operation::non_finite_operand:
      if (nf.site == Site::data) return "clean the data: check_inputs lists the non-finite values";
      if (nf.site == Site::parameters) return "initialise the network with finite weights (init.hpp)";
      break;
    default: break;
  }
  return "the values are growing without bound: lower the learning rate" + rate +
         ", clip the gradient norm (TrainOptions::clip_norm), or initialise to the fan-in (he for relu, xavier "
         "for sigmoid/tanh)";
}

// Where the entry is, in the words of the finding: "z of layer 1 (unit 3, sample 0)".
std::string non_finite_where(const NonFinite& nf) {
  std::string where = std::string(to_string(nf.quantity)) + " of " + detail::layer_name(nf.layer);
  switch (nf.quantity) {
    case Quantity::loss:
      where += nf.col >= 0 ? " (sample " + std::to_string(nf.col) + (nf.row >= 0 ? ", output unit " + std::to_string(nf.row) : "") + ")"
                           : " (the batch)";
      break;
    case Quantity::weights:
    case Quantity::weight_gradient:
      where += nf.position.empty() ? " (unit " + std::to_string(nf.row) + ", input " + std::to_string(nf.col) + ")"
                                   : " (" + nf.position + ")";
      break;
    case Quantity::biases:
    case Quantity::bias_gradient:
      where += (nf.position.empty() ? " (unit " : " (channel ") + std::to_string(nf.row) + ")";
      break;
    default:
      where += " (" + (nf.position.empty() ? "unit " + std::to_string(nf.row) : nf.position) + ", sample " +
               std::to_string(nf.col) + ")";
      break;
  }
  return where;
}

// One norm of one layer over the history: its first and last finite values, and
// the geometric mean growth factor per step between them.
struct Span {
  const char* name;
  double from = nan, to = nan, per_step = nan;
  Index from_step = -1, to_step = -1;
};

Span norm_span(const std::vector<StepStats>& h, const char* name, double LayerStats::*field, std::size_t layer) {
  Span s{name};
  for (const StepStats& st : h) {
    if (layer >= st.layers.size()) continue;
    const double v = st.layers[layer].*field;
    if (!std::isfinite(v)) continue;
    if (s.from_step < 0) s.from = v, s.from_step = st.step;
    s.to = v, s.to_step = st.step;
  }
  const double steps = static_cast<double>(s.to_step - s.from_step);
  if (s.from_step >= 0 && steps > 0 && s.from > 0) s.per_step = std::pow(s.to / s.from, 1.0 / steps);
  return s;
}

// The growth before it, for the layer concerned: each norm from the oldest to
// the newest step of the history where it is finite (the offending step's own
// gradient and activation norms are usually NaN already, and a growth "to NaN"
// says nothing), as a geometric mean factor per step.
void describe_growth(const NonFinite& nf, Finding& f) {
  const auto& h = nf.history;
  const auto l = static_cast<std::size_t>(nf.layer);
  if (h.size() < 2 || nf.layer < 0 || l >= h.front().layers.size()) return;
  // The layer's own norms, and (past the first layer) the norm of its input —
  // the previous layer's output, the `a` of this layer's W·a.
  std::vector<Span> spans = {norm_span(h, "weight norm", &LayerStats::weight_norm, l),
                             norm_span(h, "gradient norm", &LayerStats::gradient_norm, l),
                             norm_span(h, "activation norm", &LayerStats::activation_norm, l)};
  if (l > 0) spans.push_back(norm_span(h, "input's activation norm", &LayerStats::activation_norm, l - 1));
  f.message += "; in the " + std::to_string(h.size()) + " steps up to it (" + std::to_string(h.front().step) + "–" +
               std::to_string(h.back().step) + ")";
  bool first_span = true;
  for (const Span& s : spans) {
    f.message += std::string(first_span ? " " : ", ") + "its " + s.name;
    first_span = false;
    if (s.from_step < 0) {
      f.message += " was never finite";
      continue;
    }
    f.message += " went from " + num(s.from) + " (step " + std::to_string(s.from_step) + ") to " + num(s.to) +
                 " (step " + std::to_string(s.to_step) + ")";
    if (std::isfinite(s.per_step)) f.message += ", × " + num(s.per_step, 3) + " per step";
    f.evidence.push_back({std::string(s.name) + " at step " + std::to_string(s.from_step), s.from});
    f.evidence.push_back({std::string(s.name) + " at step " + std::to_string(s.to_step), s.to});
    f.evidence.push_back({std::string(s.name) + " growth per step", s.per_step});
  }
}

Finding non_finite_finding(const NonFinite& nf, const std::optional<TrainOptions>& training) {
  Finding f;
  f.kind = Kind::non_finite;
  f.severity = Severity::error;
  f.layer = nf.layer;
  f.epoch = nf.epoch;
  f.step = nf.step;
  f.message = std::string(nf.emulated ? "with the emulated numerics, the first" : "the first") + " non-finite value (" +
              detail::num(nf.value) + ") appears at step " + std::to_string(nf.step) + " (epoch " +
              std::to_string(nf.epoch) + ") in " + non_finite_where(nf) + ", " + to_string(nf.pass) + ": " +
              nf.cause + (nf.produced ? "" : " (passed on, not produced here)") + " — " + nf.detail;
  describe_growth(nf, f);
  for (const Evidence& e : nf.operands) f.evidence.push_back(e);
  f.fix = fix_for(nf, training);
  return f;
}

// xᵀx as m(m + 1)/2 dot products of contiguous columns (a GEMM's packing
// costs more than the work for an m × m result with m small).
Matrix<double> gram(const Matrix<double>& x) {
  const Index m = x.cols();
  Matrix<double> g(m, m);
  for (Index j = 0; j < m; ++j)
    for (Index i = j; i < m; ++i) g(i, j) = g(j, i) = x.col(i).dot(x.col(j));
  return g;
}

}  // namespace

double detail::gram_norm(const Matrix<double>& d, const Matrix<double>& a) {
  const double m = static_cast<double>(d.cols());
  if (m * static_cast<double>(d.rows() + a.rows()) >= static_cast<double>(d.rows()) * static_cast<double>(a.rows()))
    return nan;
  const Matrix<double> p = gram(d);
  const Matrix<double> q = gram(a);
  const double sum = (p.array() * q.array()).sum();
  const double bound = (p.diagonal().array() * q.diagonal().array()).sqrt().sum();
  const double b = bound * bound;
  if (!std::isfinite(b) || !(sum >= 1e-6 * b) || (sum != 0 && sum < 1e-280)) return nan;
  return std::sqrt(sum);
}

// ---------------------------------------------------------------------------

struct Watch::State {
  Options opt;
  std::optional<TrainOptions> training;
  Result r;
  bool initialised = false;
  bool done = false;  // the first non-finite value was found
  std::deque<StepStats> ring;
  Network<double> before;                // the parameters before this step's update (when copied)
  std::optional<StepStats> pending;  // this step's statistics, awaiting the update ratio
  int epoch = -1;
  Index epoch_steps = 0;
  double epoch_loss_sum = 0, epoch_samples = 0;  // Σ per-sample loss and samples, for an interrupted epoch
  std::vector<LayerAccumulator> acc;
  double window_sum = 0;
  Index window_steps = 0, window_first = 0;

  // Bounds that let most steps skip reading the large tensors (dL/dW and the
  // updated parameters, O(parameters) each) while still guaranteeing that no
  // non-finite value goes unseen: when a bound is below `safe` the tensor is
  // finite; otherwise it is read. The small tensors (z, a, δ: units × batch)
  // are always read.
  static constexpr double safe = 1e300;  // DBL_MAX = 1.8e308: 8 orders of magnitude of rounding headroom
  bool bounded = false;                  // TrainOptions known, optimiser boundable, watched from step 0
  std::vector<double> param_bound;       // B_l ≥ max |θ_l| (weights and biases of layer l)
  std::vector<double> velocity_bound;    // momentum: V_l ≥ max |v_l|
  std::vector<double> next_velocity;     // this step's V_l, committed after the update
  std::vector<double> grad_bound;        // this step's G_l ≥ max |dL/dθ_l|
  std::vector<double> growth;            // this step's bound on max |Δθ_l|
  std::vector<char> risky;               // layer l's update might overflow: read it after the update
  std::vector<char> grad_read;           // G_l came from reading dL/dθ_l (not from the bound)
  bool snapshot_taken = false;           // `before` holds this step's parameters
  long updates = 0;                      // updates applied (Adam's t)
  std::vector<Matrix<double>> formed_dw;  // dL/dW = δ aᵀ formed here when the trainer skipped it

  explicit State(Options o, std::optional<TrainOptions> t) : opt(std::move(o)), training(std::move(t)) {
    if (opt.stats_every < 1) opt.stats_every = 1;
    if (opt.loss_window < 1) opt.loss_window = 1;
    if (opt.history < 0) opt.history = 0;
    r.options = opt;
  }

  void initialise(const Network<double>& net) {
    initialised = true;
    for (const auto& l : net.layers) {
      r.activations.push_back(l.activation);
      r.kinds.push_back(l.kind);
    }
    r.outputs = net.output_size();
  }

  void begin_epoch(int e, const Network<double>& net) {
    epoch = e;
    epoch_steps = 0;
    epoch_loss_sum = 0;
    epoch_samples = 0;
    acc.assign(net.layers.size(), LayerAccumulator{});
    for (std::size_t l = 0; l < net.layers.size(); ++l)
      if (net.layers[l].activation == Activation::relu)
        acc[l].last_active.assign(static_cast<std::size_t>(watched_units(net.layers[l])), 0);
  }

  // The units whose deaths are counted: a dense layer's units, a conv2d layer's
  // feature maps (a map is active when z > 0 at any position of any sample).
  static Index watched_units(const Layer<double>& layer) {
    return layer.kind == LayerKind::conv2d ? layer.conv.out_channels : layer.units();
  }

  // ‖x‖₂ without overflow or underflow of the squares (those scale; the common case is one pass).
  template <class M>
  static double norm(const M& m) {
    const double sq = m.squaredNorm();
    if (std::isfinite(sq) && (sq > 1e-280 || sq == 0)) return std::sqrt(sq);
    return m.stableNorm();
  }
  template <class A, class B>
  static double norm(const A& a, const B& b) {
    return std::hypot(norm(a), norm(b));
  }

  // dL/dW of layer l: as the trainer wrote it, or formed here as backward
  // forms it (the same product, the same numbers) when the trainer skipped it
  // because these callbacks said they do not read it (Callbacks::weight_gradients).
  static bool weight_gradient_written(const Step<double>& s, std::size_t l) {
    return s.gradients.weights[l].size() == s.network.layers[l].weights.size();
  }
  const Matrix<double>& weight_gradient(const Step<double>& s, std::size_t l) {
    if (weight_gradient_written(s, l)) return s.gradients.weights[l];
    formed_dw.resize(s.network.layers.size());
    Vector<double> db;
    layer_parameter_gradients(s.network.layers[l], s.forward.a[l], s.gradients.deltas[l], formed_dw[l], db);
    return formed_dw[l];
  }

  // The step's gradients with every dL/dW present (for the rare paths that explain an update).
  Gradients<double> full_gradients(const Step<double>& s) {
    Gradients<double> g = s.gradients;
    for (std::size_t l = 0; l < g.weights.size(); ++l) g.weights[l] = weight_gradient(s, l);
    return g;
  }

  // ‖(dL/dW_l, dL/db_l)‖₂: from dL/dW when the trainer wrote it, else from the Gram matrices.
  double gradient_norm(const Step<double>& s, std::size_t l) {
    const Vector<double>& db = s.gradients.biases[l];
    if (weight_gradient_written(s, l)) return norm(s.gradients.weights[l], db);
    const double w = detail::gram_norm(s.gradients.deltas[l], s.forward.a[l]);
    return std::isnan(w) ? norm(weight_gradient(s, l), db) : std::hypot(w, norm(db));
  }

  StepStats statistics(const Step<double>& s) {
    StepStats st;
    st.epoch = s.epoch;
    st.step = s.step;
    st.clip_scale = s.clip_scale;
    const double m = static_cast<double>(std::max<Index>(s.inputs.cols(), 1));
    st.loss = s.network.reduction == Reduction::sum ? s.loss / m : s.loss;
    for (std::size_t l = 0; l < s.network.layers.size(); ++l) {
      const auto& layer = s.network.layers[l];
      const Matrix<double>& z = s.forward.z[l];
      const Matrix<double>& a = s.forward.a[l + 1];
      LayerStats ls;
      ls.activation_norm = norm(a) / std::sqrt(m);
      ls.gradient_norm = gradient_norm(s, l);
      ls.weight_norm = norm(layer.weights, layer.biases);
      ls.max_abs_z = z.size() ? z.cwiseAbs().maxCoeff() : 0.0;
      if (z.size() && z.hasNaN()) ls.max_abs_z = nan;
      LayerAccumulator& ac = acc[l];
      if (layer.activation == Activation::relu) {
        const Index units = watched_units(layer), rows = z.rows() / std::max<Index>(units, 1);
        Index dead = 0;
        for (Index j = 0; j < units; ++j) {
          const bool active = (z.middleRows(j * rows, rows).array() > 0).any();
          dead += active ? 0 : 1;
          if (active) ac.last_active[static_cast<std::size_t>(j)] = ac.n + 1;  // commit() counts this step as n + 1
        }
        ls.dead_fraction = static_cast<double>(dead) / static_cast<double>(units);
      }
      if (is_saturating(layer.activation)) {
        const double t = layer.activation == Activation::sigmoid ? opt.saturation_sigmoid : opt.saturation_tanh;
        ls.saturated_fraction = static_cast<double>((z.array().abs() > t).count()) / static_cast<double>(z.size());
      }
      st.layers.push_back(ls);
    }
    return st;
  }

  // Adds a completed step's statistics to the ring, the step series and the epoch.
  void commit(StepStats st) {
    for (std::size_t l = 0; l < st.layers.size() && l < acc.size(); ++l) {
      const LayerStats& ls = st.layers[l];
      LayerAccumulator& ac = acc[l];
      ac.activation += ls.activation_norm;
      ac.gradient += ls.gradient_norm;
      ac.weight += ls.weight_norm;
      if (!std::isnan(ls.saturated_fraction)) ac.saturated += ls.saturated_fraction;
      ac.max_abs_z = std::max(ac.max_abs_z, ls.max_abs_z);
      ac.ratios.push_back(ls.update_ratio);
      ++ac.n;
    }
    if (opt.history > 0) {
      ring.push_back(st);
      while (ring.size() > static_cast<std::size_t>(opt.history)) ring.pop_front();
    }
    if (opt.cadence == Cadence::step) r.steps.push_back(std::move(st));
  }

  void add_loss(const Step<double>& s) {
    const double m = static_cast<double>(std::max<Index>(s.inputs.cols(), 1));
    const double loss = s.network.reduction == Reduction::sum ? s.loss / m : s.loss;
    epoch_loss_sum += loss * m;
    epoch_samples += m;
    if (window_steps == 0) window_first = s.step;
    window_sum += loss;
    if (++window_steps == opt.loss_window) {
      r.loss_windows.push_back({window_first, window_steps, window_sum / static_cast<double>(window_steps)});
      window_sum = 0;
      window_steps = 0;
    }
  }

  EpochStats epoch_stats(double train_loss, std::optional<Evaluation> test, double seconds) const {
    EpochStats e;
    e.epoch = epoch;
    e.steps = epoch_steps;
    e.train_loss = train_loss;
    e.test = std::move(test);
    e.seconds = seconds;
    for (std::size_t l = 0; l < acc.size(); ++l) {
      const LayerAccumulator& ac = acc[l];
      LayerStats ls;
      const double n = static_cast<double>(ac.n);
      if (ac.n > 0) {
        ls.activation_norm = ac.activation / n;
        ls.gradient_norm = ac.gradient / n;
        ls.weight_norm = ac.weight / n;
        ls.max_abs_z = ac.max_abs_z;
        ls.update_ratio = median(ac.ratios);
        if (is_saturating(r.activations[l])) ls.saturated_fraction = ac.saturated / n;
        if (!ac.last_active.empty()) {
          // Dead: not active in any of the epoch's last dead_window statistics steps.
          const Index since = ac.n - std::min<Index>(opt.dead_window, ac.n);
          const auto dead = std::count_if(ac.last_active.begin(), ac.last_active.end(),
                                          [since](Index last) { return last <= since; });
          ls.dead_fraction = static_cast<double>(dead) / static_cast<double>(ac.last_active.size());
        }
      }
      e.layers.push_back(ls);
    }
    return e;
  }

  void record(NonFinite nf, const Step<double>& s) {
    nf.epoch = s.epoch;
    nf.step = s.step;
    nf.history.assign(ring.begin(), ring.end());
    r.findings.push_back(non_finite_finding(nf, training));
    r.first_non_finite = std::move(nf);
    done = true;
  }

  // The largest |x| of a tensor (NaN-free by the caller's check).
  static double max_abs(const Matrix<double>& m) { return m.size() ? m.cwiseAbs().maxCoeff() : 0.0; }
  static double max_abs(const Vector<double>& v) { return v.size() ? v.cwiseAbs().maxCoeff() : 0.0; }

  // Whether the engine's tensors of this step are all finite. The gradients
  // dL/dW_l = δ_l a_lᵀ and dL/db_l = Σ δ_l are bounded by max_j ‖δ_l(j, ·)‖₁ ·
  // max(1, max |a_l|) and read only when that bound is not below `safe`.
  bool step_finite(const Step<double>& s) {
    using detail::all_finite;
    if (!std::isfinite(s.loss) || !all_finite(s.inputs) || !all_finite(s.targets)) return false;
    const std::size_t L = s.network.layers.size();
    for (std::size_t l = 0; l < L; ++l)
      if (!all_finite(s.forward.z[l]) || !all_finite(s.forward.a[l + 1]) || !all_finite(s.gradients.deltas[l]))
        return false;
    grad_bound.assign(L, 0.0);
    grad_read.assign(L, 0);
    for (std::size_t l = 0; l < L; ++l) {
      const Matrix<double>& d = s.gradients.deltas[l];
      const double row_l1 = d.size() ? d.cwiseAbs().rowwise().sum().maxCoeff() : 0.0;
      const double g = row_l1 * std::max(1.0, max_abs(s.forward.a[l]));
      if (g < safe) {
        grad_bound[l] = g;
        continue;
      }
      const Matrix<double>& dw = weight_gradient(s, l);
      if (!all_finite(dw) || !all_finite(s.gradients.biases[l])) return false;
      grad_bound[l] = std::max(max_abs(dw), max_abs(s.gradients.biases[l]));
      grad_read[l] = 1;
    }
    return true;
  }

  // Adam's |m̂ / √v̂| ≤ R_t (Cauchy–Schwarz over the moments' weights; R_1 = 1):
  //   R_t = (1 − β1)/(1 − β1^t) · √((1 − β2^t)/(1 − β2)) · √((1 − r^t)/(1 − r)),  r = β1²/β2 < 1.
  double adam_ratio_bound(long t) const {
    const double b1 = training->beta1, b2 = training->beta2, r = b1 * b1 / b2;
    const double td = static_cast<double>(t);
    return (1 - b1) / (1 - std::pow(b1, td)) * std::sqrt((1 - std::pow(b2, td)) / (1 - b2)) *
           std::sqrt(r == 0 ? 1.0 : (1 - std::pow(r, td)) / (1 - r));
  }

  void start_bounds(const Step<double>& s) {
    const std::size_t L = s.network.layers.size();
    bounded = training && s.step == 0;
    if (bounded && training->optimizer == Optimizer::adam)
      bounded = training->beta2 > 0 && training->beta1 * training->beta1 < training->beta2;
    param_bound.assign(L, 0.0);
    velocity_bound.assign(L, 0.0);
    for (std::size_t l = 0; l < L; ++l)
      param_bound[l] = std::max(max_abs(s.network.layers[l].weights), max_abs(s.network.layers[l].biases));
  }

  // Which layers' updates might overflow, from the bounds.
  void plan_update(const Step<double>& s) {
    const std::size_t L = s.network.layers.size();
    risky.assign(L, 1);
    growth.assign(L, 0.0);
    next_velocity = velocity_bound;
    if (!bounded) return;
    const double eta = training->learning_rate, scale = s.clip_scale;
    for (std::size_t l = 0; l < L; ++l) {
      switch (training->optimizer) {
        case Optimizer::sgd: growth[l] = eta * scale * grad_bound[l]; break;
        case Optimizer::momentum:
          next_velocity[l] = training->momentum * velocity_bound[l] + scale * grad_bound[l];
          growth[l] = eta * next_velocity[l];
          break;
        case Optimizer::adam: growth[l] = eta * adam_ratio_bound(updates + 1); break;
      }
      risky[l] = !(param_bound[l] + growth[l] < safe);
    }
  }

  void take_snapshot(const Network<double>& net) {
    if (before.layers.size() != net.layers.size()) before = net;  // shapes once; then plain copies
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
      before.layers[l].weights = net.layers[l].weights;
      before.layers[l].biases = net.layers[l].biases;
    }
    snapshot_taken = true;
  }

  // The output layer as Options::numerics computes it, from the engine's z:
  // whether that emulation meets a non-finite value (cheap: one exp per entry).
  bool emulation_finite(const Step<double>& s) const {
    const Numerics& n = opt.numerics;
    const Network<double>& net = s.network;
    const Matrix<double>& z = s.forward.z.back();
    const Matrix<double>& y = s.targets;
    const bool softmax = net.layers.back().activation == Activation::softmax;
    const bool naive_softmax = n.softmax == SoftmaxForm::naive && softmax;
    const bool naive_loss = n.cross_entropy == CrossEntropyForm::from_outputs && net.loss != Loss::quadratic;
    if (!naive_softmax && !naive_loss) return true;
    for (Index c = 0; c < z.cols(); ++c) {
      Vector<double> a = s.forward.a.back().col(c);
      if (naive_softmax) {
        double total = 0;
        for (Index k = 0; k < z.rows(); ++k) total += a(k) = std::exp(z(k, c));
        a /= total;
        if (!a.allFinite()) return false;
      }
      if (naive_loss) {
        double sum = 0;
        for (Index k = 0; k < a.size(); ++k) {
          sum -= y(k, c) * std::log(a(k));
          if (net.loss == Loss::binary_cross_entropy) sum -= (1 - y(k, c)) * std::log(1 - a(k));
        }
        if (!std::isfinite(sum)) return false;
      }
    }
    return true;
  }

  Control before_update(const Step<double>& s) {
    if (done) return opt.stop_on_non_finite ? Control::stop : Control::proceed;
    if (!initialised) initialise(s.network);
    if (s.epoch != epoch) begin_epoch(s.epoch, s.network);
    ++r.steps_seen;
    ++epoch_steps;
    add_loss(s);
    const bool first = r.steps_seen == 1;
    const bool stats_step = s.step % opt.stats_every == 0;
    snapshot_taken = false;

    std::optional<NonFinite> nf;
    bool finite = !first || detail::finite_parameters(s.network);
    if (finite && first) start_bounds(s);
    finite = finite && step_finite(s);
    if (!finite || !emulation_finite(s)) {
      nf = trace_step(s.network, s.inputs, s.targets, opt.numerics);
      if (!nf && !finite) {
        // Not reproduced by the re-run (it should be; the engine is deterministic):
        // report what was seen, without a cause.
        NonFinite unknown;
        unknown.pass = Pass::forward;
        unknown.quantity = Quantity::loss;
        unknown.layer = static_cast<int>(s.network.layers.size()) - 1;
        unknown.row = unknown.col = -1;
        unknown.value = s.loss;
        unknown.cause = "a non-finite value the diagnostic re-run did not reproduce";
        unknown.detail = "the batch loss is " + num(s.loss);
        nf = std::move(unknown);
      }
    }
    if (stats_step || nf) {
      pending = statistics(s);
      if (nf) {  // the offending step closes the history
        commit(*pending);
        pending.reset();
      } else {
        // Norms bound the largest entries: tighten the bounds for free.
        for (std::size_t l = 0; l < pending->layers.size(); ++l) {
          param_bound[l] = std::min(param_bound[l], pending->layers[l].weight_norm);
          grad_bound[l] = std::min(grad_bound[l], pending->layers[l].gradient_norm);
        }
      }
    }
    if (nf) {
      record(std::move(*nf), s);
      r.stopped = opt.stop_on_non_finite;
      return opt.stop_on_non_finite ? Control::stop : Control::proceed;
    }
    plan_update(s);
    const bool any_risky = std::find(risky.begin(), risky.end(), char{1}) != risky.end();
    // The parameters are copied when the update might overflow (so that it can
    // be shown with its operands), and to measure the update ratio, except under
    // SGD, where the update is η·s·g and its norm is known without a copy.
    const bool sgd = training && training->optimizer == Optimizer::sgd;
    if ((stats_step && pending && !sgd) || (any_risky && (bounded || opt.snapshot))) take_snapshot(s.network);
    if (stats_step && pending && sgd)
      for (LayerStats& ls : pending->layers)
        ls.update_ratio = ls.weight_norm > 0 ? training->learning_rate * s.clip_scale * ls.gradient_norm / ls.weight_norm : nan;
    return Control::proceed;
  }

  Control after_update(const Step<double>& s) {
    if (done) return opt.stop_on_non_finite ? Control::stop : Control::proceed;
    const Network<double>& net = s.network;
    ++updates;
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
      if (!risky[l]) {
        param_bound[l] += growth[l];
        continue;
      }
      const auto& layer = net.layers[l];
      if (detail::all_finite(layer.weights) && detail::all_finite(layer.biases)) {
        param_bound[l] = std::max(max_abs(layer.weights), max_abs(layer.biases));
        continue;
      }
      auto nf = explain_update(snapshot_taken ? &before : nullptr, net, full_gradients(s), s.clip_scale, training);
      if (nf) {
        if (pending) {
          commit(*pending);
          pending.reset();
        }
        record(std::move(*nf), s);
        r.stopped = opt.stop_on_non_finite;
        return opt.stop_on_non_finite ? Control::stop : Control::proceed;
      }
    }
    velocity_bound = next_velocity;
    if (pending) {
      if (snapshot_taken && !(training && training->optimizer == Optimizer::sgd)) {
        for (std::size_t l = 0; l < net.layers.size(); ++l) {
          const Matrix<double> dw = net.layers[l].weights - before.layers[l].weights;
          const Vector<double> db = net.layers[l].biases - before.layers[l].biases;
          const double moved = norm(dw, db);
          const double w = pending->layers[l].weight_norm;
          pending->layers[l].update_ratio = w > 0 ? moved / w : nan;
        }
      }
      commit(std::move(*pending));
      pending.reset();
    }
    return Control::proceed;
  }

  void epoch_end(const EpochRecord& rec) {
    if (epoch != rec.epoch) return;  // an epoch without a single step seen
    r.epochs.push_back(epoch_stats(rec.train_loss, rec.test, rec.seconds));
    epoch = -1;
  }

  Result finalised() const;
};

// ---------------------------------------------------------------------------
// The end-of-run detectors

namespace {

// What the end-of-run detectors read: the result being finalised and the watch's settings.
struct Run {
  const Result& out;
  const Options& opt;
  const std::optional<TrainOptions>& training;
};

// A run-level detector appends its findings to `found`, which holds those of the detectors before it.
using Detector = void (*)(const Run& run, std::vector<Finding>& found);
// A per-layer detector: its finding for layer l, if any.
using LayerDetector = std::optional<Finding> (*)(const Run& run, std::size_t l);

// Divergence: a window's mean loss beyond factor × the best before it.
void detect_divergence(const Run& run, std::vector<Finding>& found) {
  const Options& opt = run.opt;
  const auto& w = run.out.loss_windows;
  double best = nan;
  std::size_t best_at = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double v = w[i].mean_loss;
    if (!std::isfinite(v)) continue;
    if (!std::isnan(best) && v > opt.divergence_factor * best) {
      Finding f;
      f.kind = Kind::divergence;
      f.severity = Severity::error;
      f.step = w[i].first_step + w[i].steps - 1;
      f.message = "the loss diverged: its mean over steps " + std::to_string(w[i].first_step) + "–" +
                  std::to_string(f.step) + " is " + num(v) + ", " + num(v / best, 3) + " × its best window mean " +
                  num(best) + " (steps " + std::to_string(w[best_at].first_step) + "–" +
                  std::to_string(w[best_at].first_step + w[best_at].steps - 1) + ")";
      f.fix = "lower the learning rate" +
              (run.training ? " (η = " + num(run.training->learning_rate) + "; try " +
                                  num(run.training->learning_rate / 10) + ")"
                            : std::string()) +
              ", or clip the gradient norm (TrainOptions::clip_norm)";
      f.evidence = {{"window mean loss", v},
                    {"best window mean loss", best},
                    {"ratio", v / best},
                    {"threshold factor", opt.divergence_factor},
                    {"window (steps)", static_cast<double>(opt.loss_window)}};
      found.push_back(std::move(f));
      return;
    }
    if (std::isnan(best) || v < best) {
      best = v;
      best_at = i;
    }
  }
}

// The finding of a plateau over the full windows after `last_improvement`, which
// never went below `best` (the best window mean).
Finding plateau_finding(const Options& opt, const std::vector<double>& full, std::size_t last_improvement,
                        double best) {
  const std::size_t flat = full.size() - 1 - last_improvement;
  double level = 0;
  for (std::size_t i = last_improvement + 1; i < full.size(); ++i) level += full[i];
  level /= static_cast<double>(flat);
  const bool stuck = level >= opt.plateau_stuck * full[0];
  Finding f;
  f.kind = Kind::plateau;
  f.severity = stuck ? Severity::warning : Severity::info;
  const Index from = static_cast<Index>(last_improvement + 1) * opt.loss_window;
  f.step = from;
  f.message = std::string(stuck ? "training is stuck: " : "the loss has levelled off: ") + "for the last " +
              std::to_string(flat) + " windows of " + std::to_string(opt.loss_window) +
              " steps (from step " + std::to_string(from) + ") the mean loss stayed at " + num(level) +
              ", never " + percent(opt.plateau_improvement) + " below its best " + num(best) +
              "; the first window's mean was " + num(full[0]) +
              (stuck ? " (it has not even halved)" : " (" + percent(1 - level / full[0]) + " lower)");
  f.fix = stuck ? "check the data and the gradients first (input findings, gradcheck check); then a larger "
                  "learning rate, an initialisation scaled to the fan-in (xavier/he) against saturated "
                  "units, or a cross-entropy loss instead of quadratic"
                : "converged at this learning rate: stop here, or lower the learning rate to go further";
  f.evidence = {{"plateau mean loss", level},
                {"best window mean loss", best},
                {"first window mean loss", full[0]},
                {"windows without improvement", static_cast<double>(flat)},
                {"improvement threshold", opt.plateau_improvement}};
  return f;
}

// Plateau: no window improved the best by more than the threshold, from some
// window up to the end of the run. Not after a divergence or a non-finite value.
void detect_plateau(const Run& run, std::vector<Finding>& found) {
  const Options& opt = run.opt;
  std::vector<double> full;  // the windows at least half full: the run's last one may be short
  for (const LossWindow& lw : run.out.loss_windows)
    if (lw.steps * 2 >= opt.loss_window) full.push_back(lw.mean_loss);
  bool finite_windows = !full.empty();
  for (double v : full) finite_windows = finite_windows && std::isfinite(v);
  const bool diverged =
      std::any_of(found.begin(), found.end(), [](const Finding& f) { return f.kind == Kind::divergence; });
  if (!finite_windows || diverged || run.out.first_non_finite) return;
  std::size_t last_improvement = 0;
  double running = full[0];
  for (std::size_t i = 1; i < full.size(); ++i) {
    if (full[i] < (1 - opt.plateau_improvement) * running) last_improvement = i;
    running = std::min(running, full[i]);
  }
  const std::size_t flat = full.size() - 1 - last_improvement;
  if (flat >= static_cast<std::size_t>(opt.plateau_windows))
    found.push_back(plateau_finding(opt, full, last_improvement, running));
}

// The epoch in which layer l's `field` is largest among the epochs `flagged(e, value)`
// (the first of equal ones), or null.
template <class Flagged>
const EpochStats* worst_epoch(const std::vector<EpochStats>& epochs, std::size_t l, double LayerStats::*field,
                              Flagged flagged) {
  const EpochStats* worst = nullptr;
  for (const EpochStats& e : epochs) {
    if (l >= e.layers.size()) continue;
    const double v = e.layers[l].*field;
    if (flagged(e, v) && (!worst || v > worst->layers[l].*field)) worst = &e;
  }
  return worst;
}

std::optional<Finding> detect_dead_units(const Run& run, std::size_t l) {
  const Options& opt = run.opt;
  // A unit silent on a couple of batches is not dead yet: judge epochs of 10 statistics steps or more.
  const auto flagged = [&](const EpochStats& e, double v) {
    return e.steps >= 10 * opt.stats_every && v >= opt.dead_warning;
  };
  const EpochStats* dead = worst_epoch(run.out.epochs, l, &LayerStats::dead_fraction, flagged);
  if (!dead) return std::nullopt;
  const int layer = static_cast<int>(l);
  const LayerStats& ls = dead->layers[l];
  Finding f;
  f.kind = Kind::dead_units;
  f.severity = Severity::warning;
  f.layer = layer;
  f.epoch = dead->epoch;
  const Index window = std::min(opt.dead_window * opt.stats_every, dead->steps);
  const bool maps = l < run.out.kinds.size() && run.out.kinds[l] == LayerKind::conv2d;
  f.message = percent(ls.dead_fraction) + " of " + detail::layer_name(layer) +
              (maps ? "'s relu feature maps are dead: not active (z ≤ 0 at every position of every sample)"
                    : "'s relu units are dead: not active (z ≤ 0 on every sample)") +
              " in the last " + std::to_string(window) +
              " steps of epoch " + std::to_string(dead->epoch) + "; they pass no gradient and cannot recover";
  f.fix = "look for large negative biases or a learning rate that pushed them there; initialise with he "
          "(biases 0), lower the learning rate, or use leaky_relu";
  f.evidence = {{"dead fraction", ls.dead_fraction},
                {"epoch", static_cast<double>(dead->epoch)},
                {"threshold", opt.dead_warning}};
  return f;
}

std::optional<Finding> detect_saturated_units(const Run& run, std::size_t l) {
  const Options& opt = run.opt;
  const EpochStats* saturated = worst_epoch(run.out.epochs, l, &LayerStats::saturated_fraction,
                                            [&](const EpochStats&, double v) { return v >= opt.saturated_warning; });
  if (!saturated) return std::nullopt;
  const int layer = static_cast<int>(l);
  const LayerStats& ls = saturated->layers[l];
  const Activation act = run.out.activations[l];
  const double t = act == Activation::sigmoid ? opt.saturation_sigmoid : opt.saturation_tanh;
  Finding f;
  f.kind = Kind::saturated_units;
  f.severity = Severity::warning;
  f.layer = layer;
  f.epoch = saturated->epoch;
  f.message = percent(ls.saturated_fraction) + " of " + detail::layer_name(layer) + "'s " + to_string(act) +
              " pre-activations are saturated (|z| > " + num(t) + ", where the derivative is below 1 % of its "
              "peak) on average in epoch " + std::to_string(saturated->epoch) + "; the largest |z| is " +
              num(ls.max_abs_z) + ": these units learn slowly";
  f.fix = "initialise to the fan-in (xavier: weights ~ U(±√(6/(fan_in + fan_out)))) instead of N(0, 1), "
          "scale the inputs to [0, 1] or standardise them, and prefer cross-entropy to quadratic loss on "
          "sigmoid outputs";
  f.evidence = {{"saturated fraction (epoch mean)", ls.saturated_fraction},
                {"threshold |z|", t},
                {"largest |z|", ls.max_abs_z},
                {"epoch", static_cast<double>(saturated->epoch)}};
  return f;
}

std::optional<Finding> detect_large_updates(const Run& run, std::size_t l) {
  const Options& opt = run.opt;
  const EpochStats* large = worst_epoch(run.out.epochs, l, &LayerStats::update_ratio,
                                        [&](const EpochStats&, double v) { return v > opt.update_ratio_warning; });
  if (!large) return std::nullopt;
  const int layer = static_cast<int>(l);
  const LayerStats& ls = large->layers[l];
  Finding f;
  f.kind = Kind::large_updates;
  f.severity = Severity::warning;
  f.layer = layer;
  f.epoch = large->epoch;
  f.message = "updates of " + detail::layer_name(layer) + " are large: the median update/weight ratio in epoch " +
              std::to_string(large->epoch) + " is " + num(ls.update_ratio, 3) + " (a healthy run moves ~1e-3 "
              "of the weights per step)";
  f.fix = "lower the learning rate" +
          (run.training ? " (η = " + num(run.training->learning_rate) + ")" : std::string()) +
          "; ratios near 1 mean every step rewrites the weights";
  f.evidence = {{"median update/weight ratio", ls.update_ratio},
                {"threshold", opt.update_ratio_warning},
                {"epoch", static_cast<double>(large->epoch)}};
  return f;
}

// The per-layer detectors, in the order their findings appear for each layer.
constexpr std::array<LayerDetector, 3> layer_detectors = {detect_dead_units, detect_saturated_units,
                                                          detect_large_updates};

// Per layer, judged per epoch and reported once, for the worst epoch: layer by layer.
void detect_per_layer(const Run& run, std::vector<Finding>& found) {
  for (std::size_t l = 0; l < run.out.activations.size(); ++l)
    for (const LayerDetector detect : layer_detectors)
      if (std::optional<Finding> f = detect(run, l)) found.push_back(std::move(*f));
}

// Accuracy at chance, on the test set after the last evaluated epoch.
void detect_chance_accuracy(const Run& run, std::vector<Finding>& found) {
  const Result& out = run.out;
  const EpochStats* last_test = nullptr;
  for (const EpochStats& e : out.epochs)
    if (e.test && e.test->samples > 0) last_test = &e;
  if (!last_test || out.outputs < 1) return;
  const double classes = out.outputs == 1 ? 2.0 : static_cast<double>(out.outputs);
  const double chance = 1.0 / classes, acc = last_test->test->accuracy;
  if (!(acc < run.opt.chance_factor * chance)) return;
  Finding f;
  f.kind = Kind::chance_accuracy;
  f.severity = Severity::warning;
  f.epoch = last_test->epoch;
  f.message = "test accuracy after epoch " + std::to_string(last_test->epoch) + " is " + percent(acc) +
              ", at chance level for " + num(classes) + " classes (" + percent(chance) +
              "): the network predicts the test set no better than guessing";
  f.fix = "if the training loss fell, the training and test inputs differ: check that both are read and "
          "scaled the same way (the input findings); if it did not, see the other findings (learning rate, "
          "initialisation, dead or saturated units)";
  f.evidence = {{"test accuracy", acc},
                {"chance accuracy", chance},
                {"test samples", static_cast<double>(last_test->test->samples)},
                {"training loss of that epoch", last_test->train_loss}};
  found.push_back(std::move(f));
}

// The end-of-run detectors, in the order their findings appear. A new detector is
// one function and one row here (or in layer_detectors, for a per-layer one).
constexpr std::array<Detector, 4> detectors = {detect_divergence, detect_plateau, detect_per_layer,
                                               detect_chance_accuracy};

}  // namespace

Result Watch::State::finalised() const {
  Result out = r;
  // An epoch interrupted before its epoch_end (SIGINT, a stop): its aggregates so far.
  if (epoch >= 0 && epoch_steps > 0) {
    out.epochs.push_back(epoch_stats(epoch_samples > 0 ? epoch_loss_sum / epoch_samples : nan, std::nullopt, 0));
  }
  if (window_steps > 0) out.loss_windows.push_back({window_first, window_steps, window_sum / static_cast<double>(window_steps)});

  std::vector<Finding> found;
  const Run run{out, opt, training};
  for (const Detector detect : detectors) detect(run, found);
  for (Finding& f : found) out.findings.push_back(std::move(f));
  return out;
}

Watch::Watch(Options options, std::optional<TrainOptions> training)
    : s_(std::make_unique<State>(std::move(options), std::move(training))) {}

Watch::~Watch() = default;

const InputSanity& Watch::check_inputs(const Dataset<double>& training, const InputOptions& options) {
  return add_inputs(watch::check_inputs(training, options));
}

const InputSanity& Watch::add_inputs(InputSanity s) {
  // Input findings come first, whenever this is called.
  std::vector<Finding> rest = std::move(s_->r.findings);
  s_->r.findings = s.findings;
  for (Finding& f : rest) s_->r.findings.push_back(std::move(f));
  s_->r.inputs = std::move(s);
  return *s_->r.inputs;
}

Callbacks<double> Watch::callbacks(Callbacks<double> then) {
  State* s = s_.get();
  Callbacks<double> cb;
  cb.before_update = [s, next = then.before_update](const Step<double>& step) {
    const Control c = s->before_update(step);
    if (next && next(step) == Control::stop) return Control::stop;
    return c;
  };
  cb.after_update = [s, next = then.after_update](const Step<double>& step) {
    const Control c = s->after_update(step);
    if (next && next(step) == Control::stop) return Control::stop;
    return c;
  };
  cb.epoch_end = [s, next = then.epoch_end](const EpochRecord& rec) {
    s->epoch_end(rec);
    if (next && next(rec) == Control::stop) return Control::stop;
    return Control::proceed;
  };
  // The watch forms dL/dW itself when it needs it: the trainer writes it only for `then`.
  cb.weight_gradients = (then.before_update || then.after_update) && then.weight_gradients;
  return cb;
}

Result Watch::result() const { return s_->finalised(); }

WatchedRun train_watched(Network<double>& net, const Dataset<double>& training, const TrainOptions& train_options,
                         const Dataset<double>* test, const Options& options, const InputOptions& input_options) {
  Watch w(options, train_options);
  w.check_inputs(training, input_options);
  Trainer<double> trainer(net, train_options, w.callbacks());
  WatchedRun run;
  run.history = trainer.train(training, test);
  run.watch = w.result();
  return run;
}

}  // namespace gradcheck::watch
