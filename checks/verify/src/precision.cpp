// Precision in verify (docs/verify.md#precision): which format the reply was
// computed in (stated, given, or inferred from its values), whether every
// difference is within what a correct implementation in that format can
// produce (the precision model, checks/gradient/precision_model.hpp), and the
// notes that name each operation that lost digits.
#include "verify_detail.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace gradcheck::detail {

namespace {

// Narrower formats are inferred from exact representability only with enough
// informative values that a float64 program's values would not all land on the
// format's numbers by chance: a float64 result is a p number with chance
// 2^−(53 − p's bits), but short values (0.375, 2.25: round inputs through
// identity layers) land on every format, so only values using nearly all of
// p's bits (all but `spare_bits`) count, until the chance falls below
// 2^−`inference_bits`: 3 values for bfloat16 and float16, 4 for float32.
constexpr int spare_bits = 2;
constexpr int inference_bits = 100;
// A hypothesis (a known bug) matches a reply computed in p to this many units
// of p's rounding, normwise.
constexpr double match_ulps = 8;
// A difference within this many units of p's rounding is plain rounding: it
// is not attributed to an ill-conditioned operation even where one occurred.
constexpr double plain_rounding_ulps = 4;

std::vector<double> reply_values(const Reply& r, bool gradients_only = false) {
  std::vector<double> v;
  for (const auto& l : r.layers) {
    v.insert(v.end(), l.weights.data(), l.weights.data() + l.weights.size());
    v.insert(v.end(), l.biases.data(), l.biases.data() + l.biases.size());
  }
  if (r.outputs && !gradients_only) v.insert(v.end(), r.outputs->data(), r.outputs->data() + r.outputs->size());
  if (r.loss && !gradients_only) v.push_back(*r.loss);
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x) || x == 0; }), v.end());
  return v;
}

bool all_in(const std::vector<double>& values, Precision p) {
  return std::all_of(values.begin(), values.end(), [p](double x) { return round_to(x, p) == x; });
}

// Significant bits of a finite nonzero double: 0.375 has 2, 1/3 has 53.
int significant_bits(double x) {
  int e = 0;
  auto m = static_cast<std::uint64_t>(std::ldexp(std::fabs(std::frexp(x, &e)), 53));
  int trailing = 0;
  for (; m != 0 && (m & 1U) == 0; m >>= 1) ++trailing;
  return 53 - trailing;
}

std::size_t informative_values(const std::vector<double>& v, Precision p) {
  const int bits = format_of(p).significand_bits;
  return static_cast<std::size_t>(
      std::count_if(v.begin(), v.end(), [bits](double x) { return significant_bits(x) >= bits - spare_bits; }));
}

// Enough informative values to tell p from float64 (see spare_bits).
bool enough_informative(std::size_t informative, Precision p) {
  const int chance_bits = 53 - format_of(p).significand_bits;  // per informative value
  return static_cast<double>(informative) * chance_bits >= inference_bits;
}

// Every value is a p number, and enough of them are informative.
bool shows_format(const std::vector<double>& v, Precision p) {
  return enough_informative(informative_values(v, p), p) && all_in(v, p);
}

constexpr std::array<Precision, 3> narrow_formats{Precision::bfloat16, Precision::float16, Precision::float32};

std::optional<PrecisionSource> representable_precision(const Reply& reply) {
  const std::vector<double> v = reply_values(reply);
  for (Precision p : narrow_formats)
    if (shows_format(v, p)) return PrecisionSource{p, PrecisionSource::How::values, v.size()};
  return std::nullopt;
}

}  // namespace
}  // namespace gradcheck::detail

namespace gradcheck {

void FormatEvidence::add(const Reply& reply) {
  const std::vector<double> v = detail::reply_values(reply);
  for (std::size_t i = 0; i < formats_.size(); ++i) {
    formats_[i].all_in = formats_[i].all_in && detail::all_in(v, detail::narrow_formats[i]);
    formats_[i].informative += detail::informative_values(v, detail::narrow_formats[i]);
  }
  values_ += v.size();
  ++replies_;
}

std::optional<ProgramFormat> FormatEvidence::shown() const {
  for (std::size_t i = 0; i < formats_.size(); ++i)
    if (formats_[i].all_in && detail::enough_informative(formats_[i].informative, detail::narrow_formats[i]))
      return ProgramFormat{detail::narrow_formats[i], values_, replies_};
  return std::nullopt;
}

bool FormatEvidence::could_be_narrow() const {
  return std::any_of(formats_.begin(), formats_.end(), [](const PerFormat& f) { return f.all_in; });
}

}  // namespace gradcheck

