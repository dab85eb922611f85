// The adapters for the fixtures: sections people read, and the results whole
// for report.json. Whether a fixture reproduced its numbers is decided by its
// claims (computed in gradcheck::fixtures); this file only lays them out.
#include <gradcheck/reports/fixtures_section.hpp>

#include <gradcheck/fixtures/catalogue.hpp>
#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/verify_section.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace gradcheck::reports {

using fixtures::Claim;
using nlohmann::json;

namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

std::string fmt(double v, int digits = 4) { return format_number(v, digits); }

std::string percent(double fraction, int digits = 3) { return format_number(100 * fraction, digits) + " %"; }

// 14801503 → "14,801,503".
std::string thousands(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string duration(double seconds) {
  if (seconds < 0.1) return "< 0.1 s";
  char b[32];
  std::snprintf(b, sizeof b, "%.1f s", seconds);
  return b;
}

// Significant digits at which `v` prints exactly (at least `least`, at most 15).
int exact_digits(double v, int least) {
  int d = least;
  while (d < 15 && std::isfinite(v) && std::strtod(format_number(v, d).c_str(), nullptr) != v) ++d;
  return d;
}

// ... at which both ends of a band print exactly: 0.0222598 ± 5e-8 is
// [0.02225975, 0.02225985], where 4 digits would print [0.02226, 0.02226]
// and 6 round both ends.
int band_digits(const Claim& c, int least) {
  if (!std::isfinite(c.low) || !std::isfinite(c.high) || c.low == c.high) return least;
  return std::max(exact_digits(c.low, least), exact_digits(c.high, least));
}

std::string band_text(const Claim& c) {
  if (c.is_flag) return c.low >= 1 ? "yes" : "no";
  const bool lo = std::isfinite(c.low), hi = std::isfinite(c.high);
  if (lo && hi && c.low == c.high) return "= " + format_number(c.low, 10);
  const double mid = (c.low + c.high) / 2, half = (c.high - c.low) / 2;
  if (lo && hi && mid != 0 && half < 1e-6 * std::abs(mid)) return format_number(mid, 10) + " ± " + format_number(half, 2);
  if (lo && hi) {
    const int d = band_digits(c, 4);
    return "[" + format_number(c.low, d) + ", " + format_number(c.high, d) + "]";
  }
  if (hi) return "≤ " + format_number(c.high, exact_digits(c.high, 4));
  if (lo) return "≥ " + format_number(c.low, exact_digits(c.low, 4));
  return "any";
}

// As many digits as the band needs to show where in it the value lies.
std::string measured_text(const Claim& c) {
  if (c.is_flag) return c.measured >= 1 ? "yes" : "no";
  return format_number(c.measured, band_digits(c, 6));
}

// The start of every fixture's section: heading, status, the question, the claims.
Section begin(const std::string& name, const std::vector<Claim>& claims, double seconds) {
  Section s;
  const fixtures::FixtureInfo* info = fixtures::find_fixture(name);
  s.heading = info ? "Fixture " + std::to_string(info->number) + " · " + name + ": " + info->title : name;
  const bool ok = fixtures::reproduced(claims);
  s.status = ok ? Status::pass : Status::fail;
  s.summary = (ok ? "reproduced: " : "NOT reproduced: ") + claims_summary(claims) + " (" + duration(seconds) + ")";
  if (info) s.add(Paragraph{Severity::info, "The question: " + info->question});
  s.add(claims_table(claims));
  s.testcases = claims_testcases(name, claims);
  for (auto& t : s.testcases) t.seconds = seconds / static_cast<double>(std::max<std::size_t>(claims.size(), 1));
  return s;
}

json claims_json(const std::vector<Claim>& claims) {
  json a = json::array();
  for (const auto& c : claims) a.push_back(to_json(c));
  return a;
}

json head_json(const std::string& name, const std::vector<Claim>& claims, double seconds) {
  return {{"type", "fixture"},
          {"fixture", name},
          {"reproduced", fixtures::reproduced(claims)},
          {"seconds", json_number(seconds)},
          {"claims", claims_json(claims)}};
}

json numbers(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(json_number(x));
  return a;
}

Series series(std::string name, std::vector<double> x, std::vector<double> y) {
  Series s;
  s.name = std::move(name);
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}

// Keeps at most `n` evenly spaced points of a curve (the last one always).
Series thinned(std::string name, const std::vector<double>& x, const std::vector<double>& y, std::size_t n) {
  if (x.size() <= n) return series(std::move(name), x, y);
  std::vector<double> tx, ty;
  const double stride = static_cast<double>(x.size() - 1) / static_cast<double>(n - 1);
  for (std::size_t k = 0; k < n; ++k) {
    const auto i = static_cast<std::size_t>(std::llround(k * stride));
    tx.push_back(x[i]);
    ty.push_back(y[i]);
  }
  return series(std::move(name), tx, ty);
}

}  // namespace

// ---------------------------------------------------------------------------
// Claims

Table claims_table(const std::vector<Claim>& claims) {
  Table t;
  t.caption = "Claims: each documented number, what this run measured, and the band it must lie in";
  t.header = {"claim", "measured", "band", "documented", "holds"};
  for (const auto& c : claims) {
    const Verdict v = c.holds() ? Verdict::agree : Verdict::disagree;
    Cell measured = c.is_flag ? Cell(measured_text(c), v) : Cell::number(c.measured, band_digits(c, 6), v);
    t.rows.push_back({Cell(c.statement), measured, Cell(band_text(c)), Cell(c.documented), Cell(yes_no(c.holds()), v)});
  }
  return t;
}

