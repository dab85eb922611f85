// `gradcheck probe [options] -- CMD [ARGS...]`: property-based testing of
// another implementation over JSON lines (docs/probe.md). A thin layer over
// gradcheck::probe: options in, result out, files written, exit code set.
#include "commands.hpp"
#include "report_options.hpp"
#include "stop_signals.hpp"

#include <gradcheck/probe/probe.hpp>
#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/reports/probe_section.hpp>
#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/text.hpp>
#include <gradcheck/reports/write.hpp>

#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace gradcheck::cli {
namespace {

namespace fs = std::filesystem;

struct Args {
  int cases = ProbeOptions{}.cases;
  std::optional<std::uint64_t> seed;
  double timeout_seconds = 10;
  double startup_timeout_seconds = 60;
  std::size_t max_reply_bytes = ProbeOptions{}.max_reply_bytes;
  int max_shrink_steps = ProbeOptions{}.max_shrink_steps;
  int max_failures = ProbeOptions{}.max_failures;
  bool no_determinism = false;
  std::vector<std::string> activations, losses, reductions, magnitudes, layer_types;
  int max_layers = CaseSpace{}.max_layers, max_width = CaseSpace{}.max_width, max_batch = CaseSpace{}.max_batch;
  std::string save_dir;
  std::optional<Precision> precision;
  ReportOptions report;
  std::vector<std::string> command;
};

std::string names_of_activations() {
  std::string s;
  for (Activation a : all_activations) s += std::string(s.empty() ? "" : ", ") + to_string(a);
  return s;
}
std::string names_of_layer_kinds() {
  std::string s;
  for (LayerKind k : all_layer_kinds) s += std::string(s.empty() ? "" : ", ") + to_string(k);
  return s;
}
std::string names_of_losses() {
  std::string s;
  for (Loss l : all_losses) s += std::string(s.empty() ? "" : ", ") + to_string(l);
  return s;
}

const char* to_string_magnitude(Magnitude m) {
  switch (m) {
    case Magnitude::unit: return "unit";
    case Magnitude::tiny: return "tiny";
    case Magnitude::large: return "large";
    case Magnitude::huge: return "huge";
  }
  return "?";
}

template <class T, class Parse>
std::vector<T> parse_list(const std::vector<std::string>& names, const char* option, Parse parse,
                          const std::string& choices) {
  std::vector<T> out;
  for (const auto& n : names) {
    const std::optional<T> v = parse(n);
    if (!v) throw InputError("command line", option, "unknown value '" + n + "' (one of " + choices + ")");
    out.push_back(*v);
  }
  return out;
}

ProbeOptions to_options(const Args& a) {
  ProbeOptions o;
  o.cases = a.cases;
  o.seed = a.seed;
  if (!(a.timeout_seconds > 0) || a.timeout_seconds > 86400)
    throw InputError("command line", "--timeout", "must be between 0 and 86400 seconds");
  o.timeout = std::chrono::milliseconds(static_cast<long long>(std::ceil(a.timeout_seconds * 1000)));
  if (!(a.startup_timeout_seconds >= 0) || a.startup_timeout_seconds > 86400)
    throw InputError("command line", "--startup-timeout", "must be between 0 and 86400 seconds");
  o.startup_timeout = std::chrono::milliseconds(static_cast<long long>(std::ceil(a.startup_timeout_seconds * 1000)));
  o.max_reply_bytes = a.max_reply_bytes;
  o.max_shrink_steps = a.max_shrink_steps;
  o.max_failures = a.max_failures;
  o.check_determinism = !a.no_determinism;
  o.verify.precision = a.precision;
  if (!a.activations.empty())
    o.space.activations = parse_list<Activation>(a.activations, "--activations",
                                                 [](const std::string& s) { return parse_activation(s); },
                                                 names_of_activations());
  if (!a.losses.empty())
    o.space.losses = parse_list<Loss>(a.losses, "--losses", [](const std::string& s) { return parse_loss(s); },
                                      names_of_losses());
  if (!a.reductions.empty())
    o.space.reductions = parse_list<Reduction>(
        a.reductions, "--reductions", [](const std::string& s) { return parse_reduction(s); }, "mean, sum");
  if (!a.magnitudes.empty())
    o.space.magnitudes = parse_list<Magnitude>(
        a.magnitudes, "--magnitudes",
        [](const std::string& s) -> std::optional<Magnitude> {
          for (Magnitude m : {Magnitude::unit, Magnitude::tiny, Magnitude::large, Magnitude::huge})
            if (s == to_string_magnitude(m)) return m;
          return std::nullopt;
        },
        "unit, tiny, large, huge");
  if (!a.layer_types.empty()) {
    o.space.layer_types = parse_list<LayerKind>(
        a.layer_types, "--layer-types", [](const std::string& s) { return parse_layer_kind(s); },
        names_of_layer_kinds());
    if (!allows(o.space, LayerKind::dense))
      throw InputError("command line", "--layer-types", "must include dense (the output layer of a case is dense)");
  }
  o.space.max_layers = a.max_layers;
  o.space.max_width = a.max_width;
  o.space.max_batch = a.max_batch;
  return o;
}

reports::Report make_report(const ProbeResult& r, const Args& a, const fs::path& dir) {
  reports::Report report;
  report.document.title = "gradcheck probe " + reports::shell_command(r.command);
  report.document.facts.rows = {{"command", reports::shell_command(r.command)},
                                {"seed", std::to_string(r.seed)},
                                {"cases", std::to_string(a.cases)}};
  if (r.counterexample) report.document.facts.rows.push_back({"counterexample", (dir / "counterexample.case.json").string()});
  reports::add(report, r, a.report.strict);
  if (r.interrupted) report.mark_interrupted(stop_signal.load() == SIGTERM ? "SIGTERM" : "SIGINT");
  return report;
}

int run(const Args& a) {
  ProbeOptions options = to_options(a);
  prepare_report(a.report);
  StopSignals signals;
  options.interrupt = &stop_flag;
  ProbeResult r;
  try {
    r = probe(a.command, options);
  } catch (const SpawnError& e) {
    throw InputError("command", "", e.what());
  }

  // The counterexample and the failing cases go where the user looks: --save,
  // else next to the report, else the current directory.
  const fs::path dir = !a.save_dir.empty() ? fs::path(a.save_dir)
                       : !a.report.report_dir.empty() ? fs::path(a.report.report_dir)
                                                      : fs::path(".");
  if (r.counterexample || !r.failures.empty()) fs::create_directories(dir);
  if (const auto& cx = r.counterexample) {
    reports::write_file_atomically(dir / "counterexample.case.json", case_to_json(cx->minimal, 2) + "\n");
    reports::write_file_atomically(dir / "counterexample.reply.json", cx->minimal_reply + "\n");
  }
  for (std::size_t i = 0; i < r.failures.size(); ++i)
    reports::write_file_atomically(dir / ("failure-" + std::to_string(i + 1) + ".case.json"),
                                   case_to_json(r.failures[i].input, 2) + "\n");

  const reports::Report report = make_report(r, a, dir);
  if (!a.report.report_dir.empty()) reports::write_report(a.report.report_dir, report);
  if (a.report.format == "json") std::cout << reports::render_json(report);
  else std::cout << reports::render_probe_text(r, {dir.string(), a.report.strict});
  std::cout.flush();

  if (!r.passed(a.report.strict)) return exit_divergence;
  if (r.interrupted) return exit_interrupted_by(stop_signal.load() == SIGTERM ? SIGTERM : SIGINT);
  return exit_ok;
}

}  // namespace

