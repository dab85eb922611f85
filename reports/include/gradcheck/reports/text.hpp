#pragma once
// Plain text for a terminal, rendered from the same results as report.json,
// report.md and report.html: what `gradcheck verify` and `gradcheck check`
// print (docs/verify.md and docs/checks.md show it). The verdict is the first
// line; then forward, gradients, origin layer, chain consistency, signatures
// with their evidence, the worst entries and the update effect (verify), or the
// counts, tensors and worst entries (check). Numbers use format_number.
//
//   std::cout << render_verify_text(result, {"case.json", "reply.json"});

#include <gradcheck/gradient/result.hpp>
#include <gradcheck/verify/verify.hpp>

#include <string>

namespace gradcheck::reports {

struct TextNames {
  std::string case_name;   // e.g. the case file's path
  std::string reply_name;  // e.g. the reply file's path
};

std::string render_verify_text(const VerifyResult& r, const TextNames& names);
std::string render_check_text(const CheckResult& r, const std::string& case_name);

}  // namespace gradcheck::reports
