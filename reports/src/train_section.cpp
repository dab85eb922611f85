// The adapter for the training watch's Result: a document section (what people
// read) and to_json (what report.json holds). Findings, severities and every
// number come from the watch; this file only chooses what to show and how.
#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/train_section.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace gradcheck::reports {
namespace {

namespace w = gradcheck::watch;

const char* to_string(w::SoftmaxForm f) { return f == w::SoftmaxForm::stable ? "stable" : "naive"; }
const char* to_string(w::CrossEntropyForm f) {
  return f == w::CrossEntropyForm::from_logits ? "from-logits" : "from-outputs";
}

Verdict verdict_of(Severity s) {
  switch (s) {
    case Severity::info: return Verdict::none;
    case Severity::note:
    case Severity::warning: return Verdict::note;
    case Severity::error: return Verdict::disagree;
  }
  return Verdict::none;
}

// "layer 1 (sigmoid)", "layer 0 (conv2d, relu)", "layer 1 (max_pool)".
std::string layer_label(const w::Result& r, std::size_t l) {
  std::string s = "layer " + std::to_string(l);
  const bool kind_known = l < r.kinds.size() && r.kinds[l] != LayerKind::dense;
  if (kind_known && is_pooling(r.kinds[l])) return s + " (" + gradcheck::to_string(r.kinds[l]) + ")";
  if (l < r.activations.size())
    s += std::string(" (") + (kind_known ? std::string(gradcheck::to_string(r.kinds[l])) + ", " : "") +
         gradcheck::to_string(r.activations[l]) + ")";
  return s;
}

std::string evidence_text(const std::vector<w::Evidence>& ev) {
  std::string s;
  for (const auto& e : ev) {
    if (!s.empty()) s += "; ";
    s += e.label + " = " + format_number(e.value, 4);
  }
  return s;
}

std::string where(const w::Finding& f) {
  std::string s;
  if (f.epoch >= 0) s += "epoch " + std::to_string(f.epoch);
  if (f.step >= 0) s += (s.empty() ? "" : ", ") + std::string("step ") + std::to_string(f.step);
  return s.empty() ? "—" : s;
}

// Every k-th index of n (the last always), at most max_points of them.
std::vector<std::size_t> thinned(std::size_t n, std::size_t max_points) {
  std::vector<std::size_t> idx;
  if (n == 0) return idx;
  const std::size_t k = std::max<std::size_t>(1, (n + max_points - 1) / std::max<std::size_t>(max_points, 1));
  for (std::size_t i = 0; i < n; i += k) idx.push_back(i);
  if (idx.back() != n - 1) idx.push_back(n - 1);
  return idx;
}

// Whether a positive series spans enough decades to want a log axis.
bool spans_decades(const std::vector<Series>& series) {
  double lo = INFINITY, hi = 0;
  for (const auto& s : series)
    for (double y : s.y)
      if (std::isfinite(y) && y > 0) {
        lo = std::min(lo, y);
        hi = std::max(hi, y);
      }
  return hi > 0 && hi / lo > 100;
}

// One per-layer statistic over the steps (step cadence) or the epochs.
LineChart layer_chart(const w::Result& r, const TrainSectionOptions& o, const std::string& title,
                      const std::string& y_label, double w::LayerStats::*field, bool log_y) {
  LineChart c;
  c.title = title;
  c.y_label = y_label;
  c.log_y = log_y;
  const std::size_t L = r.activations.size();
  const bool per_step = !r.steps.empty();
  c.x_label = per_step ? "step" : "epoch";
  for (std::size_t l = 0; l < L; ++l) {
    Series s;
    s.name = layer_label(r, l);
    if (per_step) {
      for (std::size_t i : thinned(r.steps.size(), o.max_points)) {
        if (l >= r.steps[i].layers.size()) continue;
        s.x.push_back(static_cast<double>(r.steps[i].step));
        s.y.push_back(r.steps[i].layers[l].*field);
      }
    } else {
      for (const auto& e : r.epochs) {
        if (l >= e.layers.size()) continue;
        s.x.push_back(e.epoch + 1);
        s.y.push_back(e.layers[l].*field);
      }
    }
    bool any = false;
    for (double y : s.y) any = any || !std::isnan(y);
    if (any) c.series.push_back(std::move(s));
  }
  if (per_step && r.steps.size() > o.max_points)
    c.caption = "every " + std::to_string((r.steps.size() + o.max_points - 1) / o.max_points) +
                "th step of " + std::to_string(r.steps.size()) + " shown; report.json holds them all";
  return c;
}

std::string summary_line(const w::Result& r) {
  std::string s = std::to_string(r.steps_seen) + " steps";
  if (!r.epochs.empty()) {
    s += ", " + std::to_string(r.epochs.size()) + " epoch" + (r.epochs.size() == 1 ? "" : "s");
    const auto& last = r.epochs.back();
    if (last.test) s += ", test accuracy " + format_number(100 * last.test->accuracy, 4) + " %";
  }
  if (r.first_non_finite) {
    const auto& nf = *r.first_non_finite;
    s += "; first non-finite value at step " + std::to_string(nf.step) + ": " + nf.cause + " (layer " +
         std::to_string(nf.layer) + ")";
  }
  const auto kinds = [&](w::Severity sev) {
    std::string k;
    for (const auto& f : r.findings)
      if (f.severity == sev) k += (k.empty() ? "" : ", ") + std::string(w::to_string(f.kind));
    return k;
  };
  const std::size_t errors = r.count(w::Severity::error), warnings = r.count(w::Severity::warning);
  if (errors) s += "; " + std::to_string(errors) + " error" + (errors == 1 ? "" : "s") + " (" + kinds(w::Severity::error) + ")";
  if (warnings)
    s += "; " + std::to_string(warnings) + " warning" + (warnings == 1 ? "" : "s") + " (" + kinds(w::Severity::warning) + ")";
  if (!errors && !warnings) s += "; no warning";
  return s;
}

void add_findings(Section& sec, const w::Result& r) {
  std::vector<const w::Finding*> order;
  for (const auto& f : r.findings) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const w::Finding* a, const w::Finding* b) {
    return static_cast<int>(a->severity) > static_cast<int>(b->severity);
  });
  if (order.empty()) sec.add(Paragraph{Severity::info, "The watch found nothing to report."});
  for (const w::Finding* f : order)
    sec.add(Paragraph{f->severity, std::string(w::to_string(f->kind)) + ": " + f->message + ". Fix: " + f->fix + "."});
  if (order.empty()) return;
  Table t;
  t.caption = "Findings, with their evidence";
  t.header = {"severity", "finding", "layer", "where", "evidence", "fix"};
  for (const w::Finding* f : order)
    t.rows.push_back({Cell(w::to_string(f->severity), verdict_of(f->severity)), Cell(w::to_string(f->kind)),
                      Cell(f->layer >= 0 ? std::to_string(f->layer) : "—"), Cell(where(*f)),
                      Cell(evidence_text(f->evidence)), Cell(f->fix)});
  sec.add(std::move(t));
}

