// Experiments on the minimal counterexample (experiments.hpp).
#include "experiments.hpp"

#include <gradcheck/engine/format.hpp>

#include <algorithm>
#include <initializer_list>
#include <cmath>
#include <string>
#include <vector>

namespace gradcheck::detail {
namespace {

struct Lab {
  const Case& m;
  VerifyResult& v;
  const AskProgram& ask;
  const std::function<bool()>& stopped;
};

std::string num(double x) { return format_number(x, 6); }

// The cause is a named mistake of another family than `kinds` (then an
// experiment about those has nothing to add).
bool named_otherwise(const VerifyResult& r, std::initializer_list<BugKind> kinds) {
  const Cause& c = *r.cause;
  if (c.confidence == CauseConfidence::not_identified || c.confidence == CauseConfidence::closest) return false;
  return !c.kind || std::find(kinds.begin(), kinds.end(), *c.kind) == kinds.end();
}

bool has_kind(const VerifyResult& r, BugKind k) {
  return std::any_of(r.signatures.begin(), r.signatures.end(),
                     [k](const Signature& s) { return s.kind == k && s.severity == Severity::error; });
}

// An experiment cut short: nothing when the run was interrupted, else what the program did not answer.
std::optional<Experiment> no_reply(const Lab& lab, Experiment& e, const std::string& what) {
  if (lab.stopped()) return std::nullopt;
  e.finding = "the program gave no usable reply to " + what + ", so this question has no answer";
  return e;
}

// The minimal case with one more sample, a mix of the first two (or of the first).
Case with_extra_sample(const Case& m) {
  Case c = m;
  const Index N = m.batch_size();
  c.inputs.conservativeResize(Eigen::NoChange, N + 1);
  c.targets.conservativeResize(Eigen::NoChange, N + 1);
  const Vector<double> other = N > 1 ? Vector<double>(m.inputs.col(1)) : Vector<double>(-m.inputs.col(0));
  c.inputs.col(N) = 2 * m.inputs.col(0) - other + Vector<double>::Constant(m.inputs.rows(), 0.5);
  c.targets.col(N) = m.targets.col(0);
  return c;
}

// Each sample of the minimal case alone (a batch of 2 to 8): a bug in how
// samples are combined needs the batch, one in the per-sample gradient does not.
std::optional<Experiment> samples_alone(const Lab& lab) {
  const Index N = lab.m.batch_size();
  if (N < 2 || N > 8) return std::nullopt;
  Experiment e;
  e.name = "samples-alone";
  e.question = "each of the " + std::to_string(N) + " samples of the minimal case alone";
  std::string wrong;
  Index diverging = 0;
  for (Index s = 0; s < N; ++s) {
    Case one = lab.m;
    one.inputs = lab.m.inputs.col(s);
    one.targets = lab.m.targets.col(s);
    const auto r = lab.ask(one);
    ++e.cases_sent;
    if (!r) return no_reply(lab, e, "sample " + std::to_string(s) + " alone");
    if (r->status != VerifyStatus::diverge) continue;
    ++diverging;
    wrong += (wrong.empty() ? "" : ", ") + std::to_string(s);
  }
  if (diverging == 0)
    e.finding = "each sample alone gets a correct reply, the " + std::to_string(N) +
                " together do not: the bug is in how the program combines the samples of a batch (its reduction "
                "or its accumulation)";
  else if (diverging == N)
    e.finding = "each sample alone diverges too: the bug shows in a batch of 1";
  else
    e.finding = "sample" + std::string(diverging == 1 ? " " : "s ") + wrong + " alone diverge" +
                (diverging == 1 ? "s" : "") + ", the others agree";
  return e;
}

// Pairs of samples (a batch of 3 or 4 whose samples alone are all right):
// which combinations the program gets wrong.
std::optional<Experiment> sample_pairs(const Lab& lab) {
  const Index N = lab.m.batch_size();
  const auto& done = lab.v.cause->experiments;
  const bool alone_right = !done.empty() && done.back().name == "samples-alone" &&
                           done.back().finding.rfind("each sample alone gets a correct reply", 0) == 0;
  if (N < 3 || N > 4 || !alone_right) return std::nullopt;
  Experiment e;
  e.name = "sample-pairs";
  e.question = "each pair of the " + std::to_string(N) + " samples";
  std::string wrong, right;
  for (Index i = 0; i < N; ++i)
    for (Index j = i + 1; j < N; ++j) {
      Case two = lab.m;
      two.inputs = Matrix<double>(lab.m.inputs.rows(), 2);
      two.targets = Matrix<double>(lab.m.targets.rows(), 2);
      two.inputs << lab.m.inputs.col(i), lab.m.inputs.col(j);
      two.targets << lab.m.targets.col(i), lab.m.targets.col(j);
      const auto r = lab.ask(two);
      ++e.cases_sent;
      const std::string pair = "(" + std::to_string(i) + ", " + std::to_string(j) + ")";
      if (!r) return no_reply(lab, e, "the pair " + pair);
      std::string& list = r->status == VerifyStatus::diverge ? wrong : right;
      list += (list.empty() ? "" : ", ") + pair;
    }
  e.finding = wrong.empty() ? "every pair gets a correct reply: the bug needs " + std::to_string(N) + " samples"
              : right.empty() ? "every pair diverges: any two samples together show the bug"
                              : "the pairs " + wrong + " diverge, " + right + " agree";
  return e;
}

// A batch of 2 whose reply keeps only the last sample is also a loop that
// starts at 1: a third sample tells the two apart.
std::optional<Experiment> third_sample(const Lab& lab) {
  if (lab.m.batch_size() != 2 || !has_kind(lab.v, BugKind::samples_dropped)) return std::nullopt;
  Experiment e;
  e.name = "third-sample";
  e.question = "the minimal case with a third sample";
  e.cases_sent = 1;
  const auto r = lab.ask(with_extra_sample(lab.m));
  if (!r) return no_reply(lab, e, "the case with 3 samples");
  for (const Signature& s : r->signatures)
    if (s.severity == Severity::error) {
      e.finding = "with 3 samples the reply shows " + std::string(to_string(s.kind)) + ": " + s.message;
      e.confirms_cause = s.kind == BugKind::samples_dropped;
      if (e.confirms_cause) lab.v.cause->statement = s.message;
      return e;
    }
  e.finding = "with 3 samples the reply is " + std::string(to_string(r->status)) + ", no signature named";
  return e;
}

// ---------------------------------------------------------------------------
// Scale: how the ratio to the reference moves with the batch size, the
// reduction and the number of outputs

// One ratio claimed / reference for the whole reply: 1 when it passes;
// nullopt when the tensors do not share one.
std::optional<double> overall_ratio(const VerifyResult& r) {
  // An entry at a kink takes any side's value: no ratio can be read from it.
  if (r.gradients.summary.counts.inconclusive_kink > 0) return std::nullopt;
  if (r.status != VerifyStatus::diverge) return 1.0;
  double sum = 0, lo = 0, hi = 0;
  int n = 0;
  for (const TensorRatio& t : r.ratios) {
    if (!t.defined) continue;
    if (t.residual > 1e-6) return std::nullopt;
    lo = n ? std::min(lo, t.ratio) : t.ratio;
    hi = n ? std::max(hi, t.ratio) : t.ratio;
    sum += t.ratio;
    ++n;
  }
  if (n == 0 || hi - lo > 1e-6 * std::abs(hi)) return std::nullopt;
  return sum / n;
}

bool near(double x, double y) { return std::abs(x - y) <= 1e-6 * std::max(std::abs(x), std::abs(y)); }

// The case with one more output unit (quadratic loss only: any output is a valid target).
std::optional<Case> with_extra_output(const Case& m) {
  if (m.network.loss != Loss::quadratic || m.network.layers.back().activation == Activation::softmax) return std::nullopt;
  Case c = m;
  Layer<double>& out = c.network.layers.back();
  const Index K = out.units();
  out.weights.conservativeResize(K + 1, Eigen::NoChange);
  out.weights.row(K) = 0.5 * m.network.layers.back().weights.row(0);
  out.biases.conservativeResize(K + 1);
  out.biases(K) = 0.25;
  c.targets.conservativeResize(K + 1, Eigen::NoChange);
  c.targets.row(K).setConstant(0.5);
  return c;
}

// What the ratios say: the reading and whether it is one of the recognised factors.
std::string scale_reading(const Case& m, double r0, std::optional<double> more, std::optional<double> wider) {
  const double N = static_cast<double>(m.batch_size()), K = static_cast<double>(m.network.output_size());
  const bool mean = m.network.reduction == Reduction::mean;
  if (more && near(*more / r0, (N + 1) / N))
    return mean ? "it grows with the batch size (×N): per-sample gradients summed where the loss is averaged (mean "
                  "reduction)"
                : "it grows with the batch size (×N)";
  if (more && near(*more / r0, N / (N + 1)))
    return mean ? "it falls as 1/N: averaged twice (the loss's derivative already carries the mean's 1/N, and the "
                  "batch sum divides again)"
                : "it falls as 1/N: averaged where the loss is summed (sum reduction)";
  if (wider && near(*wider / r0, K / (K + 1)))
    return "it falls as 1/K with the number of outputs: the loss averaged over its output units in the gradient, "
           "where the loss sums them";
  if (more && near(*more, r0) && (!wider || near(*wider, r0)))
    return "it does not depend on the batch size" + std::string(wider ? " or the number of outputs" : "") +
           ": a constant factor " + num(r0) +
           (near(r0, 2) ? " (e.g. the derivative of (a − y)² where the loss is ½(a − y)²)"
                        : near(r0, 0.5) ? " (e.g. a ½ that belongs to the loss, not to its derivative)" : "");
  return "";
}

std::optional<Experiment> scale_experiment(const Lab& lab) {
  if (lab.v.cause->kind != BugKind::constant_scale) return std::nullopt;
  const std::optional<double> r0 = overall_ratio(lab.v);
  if (!r0) return std::nullopt;
  Experiment e;
  e.name = "scale";
  e.question = "the minimal case with one more sample, with the reduction switched, and with one more output";
  Case switched = lab.m;
  switched.network.reduction = lab.m.network.reduction == Reduction::mean ? Reduction::sum : Reduction::mean;
  const std::optional<Case> wider_case = with_extra_output(lab.m);
  std::optional<double> ratios[3];
  const Case* cases[3] = {nullptr, &switched, wider_case ? &*wider_case : nullptr};
  const Case more_case = with_extra_sample(lab.m);
  cases[0] = &more_case;
  for (int i = 0; i < 3; ++i) {
    if (!cases[i]) continue;
    const auto r = lab.ask(*cases[i]);
    ++e.cases_sent;
    if (!r) return no_reply(lab, e, "a case of this experiment");
    ratios[i] = overall_ratio(*r);
  }
  const auto shown = [](const std::optional<double>& x) { return x ? num(*x) : std::string("no single ratio"); };
  e.finding = "the ratio to the reference is " + num(*r0) + " with " + std::to_string(lab.m.batch_size()) +
              " samples, " + shown(ratios[0]) + " with one more, " + shown(ratios[1]) + " with the " +
              to_string(switched.network.reduction) + " reduction" +
              (wider_case ? ", " + shown(ratios[2]) + " with one more output" : std::string());
  const std::string reading = scale_reading(lab.m, *r0, ratios[0], ratios[2]);
  if (reading.empty()) return e;
  e.finding += ": " + reading;
  e.confirms_cause = true;
  lab.v.cause->statement = "every tensor is " + num(*r0) + " × the reference, and " + reading;
  return e;
}

// ---------------------------------------------------------------------------
// Derivative: one layer's z placed on both sides of 0 and across saturation

constexpr double placed_z[] = {-3, -1, -0.25, 0.25, 1, 3};

double act_value(Activation act, double z) {
  Matrix<double> zm(1, 1), a;
  zm(0, 0) = z;
  detail::activate_in_place(act, zm, a);
  return a(0, 0);
}

// The formulas a program may have used for act', as functions of z.
struct Formula {
  std::string name;
  std::function<double(double)> f;
  bool correct = false;
  BugKind kind = BugKind::derivative_formula;  // the catalogue's name for using it
};

std::vector<Formula> formulas(Activation act) {
  std::vector<Formula> out;
  const std::string d = to_string(act);
  out.push_back({d + "'(z) itself", [act](double z) { return activation_derivative(act, z); }, true});
  if (act == Activation::sigmoid || act == Activation::tanh) {
    out.push_back({d + "'(a), the derivative evaluated at a = " + d + "(z)",
                   [act](double z) { return activation_derivative(act, act_value(act, z)); }, false,
                   BugKind::derivative_at_output_value});
    out.push_back({act == Activation::sigmoid ? std::string("z(1 − z), σ' = a(1 − a) fed z")
                                              : std::string("1 − z², tanh' = 1 − a² fed z"),
                   [act](double z) { return act == Activation::sigmoid ? z * (1 - z) : 1 - z * z; }});
  }
  if (act == Activation::leaky_relu)
    out.push_back({"slope 0 for z ≤ 0 (relu's), where leaky_relu's is 0.01", [](double z) { return z > 0 ? 1.0 : 0.0; }});
  if (act != Activation::identity) out.push_back({"1: no derivative at all", [](double) { return 1.0; }});
  return out;
}

// The layer whose derivative is suspect: the one below a wrong backward step,
// the output for a wrong error term, or the highest named layer.
std::optional<std::size_t> suspect_layer(const Lab& lab) {
  const VerifyResult& v = lab.v;
  const std::size_t L = lab.m.network.layers.size();
  std::optional<std::size_t> l;
  if (v.fault == FaultLocation::backward_step && v.fault_layer && *v.fault_layer > 0) l = *v.fault_layer - 1;
  if (v.fault == FaultLocation::output_error_term) l = L - 1;
  const Activation act = l ? lab.m.network.layers[*l].activation : Activation::identity;
  if (!l || act == Activation::identity || act == Activation::softmax) return std::nullopt;
  // The measurement reads W_{l+1}ᵀ δ and places z by b = z − W a: dense layers only.
  const auto& layers = lab.m.network.layers;
  if (!layers[*l].is_dense() || (*l + 1 < L && !layers[*l + 1].is_dense())) return std::nullopt;
  if (*l + 1 == L && lab.m.network.loss != Loss::quadratic) return std::nullopt;  // fused error terms
  return l;
}

// The program's derivative of layer l at unit j, from its reply to a batch of
// 1: its db_l over the reference dL/da_l (W_{l+1}ᵀ δ_{l+1}, with the layers
// above agreeing; a − y at the output). nullopt where it cannot be read.
std::optional<double> measured_derivative(const Case& c, const VerifyResult& r, std::size_t l, Index j) {
  const std::size_t L = c.network.layers.size();
  std::optional<double> claimed;
  Vector<double> delta_above;
  if (l + 1 < L) delta_above = Vector<double>::Zero(c.network.layers[l + 1].units());
  for (const Entry& e : r.gradients.entries) {
    if (e.tensor != TensorKind::biases) continue;
    if (static_cast<std::size_t>(e.layer) == l && e.row == j) claimed = e.analytic;
    if (static_cast<std::size_t>(e.layer) > l && e.verdict != Verdict::agree) return std::nullopt;
    if (static_cast<std::size_t>(e.layer) == l + 1) delta_above(e.row) = e.numeric;
  }
  double dl_da;
  if (l + 1 < L) dl_da = (c.network.layers[l + 1].weights.transpose() * delta_above)(j);
  else dl_da = r.forward.reference_outputs(j, 0) - c.targets(j, 0);
  if (!claimed || std::abs(dl_da) < 1e-12) return std::nullopt;
  return *claimed / dl_da;
}

// The minimal case's first sample with layer l's pre-activations all at z.
Case placed(const Case& m, std::size_t l, double z) {
  Case c = m;
  c.inputs = m.inputs.col(0);
  c.targets = m.targets.col(0);
  const ForwardPass<double> fp = forward(c.network, c.inputs);
  Layer<double>& layer = c.network.layers[l];
  layer.biases = Vector<double>::Constant(layer.units(), z) - layer.weights * fp.a[l];
  return c;
}

std::optional<Experiment> derivative_experiment(const Lab& lab) {
  if (named_otherwise(lab.v, {BugKind::derivative_formula, BugKind::derivative_at_output_value,
                               BugKind::output_missing_derivative}))
    return std::nullopt;
  const std::optional<std::size_t> l = suspect_layer(lab);
  if (!l) return std::nullopt;
  const Activation act = lab.m.network.layers[*l].activation;
  Experiment e;
  e.name = "derivative";
  const std::string layer = "layers[" + std::to_string(*l) + "] (" + to_string(act) + ")";
  e.question = layer + " with its pre-activations placed at z = -3, -1, -0.25, 0.25, 1, 3 by its biases";
  std::vector<std::pair<double, double>> points;  // (z, measured act')
  for (double z : placed_z) {
    const Case c = placed(lab.m, *l, z);
    const auto r = lab.ask(c);
    ++e.cases_sent;
    if (!r) return no_reply(lab, e, "the case with z = " + num(z));
    for (Index j = 0; j < c.network.layers[*l].units(); ++j)
      if (const auto d = measured_derivative(c, *r, *l, j)) points.push_back({z, *d});
  }
  if (points.empty()) {
    e.finding = "the replies do not show the derivative (the layers above disagree, or dL/da is 0)";
    return e;
  }
  std::string values;
  for (double z : placed_z)
    for (const auto& [pz, d] : points)
      if (pz == z) {
        values += (values.empty() ? "" : ", ") + num(d);
        break;
      }
  e.finding = "the derivative the program used there is " + values;
  for (const Formula& f : formulas(act)) {
    const bool fits = std::all_of(points.begin(), points.end(), [&](const auto& p) {
      return std::abs(p.second - f.f(p.first)) <= 1e-5 * std::max(1.0, std::abs(f.f(p.first)));
    });
    if (!fits) continue;
    e.finding += ": " + f.name + (f.correct ? " — the derivative of this layer is right" : "");
    if (!f.correct) {
      e.confirms_cause = true;
      const bool output = *l + 1 == lab.m.network.layers.size();
      const bool omitted = f.name.rfind("1:", 0) == 0;
      lab.v.cause->kind = output && omitted ? BugKind::output_missing_derivative : f.kind;
      lab.v.cause->statement = layer + "'s derivative is " + f.name + ", measured at 6 values of z on both sides of 0";
    }
    return e;
  }
  e.finding += std::string(": none of the formulas tried (") + to_string(act) + "'(z), at a, fed z, slope 0, 1) fits";
  return e;
}

// ---------------------------------------------------------------------------
// Symmetric weights: a transposition cannot show where W = Wᵀ

std::optional<Experiment> symmetric_experiment(const Lab& lab) {
  const VerifyResult& v = lab.v;
  if (v.fault != FaultLocation::backward_step || !v.fault_layer || named_otherwise(v, {BugKind::transposed_step}))
    return std::nullopt;
  const std::size_t l = *v.fault_layer;
  if (!lab.m.network.layers[l].is_dense()) return std::nullopt;  // a kernel's transposition is another question
  const Matrix<double>& W = lab.m.network.layers[l].weights;
  if (W.rows() != W.cols() || W == W.transpose()) return std::nullopt;
  Case c = lab.m;
  c.network.layers[l].weights = (W + W.transpose()) / 2;
  Experiment e;
  e.name = "symmetric-weights";
  e.question = "the minimal case with layers[" + std::to_string(l) + "].weights made symmetric, (W + Wᵀ)/2";
  e.cases_sent = 1;
  const auto r = lab.ask(c);
  if (!r) return no_reply(lab, e, "the case with symmetric weights");
  if (r->status == VerifyStatus::diverge) {
    e.finding = "it still diverges: the wrong step is not a transposition of W";
    return e;
  }
  e.finding = "the reply is then correct: the step through layers[" + std::to_string(l) +
              "] uses W where Wᵀ belongs (only a symmetric W hides it)";
  e.confirms_cause = true;
  lab.v.cause->kind = BugKind::transposed_step;
  if (v.cause->kind != BugKind::transposed_step || v.cause->confidence != CauseConfidence::explains_all)
    lab.v.cause->statement = "the backward step through layers[" + std::to_string(l) + "] multiplies by W where Wᵀ belongs";
  return e;
}

}  // namespace

void run_experiments(const Case& m, VerifyResult& v, const AskProgram& ask, const std::function<bool()>& stopped) {
  if (!v.cause) return;
  const Lab lab{m, v, ask, stopped};
  for (auto* experiment : {samples_alone, sample_pairs, third_sample, scale_experiment, derivative_experiment,
                           symmetric_experiment}) {
    if (stopped()) return;
    if (auto e = experiment(lab)) {
      if (e->confirms_cause) v.cause->confidence = CauseConfidence::confirmed;
      v.cause->experiments.push_back(std::move(*e));
    }
  }
}

}  // namespace gradcheck::detail