namespace gradcheck::detail {

PrecisionState::PrecisionState(const Reply& reply, const VerifyOptions& options) {
  if (reply.precision) known = PrecisionSource{*reply.precision, PrecisionSource::How::stated, 0};
  else if (options.precision) known = PrecisionSource{*options.precision, PrecisionSource::How::given, 0};
  else known = representable_precision(reply);
  if (!known && options.program_format) {
    const ProgramFormat& f = *options.program_format;
    known = PrecisionSource{f.precision, PrecisionSource::How::program, f.values, f.replies};
  }
}

const PrecisionModel& model_for(const VerifyContext& ctx, Precision p) {
  auto& models = ctx.precision->models;
  auto it = models.find(p);
  if (it == models.end()) it = models.emplace(p, precision_model(ctx.c, p)).first;
  return it->second;
}

Precision working_precision(const VerifyContext& ctx) {
  return ctx.precision->known ? ctx.precision->known->precision : Precision::float32;
}

double match_tolerance(const VerifyContext& ctx) {
  return std::max(ctx.options.match_tolerance, match_ulps * format_of(working_precision(ctx)).unit_roundoff);
}

const EntryBound& bound_of(const PrecisionModel& m, const Entry& e) {
  const auto l = static_cast<std::size_t>(e.layer);
  switch (e.tensor) {
    case TensorKind::weights: return m.weight(l, e.row, e.col);
    case TensorKind::biases: return m.bias(l, e.row);
    case TensorKind::outputs: return m.output(e.row, e.col);
    default: return m.loss;
  }
}

bool non_finite_within_precision(const VerifyContext& ctx, const Entry& e) {
  if (!ctx.precision->known) return false;
  return bound_of(model_for(ctx, ctx.precision->known->precision), e).may_be_non_finite;
}

void PrecisionTally::add(const PrecisionModel& m, const EntryBound& b, double claimed, double exact, double scale) {
  if (claimed == exact) return;
  ++entries;
  if (!std::isfinite(claimed) || !std::isfinite(exact)) {
    if (!b.may_be_non_finite || !std::isfinite(exact)) within = false;
    else add_to_group(b.cause, 1, true);
    return;
  }
  const double diff = std::abs(claimed - exact);
  const double model = m.kappa * b.bound;
  const double printed_error = print_error(claimed);
  if (b.may_be_non_finite && !(diff <= model + printed_error)) {
    // A way that may overflow or take ln 0 may also land anywhere finite.
    add_to_group(b.cause, 1, exact != 0 && std::abs(exact) >= 1e-3 * scale);
    return;
  }
  if (!(diff <= model + printed_error)) {
    within = false;
    return;
  }
  const double rel = diff / std::max(std::abs(exact), std::numeric_limits<double>::min());
  const bool destroys = exact != 0 && std::abs(exact) >= 1e-3 * scale && (model >= 0.5 * std::abs(exact) || claimed == 0);
  if (printed_error >= model) {
    ++printed;
    fewest_digits = std::min(fewest_digits, printed_digits(claimed));
    worst_printed = std::max(worst_printed, rel);
  } else {
    const bool plain = rel <= plain_rounding_ulps * format_of(m.precision).unit_roundoff;
    add_to_group(plain ? -1 : b.cause, rel, destroys);
  }
}

void PrecisionTally::add_to_group(int cause, double rel, bool destroys) {
  const PrecisionCause* c = cause >= 0 ? &model->causes[static_cast<std::size_t>(cause)] : nullptr;
  for (CauseGroup& g : groups)
    if ((c == nullptr && g.cause < 0) ||
        (c && g.cause >= 0 && model->causes[static_cast<std::size_t>(g.cause)].operation == c->operation &&
         model->causes[static_cast<std::size_t>(g.cause)].layer == c->layer)) {
      ++g.entries;
      g.worst = std::max(g.worst, rel);
      g.destroyed += destroys ? 1 : 0;
      if (c && c->digits_kept < model->causes[static_cast<std::size_t>(g.cause)].digits_kept) g.cause = cause;
      return;
    }
  groups.push_back({cause, 1, rel, destroys ? std::size_t{1} : 0});
}

namespace {

double tensor_scale(const VerifyResult& r, const Entry& e) {
  double s = 0;
  if (e.tensor == TensorKind::weights || e.tensor == TensorKind::biases) {
    for (const TensorSummary& t : r.gradients.tensors)
      if (t.layer == e.layer && t.tensor == e.tensor) s = t.max_abs_reference;
    return s;
  }
  for (const Entry& f : r.forward.entries)
    if (f.tensor == e.tensor) s = std::max(s, std::abs(f.numeric));
  return s;
}

// A difference that float64 cannot produce and p produces by plain rounding
// or underflow (no ill-conditioned operation on the way): the fingerprint of
// p itself.
bool corroborates(const PrecisionModel& m64, const EntryBound& b64, const PrecisionModel& m, const EntryBound& b,
                  double claimed, double exact) {
  if (!std::isfinite(claimed) || !std::isfinite(exact) || claimed == exact) return false;
  const double diff = std::abs(claimed - exact);
  if (diff <= m64.kappa * b64.bound + print_error(claimed)) return false;
  const FloatFormat& f = format_of(m.precision);
  // Rounding, or underflow below p's normal range (0 for 1.7e-153 in float32).
  return diff <= plain_rounding_ulps * f.unit_roundoff * std::abs(exact) + f.min_normal ||
         (b.cause < 0 && !b.may_be_non_finite && diff <= m.kappa * b.bound);
}

}  // namespace

std::size_t corroborating(const VerifyContext& ctx, const VerifyResult& r, Precision p) {
  const PrecisionModel& m = model_for(ctx, p);
  const PrecisionModel& m64 = model_for(ctx, Precision::float64);
  std::size_t n = 0;
  for (const auto* entries : {&r.forward.entries, &r.gradients.entries})
    for (const Entry& e : *entries)
      n += corroborates(m64, bound_of(m64, e), m, bound_of(m, e), e.analytic, e.numeric) ? 1 : 0;
  return n;
}

namespace {

bool any_divergent(const std::vector<Entry>& entries) {
  return std::any_of(entries.begin(), entries.end(), [](const Entry& e) { return is_divergent(e.verdict); });
}

}  // namespace

PrecisionTally tally_reply(const VerifyContext& ctx, const VerifyResult& r, Precision p) {
  // A reply that agrees everywhere has nothing to explain: its model (a pass
  // over the case, the largest part of verifying a correct reply) is not built.
  if (!any_divergent(r.forward.entries) && !any_divergent(r.gradients.entries)) return PrecisionTally();
  const PrecisionModel& m = model_for(ctx, p);
  PrecisionTally t(m);
  auto consider = [&](const Entry& e) {
    if (!is_divergent(e.verdict)) return;
    t.add(m, bound_of(m, e), e.analytic, e.numeric, tensor_scale(r, e));
  };
  for (const Entry& e : r.forward.entries) consider(e);
  for (const Entry& e : r.gradients.entries) consider(e);
  return t;
}

std::optional<Precision> forward_within_precision(const VerifyContext& ctx, const VerifyResult& r) {
  if (!ctx.precision->known || r.forward.outputs_shape_problem) return std::nullopt;
  if (!any_divergent(r.forward.entries)) return std::nullopt;
  const Precision p = ctx.precision->known->precision;
  const PrecisionModel& m = model_for(ctx, p);
  PrecisionTally t(m);
  for (const Entry& e : r.forward.entries)
    if (is_divergent(e.verdict)) t.add(m, bound_of(m, e), e.analytic, e.numeric, tensor_scale(r, e));
  return t.entries > 0 && t.within ? std::optional<Precision>(p) : std::nullopt;
}

PrecisionTally precision_between(const VerifyContext& ctx, const Grads& x, const Grads& target) {
  const PrecisionModel& m = model_for(ctx, working_precision(ctx));
  PrecisionTally tally(m);
  for (std::size_t l = 0; l < target.size() && l < x.size(); ++l) {
    if (!ctx.usable.weights[l] || !ctx.usable.biases[l]) continue;
    const double sw = target[l].weights.cwiseAbs().maxCoeff(), sb = target[l].biases.cwiseAbs().maxCoeff();
    for (Index j = 0; j < target[l].weights.rows(); ++j) {
      for (Index i = 0; i < target[l].weights.cols(); ++i)
        tally.add(m, m.weight(l, j, i), x[l].weights(j, i), target[l].weights(j, i), sw);
      tally.add(m, m.bias(l, j), x[l].biases(j), target[l].biases(j), sb);
    }
  }
  return tally;
}

}  // namespace gradcheck::detail