// Each layer's weight, gradient and activation norms in the steps the watch kept before the first non-finite value.
LineChart norm_history_chart(const w::Result& r, const w::NonFinite& nf) {
  LineChart c;
  c.title = "Norms in the " + std::to_string(nf.history.size()) + " steps up to it";
  c.x_label = "step";
  c.y_label = "norm";
  c.log_y = true;
  const std::size_t L = nf.history.front().layers.size();
  const struct {
    const char* name;
    double w::LayerStats::*field;
  } norms[] = {{"weights", &w::LayerStats::weight_norm},
               {"gradient", &w::LayerStats::gradient_norm},
               {"activations", &w::LayerStats::activation_norm}};
  for (std::size_t l = 0; l < L; ++l)
    for (const auto& n : norms) {
      Series s;
      s.name = layer_label(r, l) + " " + n.name;
      for (const auto& st : nf.history) {
        if (l >= st.layers.size()) continue;
        s.x.push_back(static_cast<double>(st.step));
        s.y.push_back(st.layers[l].*n.field);
      }
      c.series.push_back(std::move(s));
    }
  return c;
}

void add_non_finite(Section& sec, const w::Result& r) {
  if (!r.first_non_finite) return;
  const auto& nf = *r.first_non_finite;
  KeyValues kv;
  kv.caption = "The first non-finite value";
  kv.rows = {{"step", std::to_string(nf.step) + " (epoch " + std::to_string(nf.epoch) + ")"},
             {"where", std::string(w::to_string(nf.pass)) + ", " + w::to_string(nf.quantity) + " of layer " +
                           std::to_string(nf.layer) + " [" + std::to_string(nf.row) + "][" + std::to_string(nf.col) + "]"},
             {"value", format_number(nf.value)},
             {"cause", nf.cause},
             {"operation", std::string(w::to_string(nf.operation)) + " in " + w::to_string(nf.site)},
             {"produced here", nf.produced ? "yes" : "no: an operand was already non-finite (passed on)"},
             {"numerics", nf.emulated ? "emulated (Options::numerics): the engine's own values were finite"
                                      : "the engine's own"},
             {"detail", nf.detail}};
  sec.add(std::move(kv));
  if (!nf.operands.empty()) {
    Table t;
    t.caption = "Operands of the operation that produced it";
    t.header = {"operand", "value"};
    for (const auto& e : nf.operands)
      t.rows.push_back({Cell(e.label), Cell::number(e.value, 10, std::isfinite(e.value) ? Verdict::none : Verdict::non_finite)});
    sec.add(std::move(t));
  }
  if (!nf.passed_on.empty()) {
    Table t;
    t.caption = "What only passed it on, later in the same step";
    t.header = {"pass", "tensor", "layer", "non-finite entries", "entries"};
    for (const auto& p : nf.passed_on)
      t.rows.push_back({Cell(w::to_string(p.pass)), Cell(w::to_string(p.quantity)), Cell(std::to_string(p.layer)),
                        Cell::number(static_cast<double>(p.non_finite), 10, Verdict::non_finite),
                        Cell::number(static_cast<double>(p.entries), 10)});
    sec.add(std::move(t));
  }
  if (nf.history.size() >= 2) sec.add(norm_history_chart(r, nf));
}