std::vector<TestCase> claims_testcases(const std::string& fixture, const std::vector<Claim>& claims) {
  std::vector<TestCase> out;
  for (const auto& c : claims) {
    TestCase t;
    t.suite = "fixtures." + fixture;
    t.name = c.id;
    t.outcome = c.holds() ? Outcome::pass : Outcome::fail;
    t.message = c.statement + ": measured " + measured_text(c) + ", band " + band_text(c);
    t.details = "documented: " + c.documented;
    out.push_back(std::move(t));
  }
  return out;
}

std::string claims_summary(const std::vector<Claim>& claims) {
  std::vector<std::string> failing;
  for (const auto& c : claims)
    if (!c.holds()) failing.push_back(c.id);
  const std::string n = std::to_string(claims.size());
  if (claims.empty()) return "no claims";
  if (failing.empty()) return claims.size() == 1 ? "its claim holds" : "all " + n + " claims hold";
  std::string s = std::to_string(failing.size()) + " of " + n + " claims fail: ";
  for (std::size_t i = 0; i < failing.size(); ++i) s += (i ? ", " : "") + failing[i];
  return s;
}

json to_json(const Claim& c) {
  return {{"id", c.id},
          {"statement", c.statement},
          {"measured", json_number(c.measured)},
          {"low", json_number(c.low)},
          {"high", json_number(c.high)},
          {"documented", c.documented},
          {"flag", c.is_flag},
          {"holds", c.holds()}};
}

// ---------------------------------------------------------------------------
// 1. 321

Section fixture_section(const fixtures::Fixture321Result& r) {
  Section s = begin("321", r.claims, r.seconds);
  KeyValues setup;
  setup.caption = "Setup";
  setup.rows = {{"network", "3-2-1, sigmoid, quadratic loss; input [0, 0.5, 1], target 1 (" + r.case_path + ")"},
                {"reply", "the asker's hand-computed gradients as printed in the question, 8 digits (" + r.reply_path + ")"},
                {"the same from the command line", "gradcheck verify " + r.case_path + " " + r.reply_path},
                {"output-layer bias gradient", "claimed " + fmt(r.bias_gradient_claimed, 8) + ", reference " +
                                                   fmt(r.bias_gradient_reference, 9) + ", ratio " +
                                                   fmt(r.bias_gradient_claimed / r.bias_gradient_reference, 3)}};
  s.add(std::move(setup));
  s.add(Paragraph{Severity::info,
                  "What the fixture expects: the verification REJECTS the reply (a divergence is the documented "
                  "result), finds the output layer as the origin, the hidden layer consistent with the asker's own "
                  "output delta, hence a wrong output error term, and shows that their step raises the loss. The "
                  "verification as `gradcheck verify` reports it follows."});
  VerifySectionOptions vo;
  vo.case_name = r.case_path;
  vo.reply_name = r.reply_path;
  Section v = verify_section(r.verify, vo);
  for (auto& b : v.blocks) s.blocks.push_back(std::move(b));
  return s;
}

json to_json(const fixtures::Fixture321Result& r) {
  json j = head_json("321", r.claims, r.seconds);
  j["case"] = r.case_path;
  j["reply"] = r.reply_path;
  j["bias_gradient_claimed"] = json_number(r.bias_gradient_claimed);
  j["bias_gradient_reference"] = json_number(r.bias_gradient_reference);
  j["verify"] = to_json(r.verify);
  return j;
}

// ---------------------------------------------------------------------------
// 2. signed-char

