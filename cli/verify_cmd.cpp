// `gradcheck verify CASE.json REPLY.json`: another implementation's gradients
// against the 50-digit reference, with the analysis of where and why they
// diverge (docs/verify.md).
#include "commands.hpp"
#include "report_options.hpp"

#include <gradcheck/verify/verify.hpp>
#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/errors.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

namespace gradcheck::cli {
namespace {

struct VerifyArgs {
  std::string case_path, reply_path;
  double learning_rate = 1.0;
  double match_tolerance = VerifyOptions{}.match_tolerance;
  std::optional<Precision> precision;
  ReportOptions report;
};

int run_verify(const VerifyArgs& a) {
  prepare_report(a.report);
  const Case c = read_case(a.case_path);  // a bad case is gradcheck's input error: exit 2
  // A reply file that is not there is a usage error; one that cannot be read
  // as a reply is the implementation's failure.
  if (!std::ifstream(a.reply_path))
    throw InputError(a.reply_path, "", std::string("cannot open: ") + std::strerror(errno));
  VerifyOptions options;
  options.learning_rate = a.learning_rate;
  options.match_tolerance = a.match_tolerance;
  options.precision = a.precision;
  VerifyResult r;
  std::optional<Reply> reply;
  try {
    reply = read_reply(a.reply_path);
  } catch (const InputError& e) {
    r = malformed_reply(e.what());
  }
  if (reply) r = verify_reply(c, *reply, options);
  emit_verify(r, c, reply ? &*reply : nullptr, {a.case_path, a.reply_path}, a.report);
  return verify_exit_code(r, a.report.strict);
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  auto* cmd = app.add_subcommand(
      "verify",
      "Check another implementation's gradients (a reply file) against gradcheck's 50-digit reference, and say "
      "where and why they diverge: forward outputs and loss, every gradient entry, the origin layer, a "
      "chain-consistency test of the backward steps, known bug signatures with their evidence, and what one "
      "update step does to the loss. Exit code 0: everything agrees (notes allowed); 1: a divergence, or a "
      "malformed reply; 2: gradcheck's own usage or input error (a bad case file). See docs/verify.md.");
  cmd->add_option("CASE", args->case_path, "The case: network, inputs, targets (JSON, docs/case-format.md)")
      ->required();
  cmd->add_option("REPLY", args->reply_path,
                  "The implementation's reply to the case: {\"layers\": [{\"weights\", \"biases\"}, ...], "
                  "optional \"loss\" and \"outputs\"}, or {\"error\": \"...\"} to decline")
      ->required();
  cmd->add_option("--learning-rate", args->learning_rate,
                  "Step of the update effect θ −= rate·gradient (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--match-tolerance", args->match_tolerance,
                  "Normwise relative distance at which the reply counts as matching a known bug or the chain test "
                  "(default 1e-5: float32 implementations still match)")
      ->check(CLI::PositiveNumber);
  add_precision_option(*cmd, args->precision);
  add_report_options(*cmd, args->report);
  cmd->callback([args, &exit_code] { exit_code = run_verify(*args); });
}

}  // namespace gradcheck::cli