void add_curves(Section& sec, const w::Result& r, const TrainSectionOptions& o) {
  LineChart loss;
  loss.title = "Training loss";
  loss.x_label = "step";
  loss.y_label = "mean loss per sample";
  if (!r.steps.empty()) {
    Series s;
    s.name = "batch";
    for (std::size_t i : thinned(r.steps.size(), o.max_points)) {
      s.x.push_back(static_cast<double>(r.steps[i].step));
      s.y.push_back(r.steps[i].loss);
    }
    loss.series.push_back(std::move(s));
  }
  if (!r.loss_windows.empty()) {
    Series s;
    s.name = "window of " + std::to_string(r.options.loss_window) + " steps";
    for (const auto& lw : r.loss_windows) {
      s.x.push_back(static_cast<double>(lw.first_step) + 0.5 * static_cast<double>(lw.steps - 1));
      s.y.push_back(lw.mean_loss);
    }
    loss.series.push_back(std::move(s));
  }
  if (!r.epochs.empty()) {
    Series s;
    s.name = "epoch";
    Index end = 0;
    for (const auto& e : r.epochs) {
      end += e.steps;
      s.x.push_back(static_cast<double>(end - 1));
      s.y.push_back(e.train_loss);
    }
    loss.series.push_back(std::move(s));
  }
  loss.log_y = spans_decades(loss.series);
  if (!loss.series.empty()) sec.add(std::move(loss));

  LineChart acc;
  acc.title = "Test accuracy";
  acc.x_label = "epoch";
  acc.y_label = "accuracy";
  Series a, l;
  a.name = "test accuracy";
  l.name = "test loss";
  for (const auto& e : r.epochs)
    if (e.test) {
      a.x.push_back(e.epoch + 1);
      a.y.push_back(e.test->accuracy);
    }
  if (!a.x.empty()) {
    if (r.outputs >= 1) {
      acc.threshold = 1.0 / (r.outputs == 1 ? 2.0 : static_cast<double>(r.outputs));
      acc.threshold_label = "chance";
    }
    acc.series.push_back(std::move(a));
    sec.add(std::move(acc));
  }
}