Section fixture_section(const fixtures::SignedCharResult& r) {
  Section s = begin("signed-char", r.claims, r.seconds);
  KeyValues setup;
  setup.caption = "Setup";
  setup.rows = {{"network", "[784, 30, 10], sigmoid, quadratic loss, N(0, 1) weights and biases"},
                {"training", "one epoch on the first " + thousands(static_cast<std::uint64_t>(r.training_images)) + " training images" +
                                 (r.quick ? " (quick)" : "")},
                {"test set", std::to_string(r.test_images) + " images"},
                {"schedules", "mini-batches of 10 at η = 3.0; online at η = 1.0"},
                {"training pixel bytes above 127", thousands(r.training_bytes.above_127) + " of " +
                                                       thousands(r.training_bytes.bytes) + " = " +
                                                       percent(r.training_bytes.fraction_above_127, 5)},
                {"test pixel bytes above 127", thousands(r.test_bytes.above_127) + " of " +
                                                   thousands(r.test_bytes.bytes) + " = " +
                                                   percent(r.test_bytes.fraction_above_127, 5)},
                {"correct reading", "values in [" + fmt(r.correct_reading.min) + ", " + fmt(r.correct_reading.max) +
                                        "], mean " + fmt(r.correct_reading.mean) + ", negative " +
                                        percent(r.correct_reading.fraction_negative)},
                {"signed-char reading", "values in [" + fmt(r.misread_reading.min) + ", " + fmt(r.misread_reading.max) +
                                            "], mean " + fmt(r.misread_reading.mean) + ", negative " +
                                            percent(r.misread_reading.fraction_negative)}};
  s.add(std::move(setup));

  for (const auto& w : r.watch) {
    std::string head = "The training watch's input check on the " + w.reading + ", given nothing but its numbers: " +
                       (w.signature ? "it names the signed-byte signature." : "no signed-byte signature") +
                       (w.signature ? "" : w.findings.empty() ? ", and no other finding." : "; its findings:");
    s.add(Paragraph{w.signature ? Severity::warning : Severity::info, head});
    for (const auto& f : w.findings) s.add(Paragraph{w.signature ? Severity::warning : Severity::note, f});
  }

  BarChart medians;
  medians.title = "Test accuracy after one epoch (median over the seeds)";
  medians.y_label = "test accuracy";
  medians.labels = {"mini-batch: correct", "mini-batch: both misread", "mini-batch: training misread",
                    "online: correct", "online: both misread", "online: training misread"};
  medians.values = {r.mini_batch.correct, r.mini_batch.both_misread, r.mini_batch.training_misread,
                    r.online.correct,     r.online.both_misread,     r.online.training_misread};
  medians.threshold = 0.1;
  medians.threshold_label = "chance (10 classes)";
  medians.caption = "Correct: trained and tested on unsigned bytes. Both misread: trained and tested on the signed-char "
                    "reading (the question). Training misread: trained on it, tested on the correct reading.";
  s.add(std::move(medians));

  Table runs;
  runs.caption = "Every run: test accuracy after one epoch per seed (a seed whose correct reading stays below 0.2 stalled)";
  runs.header = {"schedule", "seed", "correct", "both misread", "training misread", "stalled", "seconds"};
  for (const auto& row : r.rows)
    runs.rows.push_back({Cell(fixtures::to_string(row.schedule)), Cell::number(double(row.seed), 3),
                         Cell::number(row.correct, 4), Cell::number(row.both_misread, 4),
                         Cell::number(row.training_misread, 4),
                         Cell(yes_no(row.stalled), row.stalled ? Verdict::note : Verdict::none),
                         Cell::number(row.seconds, 3)});
  s.add(std::move(runs));

  LineChart hist;
  hist.title = "Pixel values of the training images under each reading";
  hist.x_label = "pixel value";
  hist.y_label = "fraction of pixels";
  hist.log_y = true;
  std::vector<double> xc, yc, xm, ym;
  for (int b = 1; b < 256; ++b) {
    const double f = static_cast<double>(r.training_bytes.counts[static_cast<std::size_t>(b)]) /
                     static_cast<double>(std::max<std::uint64_t>(r.training_bytes.bytes, 1));
    xc.push_back(b / 255.0);
    yc.push_back(f > 0 ? f : std::nan(""));
  }
  for (int k = -128; k < 128; ++k) {
    if (k == 0) continue;
    const int b = k < 0 ? k + 256 : k;
    const double f = static_cast<double>(r.training_bytes.counts[static_cast<std::size_t>(b)]) /
                     static_cast<double>(std::max<std::uint64_t>(r.training_bytes.bytes, 1));
    xm.push_back(k / 255.0);
    ym.push_back(f > 0 ? f : std::nan(""));
  }
  hist.series = {series("correct (unsigned bytes)", xc, yc), series("read as signed char", xm, ym)};
  hist.caption = "One point per byte value; byte 0 (the background, " +
                 percent(static_cast<double>(r.training_bytes.counts[0]) /
                         static_cast<double>(std::max<std::uint64_t>(r.training_bytes.bytes, 1))) +
                 " of the pixels) is left out. The signed-char reading moves bytes 128–255 to [−0.502, −0.004]: "
                 "nothing reaches 0.5, the curve jumps at 0 and continues from −0.5.";
  s.add(std::move(hist));
  return s;
}

json to_json(const fixtures::SignedCharResult& r) {
  json j = head_json("signed-char", r.claims, r.seconds);
  j["quick"] = r.quick;
  j["training_images"] = r.training_images;
  j["test_images"] = r.test_images;
  j["seeds"] = r.seeds;
  const auto bytes = [](const fixtures::PixelBytes& p) {
    return json{{"bytes", p.bytes}, {"above_127", p.above_127}, {"fraction_above_127", json_number(p.fraction_above_127)},
                {"counts", p.counts}};
  };
  j["training_bytes"] = bytes(r.training_bytes);
  j["test_bytes"] = bytes(r.test_bytes);
  const auto reading = [](const fixtures::ReadingStats& x) {
    return json{{"min", json_number(x.min)}, {"max", json_number(x.max)}, {"mean", json_number(x.mean)},
                {"fraction_negative", json_number(x.fraction_negative)}};
  };
  j["correct_reading"] = reading(r.correct_reading);
  j["misread_reading"] = reading(r.misread_reading);
  j["runs"] = json::array();
  for (const auto& row : r.rows)
    j["runs"].push_back({{"seed", row.seed},
                         {"schedule", row.schedule == fixtures::Schedule::mini_batch ? "mini-batch" : "online"},
                         {"correct", json_number(row.correct)},
                         {"both_misread", json_number(row.both_misread)},
                         {"training_misread", json_number(row.training_misread)},
                         {"stalled", row.stalled},
                         {"seconds", json_number(row.seconds)}});
  const auto med = [](const fixtures::Medians& m) {
    return json{{"correct", json_number(m.correct)}, {"both_misread", json_number(m.both_misread)},
                {"training_misread", json_number(m.training_misread)}};
  };
  j["median"] = {{"mini_batch", med(r.mini_batch)}, {"online", med(r.online)}};
  j["watch"] = json::array();
  for (const auto& w : r.watch)
    j["watch"].push_back({{"reading", w.reading}, {"signature", w.signature}, {"findings", w.findings}});
  return j;
}

// ---------------------------------------------------------------------------
// 3. relu-nan

