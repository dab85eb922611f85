// Report adapter and terminal text of `gradcheck fd` (fd_section.hpp).
#include <gradcheck/reports/fd_section.hpp>

#include "detail/text.hpp"

#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/text.hpp>

#include <cmath>
#include <sstream>
#include <string>

namespace gradcheck::reports {
namespace {

Verdict colour(FdVerdict v) {
  switch (v) {
    case FdVerdict::agree: return Verdict::agree;
    case FdVerdict::disagree: return Verdict::disagree;
    case FdVerdict::inconclusive_kink:
    case FdVerdict::inconclusive_noise: return Verdict::inconclusive_kink;
    case FdVerdict::non_finite: return Verdict::non_finite;
  }
  return Verdict::none;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (std::size_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// The verdict line: what the run says, first word decides.
std::string verdict_line(const FdResult& r, bool strict) {
  const std::size_t kink = r.count(FdVerdict::inconclusive_kink), noise = r.count(FdVerdict::inconclusive_noise);
  const std::size_t bad = r.count(FdVerdict::disagree) + r.count(FdVerdict::non_finite);
  const bool undecided = bad == 0 && noise > 0;
  std::string inconclusive;
  if (kink) inconclusive += std::to_string(kink) + " inconclusive at a kink";
  if (noise) inconclusive += (inconclusive.empty() ? "" : ", ") + std::to_string(noise) + " inconclusive from noise";
  const bool kink_fails = strict && kink > 0;
  std::size_t directions = 0;
  for (const FdTensor& t : r.tensors) directions += static_cast<std::size_t>(t.directions_disagree + t.directions_undecided);
  if (r.interrupted) return "INTERRUPTED: the run was cut short; no entry is reported as decided";
  std::string line;
  if (!r.noise.deterministic) line += "NONDETERMINISTIC: the loss at the described values took different values; ";
  if (bad) line += "DIVERGES: " + std::to_string(bad) + (bad == 1 ? " entry disagrees" : " entries disagree");
  else if (directions) line += "DIVERGES: " + std::to_string(directions) + " random directions disagree or stay undecided";
  else if (undecided) line += "UNDECIDED: the loss is too noisy to check " + std::to_string(noise) + " entries";
  else if (r.noise.deterministic) line += "AGREE";
  if (!inconclusive.empty()) line += " (" + inconclusive + (kink_fails ? "; kinks fail with --strict)" : ")");
  return line;
}

nlohmann::json entry_json(const FdResult& r, const FdEntry& e) {
  return {{"name", fd_entry_name(r, e)},         {"parameter", r.tensors.at(e.param).name},
          {"index", e.index},                      {"value", json_number(e.value)},
          {"analytic", json_number(e.analytic)},   {"numeric", json_number(e.numeric)},
          {"error", json_number(e.error)},         {"step", json_number(e.step)},
          {"forward", json_number(e.forward)},     {"backward", json_number(e.backward)},
          {"relative_error", json_number(e.relative_error)}, {"tolerance", json_number(e.tolerance)},
          {"evaluations", e.evaluations},          {"refined", e.refined},
          {"verdict", to_string(e.verdict)}};
}

Table tensor_table(const FdResult& r) {
  Table t;
  t.caption = "Tensors";
  t.header = {"tensor", "shape", "entries", "agree", "disagree", "kink", "noise", "non-finite", "worst rel. error"};
  const bool fast = r.mode == FdMode::fast;
  if (fast) t.header.insert(t.header.begin() + 3, {"directions", "checked alone"});
  for (const FdTensor& x : r.tensors) {
    const Verdict v = x.directions_disagree ? Verdict::disagree : colour(x.verdict());
    std::vector<Cell> row{Cell(x.name, v), shape_text(x.shape), Cell::number(double(x.size))};
    if (fast) {
      const int agreed = x.directions - x.directions_disagree - x.directions_undecided;
      row.push_back(Cell(std::to_string(agreed) + "/" + std::to_string(x.directions) + " agree",
                         x.directions_disagree ? Verdict::disagree : Verdict::none));
      row.push_back(Cell::number(double(x.entries.size())));
    }
    for (const Cell& c : {Cell::number(double(x.agree)), Cell::number(double(x.disagree)), Cell::number(double(x.kink)),
                          Cell::number(double(x.noise)), Cell::number(double(x.non_finite)),
                          Cell::number(x.worst_relative_error, 3, colour(x.verdict()))})
      row.push_back(c);
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table worst_table(const FdResult& r) {
  Table t;
  t.caption = "Worst entries";
  t.header = {"entry", "analytic", "finite difference", "± error", "step", "relative error", "verdict"};
  for (const FdEntry& e : r.worst)
    t.rows.push_back({fd_entry_name(r, e), Cell::number(e.analytic), Cell::number(e.numeric), Cell::number(e.error, 2),
                      Cell::number(e.step, 2), Cell::number(e.relative_error, 3),
                      Cell(to_string(e.verdict), colour(e.verdict))});
  return t;
}

KeyValues run_facts(const FdResult& r) {
  KeyValues k;
  k.caption = "Run";
  k.rows = {{"command", shell_command(r.command)},
            {"loss", format_number(r.noise.base_loss) + " (the gradient request's: " + format_number(r.gradient_loss) + ")"},
            {"forward noise", format_number(r.noise.noise, 3) + " (" + format_number(r.noise.relative, 3) + " relative)"},
            {"determinism", r.noise.deterministic ? std::to_string(r.noise.repeats.size()) + " repeats, bitwise equal"
                                                  : "different values at the same point, spread " + format_number(r.noise.spread, 3)},
            {"evaluations", std::to_string(r.evaluations) + " losses in " + std::to_string(r.requests) + " requests"},
            {"time", format_number(r.elapsed_seconds, 3) + " s"}};
  if (r.description.precision) k.rows.push_back({"precision", to_string(*r.description.precision)});
  return k;
}

}  // namespace

std::string fd_entry_name(const FdResult& r, const FdEntry& e) {
  const FdTensor& t = r.tensors.at(e.param);
  std::string idx;
  std::size_t rest = e.index;
  for (std::size_t d = t.shape.size(); d-- > 0;) {
    idx = "[" + std::to_string(rest % t.shape[d]) + "]" + idx;
    rest /= t.shape[d];
  }
  return t.name + idx;
}

Section fd_section(const FdResult& r, bool strict) {
  Section s;
  s.heading = "Finite differences: " + shell_command(r.command);
  s.status = r.passed(strict) ? (r.passed(true) ? Status::pass : Status::notes) : Status::fail;
  s.summary = verdict_line(r, strict);
  s.add(Paragraph{r.passed(strict) ? Severity::info : Severity::error, s.summary});
  if (!r.noise.gradient_loss_matches)
    s.add(Paragraph{Severity::warning, "The gradient request's loss " + format_number(r.gradient_loss, 17) +
                                           " differs from the loss at the described values " +
                                           format_number(r.noise.base_loss, 17) +
                                           ": the program's two paths compute different losses."});
  s.add(run_facts(r));
  s.add(tensor_table(r));
  for (const FdSignature& g : r.signatures) s.add(Paragraph{Severity::error, g.kind + ": " + g.message});
  if (!r.worst.empty()) s.add(worst_table(r));
  BarChart chart;
  chart.title = "Worst relative error per tensor";
  chart.log_scale = true;
  for (const FdTensor& t : r.tensors) {
    chart.labels.push_back(t.name);
    chart.values.push_back(t.worst_relative_error);
    chart.verdicts.push_back(colour(t.verdict()));
  }
  s.add(std::move(chart));
  for (const FdTensor& t : r.tensors) {
    const bool fails = t.disagree + t.non_finite > 0;
    std::string details;
    for (const FdEntry& e : r.worst)
      if (e.param < r.tensors.size() && r.tensors[e.param].name == t.name)
        details += fd_entry_name(r, e) + ": analytic " + format_number(e.analytic) + ", finite difference " +
                   format_number(e.numeric) + " ± " + format_number(e.error, 2) + " (" + to_string(e.verdict) + ")\n";
    s.testcases.push_back({"fd", t.name, fails ? Outcome::fail : Outcome::pass,
                           fails ? std::to_string(t.disagree + t.non_finite) + " entries disagree, worst relative error " +
                                       format_number(t.worst_relative_error, 3)
                                 : "",
                           fails ? details : "", 0});
  }
  s.testcases.push_back({"fd", "determinism", r.noise.deterministic ? Outcome::pass : Outcome::fail,
                         r.noise.deterministic ? "" : "the same point gave different losses", "", 0});
  return s;
}

nlohmann::json to_json(const FdResult& r) {
  nlohmann::json params = nlohmann::json::array(), tensors = nlohmann::json::array(), worst = nlohmann::json::array(),
                 signatures = nlohmann::json::array(), repeats = nlohmann::json::array();
  for (const FdParameter& p : r.description.parameters) params.push_back({{"name", p.name}, {"shape", p.shape}});
  for (const FdTensor& t : r.tensors) {
    nlohmann::json entries = nlohmann::json::array();
    for (const FdEntry& e : t.entries)
      if (e.verdict != FdVerdict::agree) entries.push_back(entry_json(r, e));
    tensors.push_back({{"name", t.name}, {"shape", t.shape}, {"size", t.size}, {"entries_checked", t.entries.size()},
                       {"directions", t.directions}, {"directions_disagree", t.directions_disagree},
                       {"directions_undecided", t.directions_undecided},
                       {"miss_probability", json_number(t.miss_probability)},
                       {"search_evaluations", t.search_evaluations},
                       {"agree", t.agree}, {"disagree", t.disagree}, {"inconclusive_kink", t.kink},
                       {"inconclusive_noise", t.noise}, {"non_finite", t.non_finite},
                       {"worst_relative_error", json_number(t.worst_relative_error)},
                       {"verdict", to_string(t.verdict())}, {"entries", std::move(entries)}});
  }
  for (const FdEntry& e : r.worst) worst.push_back(entry_json(r, e));
  for (const FdSignature& g : r.signatures)
    signatures.push_back({{"kind", g.kind}, {"tensor", g.tensor}, {"factor", json_number(g.factor)}, {"message", g.message}});
  for (double v : r.noise.repeats) repeats.push_back(json_number(v));
  return {{"type", "fd"},
          {"mode", r.mode == FdMode::fast ? "fast" : "full"},
          {"command", r.command},
          {"parameters", std::move(params)},
          {"precision", r.description.precision ? nlohmann::json(to_string(*r.description.precision)) : nlohmann::json(nullptr)},
          {"gradient_loss", json_number(r.gradient_loss)},
          {"noise", {{"base_loss", json_number(r.noise.base_loss)}, {"repeats", std::move(repeats)},
                     {"deterministic", r.noise.deterministic}, {"spread", json_number(r.noise.spread)},
                     {"tiny_step_noise", json_number(r.noise.tiny_step_noise)}, {"noise", json_number(r.noise.noise)},
                     {"relative", json_number(r.noise.relative)},
                     {"gradient_loss_matches", r.noise.gradient_loss_matches}}},
          {"tensors", std::move(tensors)},
          {"worst", std::move(worst)},
          {"signatures", std::move(signatures)},
          {"evaluations", r.evaluations},
          {"requests", r.requests},
          {"elapsed_seconds", r.elapsed_seconds},
          {"interrupted", r.interrupted},
          {"passed", r.passed(false)},
          {"passed_strict", r.passed(true)}};
}

void add(Report& report, const FdResult& r, bool strict) {
  report.add_section(fd_section(r, strict));
  report.add_result(to_json(r));
}

std::string render_fd_text(const FdResult& r, bool strict) {
  std::ostringstream o;
  o << "gradcheck fd: " << shell_command(r.command) << "\n";
  std::size_t entries = 0;
  for (const FdTensor& t : r.tensors) entries += t.size;
  o << "parameters: " << r.tensors.size() << " tensors, " << entries << " entries; loss " << format_number(r.noise.base_loss)
    << "; forward noise " << format_number(r.noise.noise, 3) << " (" << format_number(r.noise.relative, 3) << " relative"
    << (r.noise.deterministic ? ", deterministic" : ", NONDETERMINISTIC: spread " + format_number(r.noise.spread, 3)) << ")\n";
  if (!r.noise.gradient_loss_matches)
    o << "warning: the gradient request's loss " << format_number(r.gradient_loss, 17)
      << " differs from the loss at the described values " << format_number(r.noise.base_loss, 17)
      << ": the program's two paths compute different losses\n";
  o << "evaluations: " << r.evaluations << " losses in " << r.requests << " requests; "
    << format_number(r.elapsed_seconds, 3) << " s\n";
  if (r.mode == FdMode::fast && !r.tensors.empty())
    o << "fast mode: " << r.tensors.front().directions << " random directions per tensor; a tensor that agrees along all of them is wrong "
      << "with probability <= " << format_number(r.tensors.front().miss_probability, 2)
      << " (for an error >= 10x the tolerance along a direction); failing tensors bisected to their entries\n";
  o << "\n";
  const Table t = tensor_table(r);
  std::vector<std::size_t> width(t.header.size());
  for (std::size_t c = 0; c < t.header.size(); ++c) {
    width[c] = t.header[c].size();
    for (const auto& row : t.rows) width[c] = std::max(width[c], row[c].text.size());
  }
  for (std::size_t c = 0; c < t.header.size(); ++c) o << (c ? "  " : "  ") << detail::left(t.header[c], width[c]);
  o << "\n";
  for (const auto& row : t.rows) {
    for (std::size_t c = 0; c < row.size(); ++c)
      o << "  " << (c < 2 ? detail::left(row[c].text, width[c]) : detail::right(row[c].text, width[c]));
    o << "\n";
  }
  bool header = false;
  for (const FdEntry& e : r.worst) {
    if (e.verdict == FdVerdict::agree) continue;
    if (!header) o << "\nworst entries:\n";
    header = true;
    o << "  " << fd_entry_name(r, e) << ": " << to_string(e.verdict) << ": analytic " << format_number(e.analytic)
      << ", finite difference " << format_number(e.numeric) << " ± " << format_number(e.error, 2);
    if (e.verdict == FdVerdict::inconclusive_kink)
      o << " (left " << format_number(e.backward) << ", right " << format_number(e.forward) << ": a kink)";
    else if (std::isfinite(e.relative_error)) o << " (relative error " << format_number(e.relative_error, 3) << ")";
    o << "\n";
  }
  if (!r.signatures.empty()) o << "\nsignatures:\n";
  for (const FdSignature& g : r.signatures) o << "  - " << g.kind << ": " << g.message << "\n";
  o << "\n" << verdict_line(r, strict) << "\n";
  return o.str();
}

}  // namespace gradcheck::reports