void add_layers(Section& sec, const w::Result& r, const TrainSectionOptions& o) {
  if (r.steps.empty() && r.epochs.empty()) return;
  sec.add(layer_chart(r, o, "Weight norm per layer", "‖(W, b)‖₂", &w::LayerStats::weight_norm, true));
  sec.add(layer_chart(r, o, "Gradient norm per layer", "‖(dL/dW, dL/db)‖₂", &w::LayerStats::gradient_norm, true));
  sec.add(layer_chart(r, o, "Activation norm per layer", "RMS over the batch of ‖a‖₂", &w::LayerStats::activation_norm, true));
  LineChart ratio = layer_chart(r, o, "Update/weight ratio per layer", "‖Δθ‖ / ‖θ‖", &w::LayerStats::update_ratio, true);
  ratio.threshold = r.options.update_ratio_warning;
  ratio.threshold_label = "warning";
  if (!ratio.series.empty()) sec.add(std::move(ratio));

  Table t;
  t.caption = "Per layer and epoch (norms are means over the epoch's statistics steps, the ratio the median)";
  t.header = {"epoch", "layer", "activation norm", "gradient norm", "weight norm", "update/weight", "max |z|",
              "dead", "saturated"};
  const auto fraction = [](double v, double warn) {
    return std::isnan(v) ? Cell("—") : Cell::number(v, 4, v >= warn ? Verdict::note : Verdict::none);
  };
  for (const auto& e : r.epochs)
    for (std::size_t l = 0; l < e.layers.size(); ++l) {
      if (t.rows.size() >= o.max_table_rows) {
        ++t.omitted_rows;
        continue;
      }
      const auto& ls = e.layers[l];
      t.rows.push_back({Cell::number(e.epoch, 6), Cell(layer_label(r, l)), Cell::number(ls.activation_norm, 4),
                        Cell::number(ls.gradient_norm, 4), Cell::number(ls.weight_norm, 4),
                        Cell::number(ls.update_ratio, 3, ls.update_ratio > r.options.update_ratio_warning ? Verdict::note : Verdict::none),
                        Cell::number(ls.max_abs_z, 4), fraction(ls.dead_fraction, r.options.dead_warning),
                        fraction(ls.saturated_fraction, r.options.saturated_warning)});
    }
  if (!t.rows.empty()) sec.add(std::move(t));
}

void add_inputs(Section& sec, const w::Result& r) {
  if (!r.inputs) return;
  const auto& s = *r.inputs;
  KeyValues kv;
  kv.caption = "Input sanity of the training set (before training)";
  kv.rows = {{"samples × features", std::to_string(s.samples) + " × " + std::to_string(s.features)},
             {"range", "[" + format_number(s.min, 4) + ", " + format_number(s.max, 4) + "]"},
             {"mean", format_number(s.mean, 4)},
             {"fraction negative", format_number(s.fraction_negative, 4)},
             {"non-finite values", std::to_string(s.non_finite)},
             {"constant features", std::to_string(s.constant_features)},
             {"feature scale (max |x|): median, largest", format_number(s.median_feature_scale, 4) + ", " +
                                                               format_number(s.largest_feature_scale, 4) +
                                                               " (feature " + std::to_string(s.largest_scale_feature) + ")"},
             {"byte grid", s.bytes.on_grid ? "k × " + format_number(s.bytes.scale, 4) + ", k in " +
                                                 std::to_string(s.bytes.min_byte) + "…" + std::to_string(s.bytes.max_byte)
                                           : "no"},
             {"signed-byte signature", s.signed_bytes ? "yes" : "no"}};
  sec.add(std::move(kv));
  if (s.bytes.histogram.size() == 256) {
    LineChart h;
    h.title = "Values as bytes: k = value / " + format_number(s.bytes.scale, 4);
    h.caption = "A misread unsigned byte b ≥ 128 becomes b − 256: the distribution stops abruptly at both ends "
                "(−128 and 127, i.e. ±0.5 after /255) and jumps at 0, where 255 now meets 0";
    h.x_label = "k";
    h.y_label = "fraction of values";
    h.log_y = true;
    Series sr;
    sr.name = "fraction";
    for (int k = -128; k < 128; ++k) {
      sr.x.push_back(k);
      const double v = s.bytes.histogram[static_cast<std::size_t>(k + 128)];
      sr.y.push_back(v > 0 ? v : NAN);  // an empty byte breaks the line rather than diving to the axis
    }
    h.series.push_back(std::move(sr));
    sec.add(std::move(h));
  }
}

// ---------------------------------------------------------------------------
// JSON

