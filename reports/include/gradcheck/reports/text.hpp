#pragma once
// Plain text for a terminal, rendered from the same results as report.json,
// report.md and report.html: what `gradcheck verify`, `check`, `probe` and
// `train` print (docs/verify.md, docs/checks.md, docs/probe.md, docs/watch.md). The verdict is the first
// line; then forward, gradients, origin layer, chain consistency, signatures
// with their evidence, the worst entries and the update effect (verify), or the
// counts, tensors and worst entries (check). Numbers use format_number.
//
//   std::cout << render_verify_text(result, {"case.json", "reply.json"});

#include <gradcheck/gradient/result.hpp>
#include <gradcheck/probe/probe.hpp>
#include <gradcheck/verify/verify.hpp>
#include <gradcheck/watch/watch.hpp>

#include <string>
#include <vector>

namespace gradcheck::reports {

struct TextNames {
  std::string case_name;   // e.g. the case file's path
  std::string reply_name;  // e.g. the reply file's path
};

std::string render_verify_text(const VerifyResult& r, const TextNames& names);
std::string render_check_text(const CheckResult& r, const std::string& case_name);

// `gradcheck probe`: the counts, notes, the minimal counterexample (its files
// named as saved in `directory`) with the commands that replay it, the
// implementation's failures, then PASS or FAIL (notes fail when strict).
struct ProbeTextOptions {
  std::string directory;  // where counterexample.case.json and failure-N.case.json were saved
  bool strict = false;
};
std::string render_probe_text(const ProbeResult& r, const ProbeTextOptions& options);

// `gradcheck train`: the watch's findings, one line each with its fix.
std::string render_watch_text(const watch::Result& r);

// argv as one line that a POSIX shell reads back as the same words.
std::string shell_command(const std::vector<std::string>& argv);

}  // namespace gradcheck::reports