void add_probe_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("probe",
                                 "Probe another implementation: send it random cases as JSON lines, verify every "
                                 "reply, shrink the first divergence to a minimal counterexample (docs/probe.md)");
  cmd->footer(
      "The implementation reads one case per line on stdin and writes one reply per line on stdout;\n"
      "{\"error\": \"...\"} declines a case. Exit codes: 0 all agree (notes allowed), 1 a divergence or a\n"
      "failing implementation, 2 usage or input error, 130 (SIGINT) or 143 (SIGTERM) interrupted with nothing failed so far.\n"
      "Example: gradcheck probe --cases 50 --seed 1 -- python3 examples/python/mlp.py");
  cmd->add_option("--cases", args->cases, "Random cases to send (default 100, at most 100000)");
  cmd->add_option("--seed", args->seed, "Seed of the case generator (default: random, printed for replay)");
  cmd->add_option("--timeout", args->timeout_seconds, "Seconds to wait for each reply before killing it (default 10)");
  cmd->add_option("--startup-timeout", args->startup_timeout_seconds,
                  "Seconds allowed for the first reply after each start, start-up included (default 60)");
  cmd->add_option("--max-reply-bytes", args->max_reply_bytes, "Longest reply line accepted (default 67108864, 64 MiB)");
  cmd->add_option("--max-shrink-steps", args->max_shrink_steps,
                  "Replies requested while shrinking a divergence (default 1000)");
  cmd->add_option("--max-failures", args->max_failures,
                  "Stop after this many implementation failures (crash, timeout, ...; default 5)");
  cmd->add_flag("--no-determinism", args->no_determinism, "Do not send each case twice");
  // The lists take one argument each (comma-separated, or the option repeated):
  // a list option that took every argument up to `--` would make `--` end only
  // the list, and the command's own options would be read as gradcheck's.
  cmd->add_option("--activations", args->activations, "Only these activations (comma-separated; " + names_of_activations() + ")")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--losses", args->losses, "Only these losses (comma-separated; " + names_of_losses() + ")")->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--reductions", args->reductions, "Only these reductions (mean, sum)")->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--magnitudes", args->magnitudes,
                  "Only these magnitudes of weights and inputs (unit ±2, tiny ±1e-6, large ±30, huge ±1000)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--layer-types", args->layer_types,
                  "Kinds of layer the cases may hold (comma-separated; " + names_of_layer_kinds() +
                      "; default dense; must include dense)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--max-layers", args->max_layers, "At most this many layers with weights (default 5)");
  cmd->add_option("--max-width", args->max_width, "At most this many inputs/units per layer (default 8)");
  cmd->add_option("--max-batch", args->max_batch, "At most this many samples per case (default 8)");
  cmd->add_option("--save", args->save_dir,
                  "Directory for counterexample.case.json, counterexample.reply.json and failure-N.case.json "
                  "(default: the --report directory, else the current directory)");
  add_precision_option(*cmd, args->precision);
  add_report_options(*cmd, args->report);
  cmd->add_option("command", args->command, "The implementation to probe, after --")->required();
  cmd->callback([args, &exit_code] { exit_code = run(*args); });
}

}  // namespace gradcheck::cli