nlohmann::json j_evidence(const std::vector<w::Evidence>& ev) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : ev) a.push_back({{"label", e.label}, {"value", json_number(e.value)}});
  return a;
}

nlohmann::json j_finding(const w::Finding& f) {
  return {{"kind", w::to_string(f.kind)}, {"severity", w::to_string(f.severity)}, {"layer", f.layer},
          {"epoch", f.epoch}, {"step", f.step}, {"message", f.message}, {"fix", f.fix},
          {"evidence", j_evidence(f.evidence)}};
}

nlohmann::json j_findings(const std::vector<w::Finding>& fs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : fs) a.push_back(j_finding(f));
  return a;
}

nlohmann::json j_layer(const w::LayerStats& l) {
  return {{"activation_norm", json_number(l.activation_norm)}, {"gradient_norm", json_number(l.gradient_norm)},
          {"weight_norm", json_number(l.weight_norm)},         {"update_ratio", json_number(l.update_ratio)},
          {"max_abs_z", json_number(l.max_abs_z)},             {"dead_fraction", json_number(l.dead_fraction)},
          {"saturated_fraction", json_number(l.saturated_fraction)}};
}

nlohmann::json j_layers(const std::vector<w::LayerStats>& ls) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& l : ls) a.push_back(j_layer(l));
  return a;
}

nlohmann::json j_step(const w::StepStats& s) {
  return {{"epoch", s.epoch}, {"step", s.step}, {"loss", json_number(s.loss)},
          {"clip_scale", json_number(s.clip_scale)}, {"layers", j_layers(s.layers)}};
}

nlohmann::json j_options(const w::Options& o) {
  return {{"cadence", w::to_string(o.cadence)},
          {"stats_every", o.stats_every},
          {"snapshot", o.snapshot},
          {"stop_on_non_finite", o.stop_on_non_finite},
          {"history", o.history},
          {"numerics", {{"softmax", to_string(o.numerics.softmax)}, {"cross_entropy", to_string(o.numerics.cross_entropy)}}},
          {"saturation_sigmoid", json_number(o.saturation_sigmoid)},
          {"saturation_tanh", json_number(o.saturation_tanh)},
          {"dead_warning", json_number(o.dead_warning)},
          {"dead_window", o.dead_window},
          {"saturated_warning", json_number(o.saturated_warning)},
          {"update_ratio_warning", json_number(o.update_ratio_warning)},
          {"loss_window", o.loss_window},
          {"divergence_factor", json_number(o.divergence_factor)},
          {"plateau_improvement", json_number(o.plateau_improvement)},
          {"plateau_windows", o.plateau_windows},
          {"plateau_stuck", json_number(o.plateau_stuck)},
          {"chance_factor", json_number(o.chance_factor)}};
}

nlohmann::json j_inputs(const w::InputSanity& s) {
  nlohmann::json hist = nlohmann::json::array();
  for (double v : s.bytes.histogram) hist.push_back(json_number(v));
  return {{"samples", s.samples},
          {"features", s.features},
          {"min", json_number(s.min)},
          {"max", json_number(s.max)},
          {"mean", json_number(s.mean)},
          {"fraction_negative", json_number(s.fraction_negative)},
          {"non_finite", s.non_finite},
          {"constant_features", s.constant_features},
          {"first_constant_feature", s.first_constant_feature},
          {"median_feature_scale", json_number(s.median_feature_scale)},
          {"largest_feature_scale", json_number(s.largest_feature_scale)},
          {"largest_scale_feature", s.largest_scale_feature},
          {"bytes",
           {{"on_grid", s.bytes.on_grid},
            {"scale", json_number(s.bytes.scale)},
            {"min_byte", s.bytes.min_byte},
            {"max_byte", s.bytes.max_byte},
            {"low_edge", json_number(s.bytes.low_edge)},
            {"high_edge", json_number(s.bytes.high_edge)},
            {"below_zero", json_number(s.bytes.below_zero)},
            {"above_zero", json_number(s.bytes.above_zero)},
            {"histogram", std::move(hist)}}},
          {"signed_bytes", s.signed_bytes},
          {"findings", j_findings(s.findings)}};
}