namespace {

std::string first_non_finite_text(const fixtures::ReluRun& run) {
  if (run.finite) return "finite";
  return "step " + std::to_string(run.first_non_finite_step) + ", layer " + std::to_string(run.layer) + ": " + run.cause;
}

json relu_run_json(const fixtures::ReluRun& run) {
  return {{"id", run.id},
          {"change", run.change},
          {"rate", json_number(run.rate)},
          {"naive_numerics", run.naive_numerics},
          {"finite", run.finite},
          {"first_non_finite_step", run.first_non_finite_step},
          {"layer", run.layer},
          {"cause", run.cause},
          {"detail", run.detail},
          {"max_logit", json_number(run.max_logit)},
          {"test_accuracy", json_number(run.test_accuracy)},
          {"dead_fraction", json_number(run.dead_fraction)},
          {"findings", run.findings},
          {"loss_step", numbers(run.loss_step)},
          {"loss", numbers(run.loss)}};
}

}  // namespace

Section fixture_section(const fixtures::ReluNanResult& r) {
  Section s = begin("relu-nan", r.claims, r.seconds);
  KeyValues setup;
  setup.caption = "Setup";
  setup.rows = {{"network", "[784, 100, 10], relu, softmax, cross-entropy, N(0, 1) weights and biases, seed 1"},
                {"training", "SGD, mini-batches of " + std::to_string(r.batch_size) + ", one epoch on the first " +
                                 thousands(static_cast<std::uint64_t>(r.training_images)) + " training images" + (r.quick ? " (quick)" : "")},
                {"stable", "the engine's softmax (minus its max) and log-sum-exp cross-entropy"},
                {"naive", "the training watch emulates exp(z)/Σexp(z) and −Σ y ln a from the outputs"},
                {"threshold rate", r.threshold_rate > 0 ? fmt(r.threshold_rate) : std::string("none in the sweep")}};
  s.add(std::move(setup));
  if (!r.counterfactuals.empty() && !r.counterfactuals[0].finite)
    s.add(Paragraph{Severity::warning, "At η = " + fmt(r.counterfactual_rate) + " the naive computation's first "
                                       "non-finite value, found by the watch: " + r.counterfactuals[0].detail});

  Table sweep;
  sweep.caption = "The learning-rate sweep: the stable run, and the step at which the naive computation turns non-finite";
  sweep.header = {"η", "stable: finite", "test accuracy", "largest logit", "dead relu units", "naive: first non-finite"};
  for (const auto& p : r.sweep) {
    const Verdict naive_v = p.naive.finite ? Verdict::agree : Verdict::non_finite;
    sweep.rows.push_back({Cell::number(p.rate, 3), Cell(yes_no(p.stable.finite), p.stable.finite ? Verdict::agree : Verdict::non_finite),
                          Cell::number(p.stable.test_accuracy, 4), Cell::number(p.stable.max_logit, 4),
                          Cell(percent(p.stable.dead_fraction, 3)), Cell(first_non_finite_text(p.naive), naive_v)});
  }
  s.add(std::move(sweep));

  LineChart curves;
  curves.title = "Batch loss per step, stable runs, one curve per learning rate";
  curves.x_label = "step";
  curves.y_label = "batch loss (cross-entropy)";
  curves.log_y = true;
  for (const auto& p : r.sweep) curves.series.push_back(thinned("η = " + fmt(p.rate), p.stable.loss_step, p.stable.loss, 200));
  curves.caption = "With the stable softmax the loss stays finite at every rate; at high rates it does not learn "
                   "(dead relu units, chance accuracy).";
  s.add(std::move(curves));

  LineChart cf_curves;
  cf_curves.title = "Batch loss per step, the counterfactuals";
  cf_curves.x_label = "step";
  cf_curves.y_label = "batch loss (cross-entropy)";
  cf_curves.log_y = true;
  for (const auto& c : r.counterfactuals) cf_curves.series.push_back(thinned(c.id, c.loss_step, c.loss, 200));
  cf_curves.caption = "A run under naive numerics stops at its first non-finite value (the baseline's curve ends "
                      "there); the others run the whole epoch.";
  s.add(std::move(cf_curves));

  Table cf;
  cf.caption = "Counterfactuals at η = " + fmt(r.counterfactual_rate) + ", one change each (naive numerics unless said)";
  cf.header = {"change", "first non-finite", "test accuracy", "largest logit", "dead relu units"};
  for (const auto& c : r.counterfactuals)
    cf.rows.push_back({Cell(c.change), Cell(first_non_finite_text(c), c.finite ? Verdict::agree : Verdict::non_finite),
                       c.finite ? Cell::number(c.test_accuracy, 4) : Cell("— (stopped)"), Cell::number(c.max_logit, 4),
                       Cell(percent(c.dead_fraction, 3))});
  s.add(std::move(cf));
  return s;
}

json to_json(const fixtures::ReluNanResult& r) {
  json j = head_json("relu-nan", r.claims, r.seconds);
  j["quick"] = r.quick;
  j["training_images"] = r.training_images;
  j["test_images"] = r.test_images;
  j["batch_size"] = r.batch_size;
  j["threshold_rate"] = json_number(r.threshold_rate);
  j["counterfactual_rate"] = json_number(r.counterfactual_rate);
  j["sweep"] = json::array();
  for (const auto& p : r.sweep)
    j["sweep"].push_back({{"rate", json_number(p.rate)}, {"stable", relu_run_json(p.stable)}, {"naive", relu_run_json(p.naive)}});
  j["counterfactuals"] = json::array();
  for (const auto& c : r.counterfactuals) j["counterfactuals"].push_back(relu_run_json(c));
  return j;
}

