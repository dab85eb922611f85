// `gradcheck fd [options] -- CMD [ARGS...]`: a program's gradient against
// finite differences of its own loss, over JSON lines (docs/fd.md). A thin
// layer over gradcheck::fd: options in, result out, files written, exit code set.
#include "commands.hpp"
#include "report_options.hpp"
#include "stop_signals.hpp"

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/probe/fd.hpp>
#include <gradcheck/reports/fd_section.hpp>
#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/text.hpp>
#include <gradcheck/reports/write.hpp>

#include <unistd.h>

#include <cmath>
#include <iostream>
#include <memory>

namespace gradcheck::cli {
namespace {

struct Args {
  std::string mode = "full";
  int directions = FdOptions{}.directions;
  double timeout_seconds = 60;
  double startup_timeout_seconds = 60;
  std::size_t max_reply_bytes = FdProgramOptions{}.max_reply_bytes;
  std::size_t points_per_request = FdOptions{}.max_points_per_request;
  double max_error_fraction = FdOptions{}.max_error_fraction;
  std::uint64_t seed = FdOptions{}.seed;
  ReportOptions report;
  std::vector<std::string> command;
};

std::chrono::milliseconds seconds(double s, const char* option) {
  if (!(s > 0) || s > 86400) throw InputError("command line", option, "must be between 0 and 86400 seconds");
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(s * 1000)));
}

int run(const Args& a) {
  FdOptions options;
  options.mode = a.mode == "fast" ? FdMode::fast : FdMode::full;
  if (a.directions < 1 || a.directions > 1000) throw InputError("command line", "--directions", "must be between 1 and 1000");
  options.directions = a.directions;
  options.max_points_per_request = a.points_per_request;
  if (a.points_per_request < 1 || a.points_per_request > 1000000)
    throw InputError("command line", "--points-per-request", "must be between 1 and 1000000");
  if (!(a.max_error_fraction > 0) || a.max_error_fraction > 1)
    throw InputError("command line", "--max-error-fraction", "must be in (0, 1]");
  options.max_error_fraction = a.max_error_fraction;
  options.seed = a.seed;
  FdProgramOptions program;
  program.timeout = seconds(a.timeout_seconds, "--timeout");
  program.startup_timeout = seconds(a.startup_timeout_seconds, "--startup-timeout");
  program.max_reply_bytes = a.max_reply_bytes;
  prepare_report(a.report);
  StopSignals signals;
  program.interrupt = &stop_flag;
  // A terminal sees one self-rewriting progress line; CI's logs see nothing.
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  if (terminal)
    program.progress = [](std::size_t evaluations, std::size_t entries) {
      std::cerr << "\rgradcheck fd: " << evaluations << " losses evaluated for " << entries << " entries" << std::flush;
    };
  const auto erase_progress = [terminal] {
    if (terminal) std::cerr << "\r\033[K" << std::flush;
  };
  FdResult r;
  try {
    r = fd(a.command, options, program);
  } catch (const SpawnError& e) {
    erase_progress();
    throw InputError("command", "", e.what());
  } catch (const FdProgramError& e) {
    erase_progress();
    throw InputError("", "", e.what());  // one line, exit 2: the program did not follow the protocol
  }
  erase_progress();
  const std::string by = stop_signal.load() == SIGTERM ? "SIGTERM" : "SIGINT";
  reports::Report report;
  report.document.title = "gradcheck fd " + reports::shell_command(r.command);
  report.document.facts.rows = {{"command", reports::shell_command(r.command)}};
  reports::add(report, r, a.report.strict);
  if (r.interrupted) report.mark_interrupted(by);
  if (!a.report.report_dir.empty()) reports::write_report(a.report.report_dir, report);
  if (a.report.format == "json") std::cout << reports::render_json(report);
  else std::cout << reports::render_fd_text(r, a.report.strict);
  std::cout.flush();
  if (!r.passed(a.report.strict)) return exit_divergence;
  if (r.interrupted) return exit_interrupted_by(by == "SIGTERM" ? SIGTERM : SIGINT);
  return exit_ok;
}

}  // namespace

void add_fd_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("fd",
                                 "Check a program's gradient against finite differences of its own loss, over JSON "
                                 "lines: any architecture, any language (docs/fd.md)");
  cmd->footer(
      "The program answers describe, gradient and loss requests, one JSON line each (docs/fd.md).\n"
      "Exit codes: 0 every entry agrees (inconclusive entries allowed unless --strict), 1 a divergence, a\n"
      "non-finite entry or a nondeterministic loss, 2 usage error or a program that broke the protocol\n"
      "(died, hung, garbage, shapes unlike its description), 130/143 interrupted.\n"
      "Example: gradcheck fd -- python3 examples/python/fd_dense.py --bug sign");
  cmd->add_option("--mode", args->mode,
                  "full: every entry on its own (default); fast: random directions per tensor, bisection in a "
                  "failing one down to its wrong entries")
      ->check(CLI::IsMember({"full", "fast"}));
  cmd->add_option("--directions", args->directions,
                  "Fast mode: random directions per tensor (default 8; a wrong tensor escapes all with probability "
                  "<= 0.08^k)");
  cmd->add_option("--timeout", args->timeout_seconds, "Seconds to wait for each reply before killing the program (default 60)");
  cmd->add_option("--startup-timeout", args->startup_timeout_seconds,
                  "Seconds allowed for the first reply, start-up included (default 60)");
  cmd->add_option("--max-reply-bytes", args->max_reply_bytes, "Longest reply line accepted (default 67108864, 64 MiB)");
  cmd->add_option("--points-per-request", args->points_per_request, "Loss evaluations per request line (default 1024)");
  cmd->add_option("--max-error-fraction", args->max_error_fraction,
                  "An entry whose error bar exceeds this fraction of its scale is inconclusive-noise (default 0.01)");
  cmd->add_option("--seed", args->seed, "Seed of the noise measurement's random directions (default 1)");
  add_report_options(*cmd, args->report);
  cmd->add_option("command", args->command, "The program, after --")->required();
  cmd->callback([args, &exit_code] { exit_code = run(*args); });
}

}  // namespace gradcheck::cli