namespace gradcheck::detail {

namespace {

constexpr std::size_t max_precision_notes = 5;

std::string how_known(const PrecisionSource& s) {
  const std::string p = to_string(s.precision);
  switch (s.how) {
    case PrecisionSource::How::stated: return p + ", as the reply states";
    case PrecisionSource::How::given: return p + ", as --precision says";
    case PrecisionSource::How::values:
      return p + ", inferred: all " + std::to_string(s.values) + " nonzero values sent are " + p + " numbers";
    case PrecisionSource::How::program:
      return p + ", inferred: all " + std::to_string(s.values) + " nonzero values in the program's " +
             std::to_string(s.replies) + " replies so far are " + p + " numbers";
    case PrecisionSource::How::differences:
      return p + ", inferred: float64 does not explain the differences, " + p + " does";
    case PrecisionSource::How::assumed: break;
  }
  return p + ", inferred: the differences are within its rounding";
}

const char* argument_name(PrecisionOperation op) {
  switch (op) {
    case PrecisionOperation::sigmoid_derivative:
    case PrecisionOperation::tanh_derivative:
    case PrecisionOperation::log_a:
    case PrecisionOperation::log_one_minus_a:
    case PrecisionOperation::one_minus_a:
    case PrecisionOperation::loss_derivative:
      return "a";
    case PrecisionOperation::softmax_exp:
    case PrecisionOperation::sigmoid:
    case PrecisionOperation::tanh:
      return "z";
    default:
      return "";
  }
}

std::string cause_sentence(const PrecisionCause& c, const std::string& p) {
  const std::string where = "layer " + std::to_string(c.layer) + " unit " + std::to_string(c.unit) +
                            (c.operation == PrecisionOperation::batch_sum ? "" : " sample " + std::to_string(c.sample));
  if (c.operation == PrecisionOperation::overflow)
    return "a value of " + num(c.argument) + " is beyond " + p + "'s largest number at " + where;
  if (c.operation == PrecisionOperation::kink_side)
    return "z = " + num(c.argument) + " (" + where + ") is within " + p +
           "'s rounding error of the kink at 0, so a correct program may take the slope of either side";
  const std::string arg = argument_name(c.operation);
  const std::string what = std::string(to_string(c.operation)) +
                           (arg.empty() ? " = " + num(c.argument) : " with " + arg + " = " + num(c.argument));
  const int digits = static_cast<int>(std::floor(c.digits_kept));
  return what + " in " + p + " (" + where + ") keeps " + (digits <= 0 ? "no" : std::to_string(digits)) +
         " significant digit" + (digits == 1 ? "" : "s");
}

Signature group_note(const PrecisionTally& t, const CauseGroup& g, const PrecisionSource& src) {
  const std::string p = to_string(src.precision);
  Signature s;
  s.kind = BugKind::precision;
  s.severity = g.destroyed > 0 ? Severity::warning : Severity::note;
  const std::string n = std::to_string(g.entries) + (g.entries == 1 ? " value differs" : " values differ");
  s.evidence.push_back({"values explained", static_cast<double>(g.entries)});
  s.evidence.push_back({"largest relative error of those", g.worst});
  s.evidence.push_back({"unit round-off of " + p, format_of(src.precision).unit_roundoff});
  if (g.cause < 0) {
    s.message = n + " by up to " + err(g.worst) + " relative, within " + p + " rounding (" + how_known(src) +
                ") — precision, not logic";
    return s;
  }
  const PrecisionCause& c = t.model->causes[static_cast<std::size_t>(g.cause)];
  s.layers.push_back(c.layer);
  s.evidence.push_back({"digits kept", std::max(0.0, std::floor(c.digits_kept))});
  s.evidence.push_back({"argument", c.argument});
  s.message = cause_sentence(c, p) + ": " + n + " by up to " + err(g.worst) + " relative (" + how_known(src) +
              ") — precision, not logic";
  if (g.destroyed > 0)
    s.message = "precision destroys " + std::to_string(g.destroyed) + " gradient value" +
                (g.destroyed == 1 ? "" : "s") + " (relative error up to 1): " + s.message;
  const std::string fix = stable_form(c.operation);
  if (!fix.empty()) s.fix = fix;
  return s;
}

Signature printed_note(const PrecisionTally& t) {
  Signature s;
  s.kind = BugKind::precision;
  s.severity = Severity::note;
  s.evidence.push_back({"values explained", static_cast<double>(t.printed)});
  s.evidence.push_back({"fewest significant digits printed", static_cast<double>(t.fewest_digits)});
  s.evidence.push_back({"largest relative error of those", t.worst_printed});
  s.message = std::to_string(t.printed) + (t.printed == 1 ? " value differs" : " values differ") + " by up to " +
              err(t.worst_printed) + " relative, within the digits printed (as few as " +
              std::to_string(t.fewest_digits) + " significant digits) — precision, not logic";
  return s;
}

std::vector<Signature> notes_of(const PrecisionTally& t, const PrecisionSource& src) {
  std::vector<CauseGroup> groups = t.groups;
  std::stable_sort(groups.begin(), groups.end(), [](const CauseGroup& a, const CauseGroup& b) {
    return std::make_pair(a.destroyed > 0, a.entries) > std::make_pair(b.destroyed > 0, b.entries);
  });
  std::vector<Signature> out;
  for (const CauseGroup& g : groups) {
    if (out.size() == max_precision_notes) break;
    out.push_back(group_note(t, g, src));
  }
  if (t.printed > 0) out.push_back(printed_note(t));
  return out;
}

// A forward pass sent at full float64 accuracy (every output and the loss
// equal to the reference, or within float64's model, none needing the digits
// printed) rules out a narrower format inferred from the gradients alone: a
// float32 program's forward shows float32's rounding. A bug that scales a
// saturated unit's gradient must not pass as float32's a(1 − a).
// Gradients stored in p (every nonzero one a p number, enough of them) lift
// that: a float64 forward with float32 gradient buffers is mixed precision.
bool forward_at_float64(const VerifyContext& ctx, const VerifyResult& r, Precision p) {
  if (r.forward.entries.empty()) return false;
  const std::vector<double> g = reply_values(ctx.reply, true);
  if (shows_format(g, p)) return false;
  // A forward whose every finite value is a p number (outputs saturated at 1,
  // a loss of inf) says nothing about the format.
  if (std::none_of(r.forward.entries.begin(), r.forward.entries.end(), [p](const Entry& e) {
        return std::isfinite(e.analytic) && round_to(e.analytic, p) != e.analytic;
      }))
    return false;
  // Every forward entry, also those within the precision limit: a float32
  // output agrees with the reference to 1e-8 and is still no float64 number.
  const PrecisionModel& m64 = model_for(ctx, Precision::float64);
  PrecisionTally t(m64);
  for (const Entry& e : r.forward.entries) t.add(m64, bound_of(m64, e), e.analytic, e.numeric, tensor_scale(r, e));
  return t.within && t.printed == 0;
}

// Where a value of the case lies beyond the reply's known format (float16's
// 65504, say) and the reply differs somewhere: a program in that format holds
// ±inf there, so nothing computed from it can be checked. A warning that
// explains every difference; never a divergence.
std::optional<Signature> case_beyond_format(const VerifyContext& ctx, const VerifyResult& r) {
  const PrecisionState& state = *ctx.precision;
  if (!state.known) return std::nullopt;
  const auto differs = [](const Entry& e) { return is_divergent(e.verdict); };
  if (std::none_of(r.gradients.entries.begin(), r.gradients.entries.end(), differs) &&
      std::none_of(r.forward.entries.begin(), r.forward.entries.end(), differs))
    return std::nullopt;
  const FloatFormat& f = format_of(state.known->precision);
  std::size_t beyond = 0;
  double largest = 0;
  std::string first;
  // m(i, j) is named name[j][i] (the case file's order: a sample or a unit per row), name[j] for a vector.
  const auto scan = [&](const std::string& name, const Matrix<double>& m, bool vector) {
    for (Index j = 0; j < m.cols(); ++j)
      for (Index i = 0; i < m.rows(); ++i) {
        const double v = m(i, j);
        if (!std::isfinite(v) || std::abs(v) <= f.max) continue;
        if (beyond++ == 0)
          first = name + "[" + std::to_string(j) + "]" + (vector ? "" : "[" + std::to_string(i) + "]") +
                  " = " + num(v);
        largest = std::max(largest, std::abs(v));
      }
  };
  scan("inputs", ctx.c.inputs, false);
  scan("targets", ctx.c.targets, false);
  for (std::size_t l = 0; l < ctx.c.network.layers.size(); ++l) {
    const auto& layer = ctx.c.network.layers[l];
    scan("layers[" + std::to_string(l) + "].weights", layer.weights.transpose(), false);
    scan("layers[" + std::to_string(l) + "].biases", layer.biases.transpose(), true);
  }
  if (beyond == 0) return std::nullopt;
  const std::string p = to_string(state.known->precision);
  Signature s;
  s.kind = BugKind::precision;
  s.severity = Severity::warning;
  s.evidence.push_back({"values of the case beyond " + p + "'s range", static_cast<double>(beyond)});
  s.evidence.push_back({"largest |value| among them", largest});
  s.evidence.push_back({"largest finite " + p + " number", f.max});
  s.message = std::to_string(beyond) + (beyond == 1 ? " value" : " values") + " of the case " +
              (beyond == 1 ? "lies" : "lie") + " beyond " + p + "'s largest finite number, " + num(f.max) +
              " (first: " + first + "; " + how_known(*state.known) + "): a " + p + " program holds ±inf there, " +
              "so nothing computed from " + (beyond == 1 ? "it" : "them") +
              " can be checked — precision, not logic; the reply's differences are not judged";
  s.fix = "scale the inputs (or parameters) into " + p + "'s range, or compute in a wider format";
  return s;
}

}  // namespace

std::vector<Signature> precision_notes(const VerifyContext& ctx, const VerifyResult& r) {
  if (!r.gradients.findings.empty() || !ctx.usable.all) return {};
  if (auto s = case_beyond_format(ctx, r)) return {*s};
  PrecisionState& state = *ctx.precision;
  if (state.known) {
    const PrecisionTally t = tally_reply(ctx, r, state.known->precision);
      if (!t.within || t.entries == 0) return {};
    return notes_of(t, *state.known);
  }
  for (Precision p : {Precision::float64, Precision::float32}) {
    const PrecisionTally t = tally_reply(ctx, r, p);
    if (t.entries == 0) return {};
    if (!t.within) continue;
    // Every difference at an ill-conditioned operation and none, in any
    // value sent, at p's plain rounding: a bug that scales a saturated unit's
    // gradient looks like that; a program in p shows p's rounding elsewhere,
    // or sends nothing but p numbers (saturated outputs, NaN gradients).
    if (p != Precision::float64 &&
        ((corroborating(ctx, r, p) == 0 && !all_in(reply_values(ctx.reply), p)) || forward_at_float64(ctx, r, p)))
      return {};
    const PrecisionSource src{p, p == Precision::float64 ? PrecisionSource::How::assumed
                                                         : PrecisionSource::How::differences, 0};
    state.known = src;
    return notes_of(t, src);
  }
  return {};
}

}  // namespace gradcheck::detail