nlohmann::json j_non_finite(const w::NonFinite& nf) {
  nlohmann::json passed = nlohmann::json::array();
  for (const auto& p : nf.passed_on)
    passed.push_back({{"pass", w::to_string(p.pass)}, {"quantity", w::to_string(p.quantity)}, {"layer", p.layer},
                      {"non_finite", p.non_finite}, {"entries", p.entries}});
  nlohmann::json history = nlohmann::json::array();
  for (const auto& s : nf.history) history.push_back(j_step(s));
  return {{"epoch", nf.epoch},
          {"step", nf.step},
          {"pass", w::to_string(nf.pass)},
          {"quantity", w::to_string(nf.quantity)},
          {"layer", nf.layer},
          {"row", nf.row},
          {"col", nf.col},
          {"position", nf.position},
          {"value", json_number(nf.value)},
          {"operation", w::to_string(nf.operation)},
          {"site", w::to_string(nf.site)},
          {"produced", nf.produced},
          {"emulated", nf.emulated},
          {"cause", nf.cause},
          {"detail", nf.detail},
          {"operands", j_evidence(nf.operands)},
          {"passed_on", std::move(passed)},
          {"history", std::move(history)}};
}

}  // namespace

Section train_section(const w::Result& r, const TrainSectionOptions& o) {
  Section sec;
  sec.heading = o.heading;
  const auto worst = r.worst();
  sec.status = worst == w::Severity::error ? Status::fail : worst == w::Severity::warning ? Status::notes : Status::pass;
  sec.summary = summary_line(r);

  add_findings(sec, r);
  add_non_finite(sec, r);
  add_inputs(sec, r);
  add_curves(sec, r, o);
  add_layers(sec, r, o);

  TestCase run;
  run.suite = o.junit_suite;
  run.name = "run";
  run.outcome = worst == w::Severity::error ? Outcome::fail : Outcome::pass;
  run.message = sec.summary;
  for (const auto& f : r.findings) {
    TestCase t;
    t.suite = o.junit_suite;
    t.name = std::string(w::to_string(f.kind)) + (f.layer >= 0 ? " (layer " + std::to_string(f.layer) + ")" : "");
    t.outcome = f.severity == w::Severity::error ? Outcome::fail : Outcome::pass;
    t.message = std::string(w::to_string(f.severity)) + ": " + f.message;
    t.details = "evidence: " + evidence_text(f.evidence) + "\nfix: " + f.fix;
    sec.testcases.push_back(std::move(t));
  }
  sec.testcases.insert(sec.testcases.begin(), std::move(run));
  return sec;
}

nlohmann::json to_json(const w::Result& r) {
  nlohmann::json activations = nlohmann::json::array();
  for (Activation a : r.activations) activations.push_back(gradcheck::to_string(a));
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps) steps.push_back(j_step(s));
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& e : r.epochs) {
    nlohmann::json test = nullptr;
    if (e.test)
      test = {{"loss", json_number(e.test->loss)}, {"accuracy", json_number(e.test->accuracy)},
              {"correct", e.test->correct}, {"samples", e.test->samples}};
    epochs.push_back({{"epoch", e.epoch}, {"steps", e.steps}, {"train_loss", json_number(e.train_loss)},
                      {"test", std::move(test)}, {"seconds", json_number(e.seconds)}, {"layers", j_layers(e.layers)}});
  }
  nlohmann::json windows = nlohmann::json::array();
  for (const auto& lw : r.loss_windows)
    windows.push_back({{"first_step", lw.first_step}, {"steps", lw.steps}, {"mean_loss", json_number(lw.mean_loss)}});
  return {{"type", "training"},
          {"options", j_options(r.options)},
          {"activations", std::move(activations)},
          {"outputs", r.outputs},
          {"inputs", r.inputs ? j_inputs(*r.inputs) : nlohmann::json(nullptr)},
          {"steps", std::move(steps)},
          {"epochs", std::move(epochs)},
          {"loss_windows", std::move(windows)},
          {"first_non_finite", r.first_non_finite ? j_non_finite(*r.first_non_finite) : nlohmann::json(nullptr)},
          {"findings", j_findings(r.findings)},
          {"steps_seen", r.steps_seen},
          {"stopped", r.stopped}};
}

void add(Report& report, const w::Result& result, const TrainSectionOptions& options) {
  report.add_section(train_section(result, options));
  report.add_result(to_json(result));
}

}  // namespace gradcheck::reports