// ---------------------------------------------------------------------------
// 4. relu-backward

Section fixture_section(const fixtures::ReluBackwardResult& r) {
  Section s = begin("relu-backward", r.claims, r.seconds);
  s.add(Paragraph{Severity::info,
                  "Masking is the chain rule: dL/dz = dL/da ⊙ relu'(z) with relu'(z) = 1 for z > 0 and 0 otherwise, so "
                  "multiplying by it is zeroing where z ≤ 0. The copy keeps dvalues, which belongs to the layer above, "
                  "unchanged. At z = 0 exactly relu has no derivative: the slope is 0 on the left and 1 on the right. "
                  "The pattern takes 0 (as PyTorch and TensorFlow do); a central difference straddles the kink and "
                  "returns the average, 0.5 × the slope. Any value in between is a valid subgradient: neither is a bug, "
                  "and the checks say inconclusive-kink rather than disagree."});
  Table variants;
  variants.caption = "The ReLU backward pattern and two known-bad variants, against central differences (random case, "
                     "4 samples, [4, 5 relu, 3 softmax], cross-entropy)";
  variants.header = {"NumPy", "agree", "disagree", "worst relative error", "verdict"};
  BarChart worst;
  worst.title = "Worst relative error against central differences";
  worst.y_label = "relative error";
  worst.log_scale = true;
  for (const auto& v : r.variants) {
    const auto& sum = v.check.summary;
    const Verdict verdict = sum.passed ? Verdict::agree : Verdict::disagree;
    const double e = sum.worst ? sum.worst->relative_error : 0.0;
    variants.rows.push_back({Cell(fixtures::numpy_line(v.mask)), Cell::number(double(sum.counts.agree), 4),
                             Cell::number(double(sum.counts.disagree), 4), Cell::number(e, 3, verdict),
                             Cell(sum.passed ? "agrees" : "disagrees", verdict)});
    worst.labels.push_back(std::string("mask by ") + fixtures::to_string(v.mask));
    worst.values.push_back(e);
    worst.verdicts.push_back(verdict);
  }
  s.add(std::move(variants));
  s.add(std::move(worst));
  KeyValues engine;
  engine.caption = "The pattern against the engine's backward";
  engine.rows = {{"largest difference / largest entry", fmt(r.engine_difference, 3)}};
  s.add(std::move(engine));

  Table kink;
  kink.caption = "At z = 0 exactly (hidden unit 2 of the one-sample case built from binary fractions): the parameters "
                 "whose stencil straddles the kink";
  kink.header = {"parameter", "pattern (relu'(0) = 0)", "central difference", "right slope", "left slope",
                 "central / active slope", "checks"};
  for (const auto& e : r.kink_entries)
    kink.rows.push_back({Cell(e.parameter), Cell::number(e.pattern, 6), Cell::number(e.central, 8),
                         Cell::number(e.forward_slope, 8), Cell::number(e.backward_slope, 8), Cell::number(e.ratio, 6),
                         Cell(e.verdict, e.verdict == "inconclusive-kink" ? Verdict::inconclusive_kink : Verdict::none)});
  s.add(std::move(kink));
  return s;
}

json to_json(const fixtures::ReluBackwardResult& r) {
  json j = head_json("relu-backward", r.claims, r.seconds);
  j["variants"] = json::array();
  for (const auto& v : r.variants) {
    const auto& sum = v.check.summary;
    j["variants"].push_back({{"mask", fixtures::to_string(v.mask)},
                             {"numpy", fixtures::numpy_line(v.mask)},
                             {"passed", sum.passed},
                             {"agree", sum.counts.agree},
                             {"disagree", sum.counts.disagree},
                             {"worst_relative_error", json_number(sum.worst ? sum.worst->relative_error : 0.0)}});
  }
  j["engine_difference"] = json_number(r.engine_difference);
  j["kink"] = json::array();
  for (const auto& e : r.kink_entries)
    j["kink"].push_back({{"parameter", e.parameter},
                         {"pattern", json_number(e.pattern)},
                         {"central", json_number(e.central)},
                         {"forward_slope", json_number(e.forward_slope)},
                         {"backward_slope", json_number(e.backward_slope)},
                         {"ratio", json_number(e.ratio)},
                         {"verdict", e.verdict}});
  return j;
}

// ---------------------------------------------------------------------------
// 5. linear-regression

