// `gradcheck check CASE.json`: gradcheck's own engine gradients on a case
// against the ground truth (docs/cli.md). Mostly a test of gradcheck itself,
// and the quickest way to see the comparison rule and the kink handling at work.
#include "commands.hpp"
#include "report_options.hpp"

#include <gradcheck/gradient/network_check.hpp>
#include <gradcheck/engine/case_format.hpp>

#include <iostream>
#include <map>
#include <memory>

namespace gradcheck::cli {
namespace {

struct CheckArgs {
  std::string case_path;
  Method method = Method::multiprecision;
  Mode mode = Mode::full;
  double relative_step = 0;
  std::uint64_t seed = 1;
  unsigned threads = 0;
  bool input_gradients = false;
  double atol = -1, rtol = -1;
  ReportOptions report;
};

int run_check(const CheckArgs& a) {
  prepare_report(a.report);
  const Case c = read_case(a.case_path);
  CheckOptions o;
  o.method = a.method;
  o.mode = a.mode;
  o.relative_step = a.relative_step;
  o.seed = a.seed;
  o.threads = a.threads;
  o.input_gradients = a.input_gradients;
  o.reference.seed = a.seed;
  if (a.atol >= 0 || a.rtol >= 0) o.tolerances = Tolerances::fixed(std::max(a.atol, 0.0), std::max(a.rtol, 0.0));
  const CheckResult r = check_network(c, o);
  emit_check(r, c, a.case_path, a.report);
  return check_exit_code(r, a.report.strict);
}

}  // namespace

void add_check_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CheckArgs>();
  auto* cmd = app.add_subcommand(
      "check",
      "Check gradcheck's own engine gradients on a case against the ground truth (by default the 50-digit "
      "analytic backward, cross-checked by 50-digit central differences), entry by entry with the comparison "
      "rule of docs/comparison-rule.md. Exit code 0: every entry agrees (inconclusive entries at a relu or max-pool kink "
      "allowed); 1: a disagreement; 2: a usage or input error.");
  cmd->add_option("CASE", args->case_path, "The case: network, inputs, targets (JSON, docs/case-format.md)")
      ->required();
  const std::map<std::string, Method> methods{{"multiprecision", Method::multiprecision},
                                              {"central", Method::central},
                                              {"ridders", Method::ridders},
                                              {"complex-step", Method::complex_step}};
  cmd->add_option("--method", args->method,
                  "Reference: multiprecision (default, 50 digits), central, ridders or complex-step")
      ->transform(CLI::CheckedTransformer(methods));
  const std::map<std::string, Mode> modes{{"full", Mode::full}, {"fast", Mode::fast}};
  cmd->add_option("--mode", args->mode,
                  "full (default): every entry; fast: random directions per tensor, per-entry only where one "
                  "disagrees")
      ->transform(CLI::CheckedTransformer(modes));
  cmd->add_option("--relative-step", args->relative_step,
                  "Finite-difference step h = step·max(|θ|, 1); default: the method's own");
  cmd->add_option("--seed", args->seed, "Seed of fast mode's directions and the reference's sample (default 1)");
  cmd->add_option("--threads", args->threads, "Threads for the full check (default 0: every core)");
  cmd->add_flag("--input-gradients", args->input_gradients, "Also check dL/d(inputs)");
  cmd->add_option("--atol", args->atol,
                  "Fixed tolerances |a − r| ≤ atol + rtol·|r| (torch's rule) instead of the derived ones");
  cmd->add_option("--rtol", args->rtol, "See --atol");
  add_report_options(*cmd, args->report);
  cmd->callback([args, &exit_code] { exit_code = run_check(*args); });
}

}  // namespace gradcheck::cli
