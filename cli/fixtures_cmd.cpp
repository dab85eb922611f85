// `gradcheck fixtures [NAME...] [--quick] [--report DIR]`: runs the documented
// cases (docs/fixtures.md), checks each against its documented numbers, writes
// one report with a section per fixture and prints a plain summary.
// Exit: 0 every fixture reproduced its numbers, 1 one did not, 2 one could not
// run (its data missing) or a usage error; 130 interrupted (the report holds
// what finished).
#include "commands.hpp"

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/fixtures/catalogue.hpp>
#include <gradcheck/fixtures/sections.hpp>
#include <gradcheck/reports/write.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

namespace gradcheck::cli {
namespace {

struct FixturesArgs {
  std::vector<std::string> names;
  bool quick = false;
  bool list = false;
  std::string report = "gradcheck-report";
  std::string data;
};

std::atomic<bool> interrupted{false};
extern "C" void on_sigint(int) { interrupted = true; }

// Thrown from the progress callback, between two stages of a fixture.
struct Interrupted {};

struct Outcome {
  std::string name;
  bool ran = false, reproduced = false;
  std::size_t claims = 0, holding = 0;
  double seconds = 0;
  std::string error;
};

void run_one(const std::string& name, const fixtures::Options& options, reports::Report& report, Outcome& o) {
  fixtures::FixtureRun r = fixtures::find_fixture(name)->run(options);
  report.add_section(std::move(r.section));
  report.add_result(std::move(r.json));
  o.ran = true;
  o.reproduced = fixtures::reproduced(r.claims);
  o.claims = r.claims.size();
  for (const auto& c : r.claims) o.holding += c.holds();
  o.seconds = r.seconds;
}

// "321 signed-char relu-nan ...", in the catalogue's order.
std::string known_names(const char* separator) {
  std::string known;
  for (const auto& k : fixtures::catalogue()) known += (known.empty() ? "" : separator) + k.name;
  return known;
}

// The fixtures to run: all, or the named ones in the documentation's order.
std::vector<std::string> selected(const std::vector<std::string>& requested) {
  std::vector<std::string> names;
  if (requested.empty()) {
    for (const auto& f : fixtures::catalogue()) names.push_back(f.name);
    return names;
  }
  for (const auto& n : requested) {
    const fixtures::FixtureInfo* f = fixtures::find_fixture(n);
    if (!f) throw InputError("", "fixtures", "no fixture named '" + n + "' (known: " + known_names(", ") + ")");
    if (std::find(names.begin(), names.end(), f->name) == names.end()) names.push_back(f->name);
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return fixtures::find_fixture(a)->number < fixtures::find_fixture(b)->number;
  });
  return names;
}

fixtures::Options fixture_options(const FixturesArgs& args, bool tty) {
  fixtures::Options options;
  options.quick = args.quick;
  options.fashion_mnist_dir = args.data;
  options.progress = [tty](const std::string& line) {
    if (interrupted) throw Interrupted{};
    // On a terminal one line that rewrites itself; in CI one line per stage.
    if (tty) std::fprintf(stderr, "\r\033[K  %s", line.c_str());
    else std::fprintf(stderr, "  %s\n", line.c_str());
  };
  return options;
}

// Runs one fixture into the report (an error section when it cannot run) and
// prints its line.
Outcome run_and_print(const std::string& name, const fixtures::Options& options, reports::Report& report, bool tty) {
  Outcome o;
  o.name = name;
  try {
    run_one(name, options, report, o);
  } catch (const std::exception& e) {
    o.error = e.what();
    fixtures::add_fixture_error(report, name, o.error);
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (!o.error.empty())
    std::printf("  %-18s could not run: %s\n", name.c_str(), o.error.c_str());
  else
    std::printf("  %-18s %-15s %zu/%zu claims hold   %7.1f s\n", name.c_str(),
                o.reproduced ? "reproduced" : "NOT reproduced", o.holding, o.claims, o.seconds);
  std::fflush(stdout);
  return o;
}

// The closing lines and the exit code: 130 interrupted, 2 a fixture could not
// run, 1 one did not reproduce, 0 all did.
int conclude(const std::vector<Outcome>& outcomes, std::size_t selected_count, double total,
             const reports::WrittenReport& written) {
  std::size_t reproduced = 0, errors = 0;
  for (const auto& o : outcomes) {
    reproduced += o.ran && o.reproduced;
    errors += !o.error.empty();
  }
  std::printf("%zu of %zu reproduced their documented numbers (%.0f s)%s\n", reproduced, selected_count, total,
              interrupted ? "; interrupted" : "");
  std::printf("report: %s (also report.md, report.json, junit.xml)\n", written.html.string().c_str());
  if (interrupted) return 130;
  if (errors) return exit_usage;
  return reproduced == selected_count ? exit_ok : exit_divergence;
}

int run(const FixturesArgs& args) {
  if (args.list) {
    for (const auto& f : fixtures::catalogue()) std::printf("%d  %-18s %s\n", f.number, f.name.c_str(), f.title.c_str());
    return exit_ok;
  }
  const std::vector<std::string> names = selected(args.names);
  reports::prepare_report_dir(args.report);
  const bool tty = isatty(fileno(stderr));
  const fixtures::Options options = fixture_options(args, tty);
  reports::Report report;
  report.document.title = std::string("gradcheck fixtures") + (args.quick ? " --quick" : "");
  report.document.facts.rows = {{"variant", args.quick ? "quick (the tests' variant)" : "full"},
                                {"fixtures", std::to_string(names.size())},
                                {"Fashion-MNIST", fixtures::fashion_mnist_dir(options)}};
  const auto previous = std::signal(SIGINT, on_sigint);
  const auto start = std::chrono::steady_clock::now();
  std::vector<Outcome> outcomes;
  std::printf("gradcheck fixtures: %zu fixture%s (%s)\n", names.size(), names.size() == 1 ? "" : "s",
              args.quick ? "quick" : "full run");
  std::fflush(stdout);
  try {
    for (const auto& name : names) {
      outcomes.push_back(run_and_print(name, options, report, tty));
      if (interrupted) break;
    }
  } catch (const Interrupted&) {
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  std::signal(SIGINT, previous);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.document.facts.rows.push_back({"wall time", std::to_string(static_cast<int>(total + 0.5)) + " s"});
  if (interrupted) report.mark_interrupted("SIGINT");
  return conclude(outcomes, names.size(), total, reports::write_report(args.report, report));
}

}  // namespace

void add_fixtures_command(CLI::App& app, int& exit_code) {
  static FixturesArgs args;
  auto* cmd = app.add_subcommand("fixtures",
                                 "Run the documented cases (docs/fixtures.md), check their numbers, write one report");
  cmd->add_option("NAME", args.names, "Fixtures to run, by name (default: all): " + known_names(" "));
  cmd->add_flag("--quick", args.quick, "The tests' variant: fewer images, epochs and seeds (seconds, not minutes)");
  cmd->add_option("--report", args.report, "Directory for report.json, report.md, report.html and junit.xml")
      ->capture_default_str();
  cmd->add_option("--data", args.data,
                  "Fashion-MNIST's directory (default: $GRADCHECK_FASHION_MNIST, else /usr/share/datasets/fashion-mnist)");
  cmd->add_flag("--list", args.list, "List the fixtures and exit");
  cmd->footer("Exit status: 0 every fixture reproduced its documented numbers, 1 one did not, 2 one could not run or "
              "bad usage, 130 interrupted (the report holds what finished).");
  cmd->callback([&exit_code] { exit_code = run(args); });
}

}  // namespace gradcheck::cli