Section fixture_section(const fixtures::LinearRegressionResult& r) {
  Section s = begin("linear-regression", r.claims, r.seconds);
  KeyValues setup;
  setup.caption = "Construction and conditioning";
  std::string sv;
  for (std::size_t i = 0; i < r.singular_values.size(); ++i) sv += (i ? ", " : "") + format_number(r.singular_values[i], 4);
  setup.rows = {{"samples", std::to_string(r.samples) + ": Z = 0, 1, …, " + std::to_string(r.samples - 1) +
                                "; the other inputs constant: " + fmt(r.constants[0]) + ", " + fmt(r.constants[1]) + ", " +
                                fmt(r.constants[2])},
                {"outputs", std::to_string(r.outputs) + ": y_k = 1000 + (20 + 10k)·Z"},
                {"singular values of [1, Z, c1, c2, c3]", sv + " (50 digits)"},
                {"rank", std::to_string(r.rank) + " of 5: condition number ∞, least squares not unique"},
                {"σ1/σ2 (identified subspace)", fmt(r.condition_identified, 5)},
                {"κ of the Hessian XᵀX/N there", fmt(r.hessian_condition, 5)},
                {"best fixed rate 2/(λmax + λmin)", fmt(r.best_rate, 5)},
                {"contraction per epoch (κ − 1)/(κ + 1)", fmt(r.predicted_contraction, 7) + " predicted, " +
                                                               fmt(r.measured_contraction, 7) + " measured"},
                {"epochs to 1e-9 relative distance", std::to_string(r.predicted_epochs) + " predicted, " +
                                                          std::to_string(r.measured_epochs) + " measured"},
                {"standardised: σ1/σ2", fmt(r.standardised_condition, 5)},
                {"least squares (50 digits)", "largest residual " + fmt(r.ls_max_residual, 3) +
                                                  ", largest parameter error " + fmt(r.ls_parameter_error, 3)}};
  s.add(std::move(setup));
  s.add(Paragraph{Severity::info,
                  "Gradient descent's error along the Hessian's least-curved direction shrinks by (κ − 1)/(κ + 1) per "
                  "epoch at best; with κ = " + fmt(r.hessian_condition, 4) + " that is " +
                      std::to_string(r.predicted_epochs) +
                      " epochs to nine digits, and after 1,000 the parameters are still " +
                      percent(r.runs.empty() ? 0.0 : r.runs[0].intercept_error, 2) +
                      " off while R² reads " + (r.runs.empty() ? std::string("?") : fmt(r.runs[0].r2, 5)) +
                      ". Standardising makes κ = 1: one epoch at η = 1 is exact. The three constant inputs change "
                      "nothing: their directions carry no gradient."});
  Table runs;
  runs.caption = "The same data fitted by gradient descent and Adam, 1,000 full-batch epochs from zero weights; errors "
                 "against least squares in the data's units";
  runs.header = {"run", "η", "R²", "largest |error|", "slope error", "intercept error", "non-finite at epoch"};
  for (const auto& run : r.runs) {
    const bool nf = run.first_non_finite_epoch > 0;
    runs.rows.push_back({Cell(run.description), Cell::number(run.learning_rate, 4), Cell::number(run.r2, 8),
                         Cell::number(run.max_abs_error, 4), Cell::number(run.slope_error, 3),
                         Cell::number(run.intercept_error, 3),
                         nf ? Cell(std::to_string(run.first_non_finite_epoch), Verdict::non_finite) : Cell("—")});
  }
  s.add(std::move(runs));
  LineChart curves;
  curves.title = "Relative distance of the fitted slopes and intercepts to least squares";
  curves.x_label = "epoch";
  curves.y_label = "relative distance";
  curves.log_y = true;
  for (const auto& run : r.runs)
    if (run.first_non_finite_epoch < 0) curves.series.push_back(thinned(run.id, run.curve_epoch, run.curve_distance, 250));
  if (!r.long_run.curve_epoch.empty())
    curves.series.push_back(thinned("gd_raw, continued", r.long_run.curve_epoch, r.long_run.curve_distance, 250));
  curves.caption = "Standardised gradient descent reaches rounding level after the first epoch; on raw data the "
                   "distance shrinks by (κ − 1)/(κ + 1) per epoch (the continued run shows the straight line on this "
                   "log scale until rounding stops it).";
  s.add(std::move(curves));
  KeyValues deep;
  deep.caption = "A deep linear network collapses to one matrix";
  std::string sizes;
  for (std::size_t i = 0; i < r.deep.sizes.size(); ++i) sizes += (i ? "-" : "") + std::to_string(r.deep.sizes[i]);
  deep.rows = {{"network", sizes + ", identity activations, standardised data, η = " + fmt(r.deep.learning_rate) + ", " +
                               std::to_string(r.deep.epochs) + " epochs"},
               {"network vs W3·W2·W1·x + b (largest relative difference)", fmt(r.deep.collapse_difference, 3)},
               {"collapsed map vs least squares: slope, intercept error", fmt(r.deep.slope_error, 3) + ", " +
                                                                            fmt(r.deep.intercept_error, 3)},
               {"R²", fmt(r.deep.r2, 10)}};
  s.add(std::move(deep));
  return s;
}

json to_json(const fixtures::LinearRegressionResult& r) {
  json j = head_json("linear-regression", r.claims, r.seconds);
  j["samples"] = r.samples;
  j["outputs"] = r.outputs;
  j["constants"] = numbers(r.constants);
  j["singular_values"] = numbers(r.singular_values);
  j["rank"] = r.rank;
  j["condition_identified"] = json_number(r.condition_identified);
  j["hessian_condition"] = json_number(r.hessian_condition);
  j["best_rate"] = json_number(r.best_rate);
  j["predicted_contraction"] = json_number(r.predicted_contraction);
  j["measured_contraction"] = json_number(r.measured_contraction);
  j["predicted_epochs"] = r.predicted_epochs;
  j["measured_epochs"] = r.measured_epochs;
  j["standardised_condition"] = json_number(r.standardised_condition);
  j["least_squares"] = {{"max_residual", json_number(r.ls_max_residual)},
                        {"parameter_error", json_number(r.ls_parameter_error)},
                        {"r2", json_number(r.ls_r2)}};
  const auto run_json = [](const fixtures::LinearRun& run) {
    return json{{"id", run.id},
                         {"description", run.description},
                         {"standardised", run.standardised},
                         {"optimizer", gradcheck::to_string(run.optimizer)},
                         {"learning_rate", json_number(run.learning_rate)},
                         {"epochs", run.epochs},
                         {"first_non_finite_epoch", run.first_non_finite_epoch},
                         {"r2", json_number(run.r2)},
                         {"max_abs_error", json_number(run.max_abs_error)},
                         {"slope_error", json_number(run.slope_error)},
                         {"intercept_error", json_number(run.intercept_error)},
                         {"curve_epoch", numbers(run.curve_epoch)},
                         {"curve_distance", numbers(run.curve_distance)}};
  };
  j["runs"] = json::array();
  for (const auto& run : r.runs) j["runs"].push_back(run_json(run));
  j["long_run"] = run_json(r.long_run);
  j["deep"] = {{"sizes", r.deep.sizes},
               {"epochs", r.deep.epochs},
               {"learning_rate", json_number(r.deep.learning_rate)},
               {"collapse_difference", json_number(r.deep.collapse_difference)},
               {"slope_error", json_number(r.deep.slope_error)},
               {"intercept_error", json_number(r.deep.intercept_error)},
               {"r2", json_number(r.deep.r2)}};
  return j;
}

// ---------------------------------------------------------------------------
// 6. biases

Section fixture_section(const fixtures::BiasesResult& r) {
  Section s = begin("biases", r.claims, r.seconds);
  KeyValues setup;
  setup.caption = "Setup and the floor";
  setup.rows = {{"data", std::to_string(r.x.size()) + " points x = 0, 0.1, …, 1, y = 2x + 3"},
                {"model", "one identity unit, loss ½ mean (a − y)², full-batch gradient descent, η = " +
                              fmt(r.learning_rate) + ", " + std::to_string(r.epochs) + " epochs from 0"},
                {"floor without bias", "L* = ½ [mean(y²) − mean(xy)²/mean(x²)] = " + r.floor_exact + " = " +
                                           format_number(r.floor, 10)},
                {"at", "w* = mean(xy)/mean(x²) = " + r.floor_weight_exact + " = " + format_number(r.floor_weight, 10)},
                {"without bias: final loss, w", format_number(r.no_bias.final_loss, 12) + ", " +
                                                     format_number(r.no_bias.weight, 12)},
                {"with bias: final loss, w, b", format_number(r.with_bias.final_loss, 3) + ", " +
                                                     format_number(r.with_bias.weight, 12) + ", " +
                                                     format_number(r.with_bias.bias_value, 12)}};
  s.add(std::move(setup));
  s.add(Paragraph{Severity::info,
                  "Without a bias every line passes through the origin; the best one, slope " + r.floor_weight_exact +
                      ", still misses the data by a loss of " + r.floor_exact +
                      ". Training reaches that floor and stops there with zero gradient: it is the model, not the "
                      "optimiser. A bias lets the line move up by 3 and the loss falls to rounding level."});
  LineChart loss;
  loss.title = "Loss per epoch";
  loss.x_label = "epoch";
  loss.y_label = "loss ½ mean (a − y)²";
  loss.log_y = true;
  std::vector<double> epochs;
  for (std::size_t e = 0; e < r.no_bias.loss.size(); ++e) epochs.push_back(static_cast<double>(e + 1));
  std::vector<double> with = r.with_bias.loss;
  for (double& v : with) v = v > 0 ? v : std::nan("");  // exact zeros have no place on a log axis
  loss.series = {thinned("without bias", epochs, r.no_bias.loss, 200), thinned("with bias", epochs, with, 200)};
  loss.threshold = r.floor;
  loss.threshold_label = "the floor " + r.floor_exact;
  s.add(std::move(loss));
  LineChart fit;
  fit.title = "The data and the two fitted lines";
  fit.x_label = "x";
  fit.y_label = "y";
  std::vector<double> nb, wb;
  for (double x : r.x) {
    nb.push_back(r.no_bias.weight * x);
    wb.push_back(r.with_bias.weight * x + r.with_bias.bias_value);
  }
  fit.series = {series("y = 2x + 3 (data)", r.x, r.y), series("without bias: y = w x", r.x, nb),
                series("with bias: y = w x + b", r.x, wb)};
  fit.caption = "The line with a bias lies on the data. The best line through the origin crosses it at x = 0.7.";
  s.add(std::move(fit));
  return s;
}

json to_json(const fixtures::BiasesResult& r) {
  json j = head_json("biases", r.claims, r.seconds);
  j["x"] = numbers(r.x);
  j["y"] = numbers(r.y);
  j["epochs"] = r.epochs;
  j["learning_rate"] = json_number(r.learning_rate);
  j["floor"] = json_number(r.floor);
  j["floor_exact"] = r.floor_exact;
  j["floor_weight"] = json_number(r.floor_weight);
  j["floor_weight_exact"] = r.floor_weight_exact;
  const auto fit = [](const fixtures::LineFit& f) {
    return json{{"bias", f.bias},
                {"weight", json_number(f.weight)},
                {"bias_value", json_number(f.bias_value)},
                {"final_loss", json_number(f.final_loss)},
                {"final_gradient", json_number(f.final_gradient)},
                {"loss", numbers(f.loss)}};
  };
  j["no_bias"] = fit(r.no_bias);
  j["with_bias"] = fit(r.with_bias);
  return j;
}

// ---------------------------------------------------------------------------
// 7. sine

Section fixture_section(const fixtures::SineResult& r) {
  Section s = begin("sine", r.claims, r.seconds);
  const fixtures::SineRun* best = nullptr;
  for (const auto& run : r.runs)
    if (!best || run.train_mse < best->train_mse) best = &run;
  if (!r.runs.empty() && best) {
    const auto& q = r.runs[0];
    std::string text = "The question's configuration ends at MSE " + fmt(q.train_mse, 3) + " after " +
                       std::to_string(q.config.epochs) + " epochs, and it was still descending: the last half of "
                       "its epochs took the MSE down to " + percent(r.question_still_descending, 3) +
                       " of its half-way value. It stopped too early; it was not stuck. ";
    for (std::size_t k = 1; k < r.runs.size(); ++k)
      text += r.runs[k].config.change + ": MSE " + fmt(r.runs[k].train_mse, 3) + ". ";
    text += "What made the difference: the size of the steps — " + best->config.change +
            " reaches the lowest error. Scaling inputs that already lie in [−π, π] down to [−1, 1] makes the first "
            "layer's weights need to be π times larger while their gradients shrink by π: slower, not faster.";
    s.add(Paragraph{Severity::info, text});
  }
  Table runs;
  runs.caption = "The question's configuration and one change at a time (" + std::to_string(r.points) +
                 " training points on [−π, π], Glorot initialisation, seed " + std::to_string(r.seed) + ")";
  runs.header = {"configuration", "epochs", "MSE (training points)", "MSE (1,000-point grid)", "largest |error|", "seconds"};
  for (const auto& run : r.runs)
    runs.rows.push_back({Cell(run.config.change), Cell::number(run.config.epochs, 6),
                         Cell::number(run.train_mse, 3, run.train_mse < 1e-4 ? Verdict::agree : Verdict::none),
                         Cell::number(run.grid_mse, 3), Cell::number(run.max_abs_error, 3), Cell::number(run.seconds, 3)});
  s.add(std::move(runs));
  LineChart fit;
  fit.title = "Fit vs target";
  fit.x_label = "x";
  fit.y_label = "y";
  fit.series.push_back(thinned("sin x", r.grid_x, r.grid_sin, 250));
  if (!r.runs.empty()) fit.series.push_back(thinned("the question's configuration", r.grid_x, r.runs[0].fit, 250));
  if (best && best != &r.runs[0]) fit.series.push_back(thinned(best->config.change, r.grid_x, best->fit, 250));
  s.add(std::move(fit));
  LineChart mse;
  mse.title = "Training MSE during training";
  mse.x_label = "epoch";
  mse.y_label = "MSE";
  mse.log_y = true;
  for (const auto& run : r.runs) mse.series.push_back(series(run.config.id, run.curve_epoch, run.curve_mse));
  mse.threshold = 1e-4;
  mse.threshold_label = "1e-4";
  s.add(std::move(mse));
  return s;
}

json to_json(const fixtures::SineResult& r) {
  json j = head_json("sine", r.claims, r.seconds);
  j["points"] = r.points;
  j["seed"] = r.seed;
  j["question_still_descending"] = json_number(r.question_still_descending);
  j["grid_x"] = numbers(r.grid_x);
  j["runs"] = json::array();
  for (const auto& run : r.runs)
    j["runs"].push_back({{"id", run.config.id},
                         {"change", run.config.change},
                         {"optimizer", gradcheck::to_string(run.config.optimizer)},
                         {"learning_rate", json_number(run.config.learning_rate)},
                         {"momentum", json_number(run.config.momentum)},
                         {"batch_size", run.config.batch_size},
                         {"epochs", run.config.epochs},
                         {"input_scale", json_number(run.config.input_scale)},
                         {"train_mse", json_number(run.train_mse)},
                         {"grid_mse", json_number(run.grid_mse)},
                         {"max_abs_error", json_number(run.max_abs_error)},
                         {"curve_epoch", numbers(run.curve_epoch)},
                         {"curve_mse", numbers(run.curve_mse)},
                         {"fit", numbers(run.fit)},
                         {"seconds", json_number(run.seconds)}});
  return j;
}

// ---------------------------------------------------------------------------

void add(Report& report, const fixtures::Fixture321Result& r) {
  report.add_section(fixture_section(r));
  report.add_result(to_json(r));
}
void add(Report& report, const fixtures::SignedCharResult& r) {
  report.add_section(fixture_section(r));
  report.add_result(to_json(r));
}
void add(Report& report, const fixtures::ReluNanResult& r) {
  report.add_section(fixture_section(r));
  report.add_result(to_json(r));
}
void add(Report& report, const fixtures::ReluBackwardResult& r) {
  report.add_section(fixture_section(r));
  report.add_result(to_json(r));
}
void add(Report& report, const fixtures::LinearRegressionResult& r) {
  report.add_section(fixture_section(r));
  report.add_result(to_json(r));
}
void add(Report& report, const fixtures::BiasesResult& r) {
  report.add_section(fixture_section(r));
  report.add_result(to_json(r));
}
void add(Report& report, const fixtures::SineResult& r) {
  report.add_section(fixture_section(r));
  report.add_result(to_json(r));
}

void add_fixture_error(Report& report, const std::string& fixture, const std::string& message) {
  Section s;
  const fixtures::FixtureInfo* info = fixtures::find_fixture(fixture);
  s.heading = info ? "Fixture " + std::to_string(info->number) + " · " + fixture + ": " + info->title : fixture;
  s.status = Status::error;
  s.summary = "could not run: " + message;
  s.add(Paragraph{Severity::failure, "The fixture could not run: " + message});
  s.testcases.push_back({"fixtures." + fixture, "run", Outcome::error, message, "", 0});
  report.add_section(std::move(s));
  report.add_result({{"type", "fixture"}, {"fixture", fixture}, {"reproduced", false}, {"error", message}});
}

}  // namespace gradcheck::reports
