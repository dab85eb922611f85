#pragma once
// What every reporting command (check, verify, probe, train, fixtures) shares:
//   --report DIR     write report.json, report.md, report.html and junit.xml into DIR
//   --format FORMAT  standard output as `text` (default, for people) or `json`
//                    (the document report.json holds)
//   --strict         notes (float32-level precision, a relu'(0) convention at an
//                    exact kink) fail like divergences
// plus the plain-text rendering of results for standard output.
//
// How a command uses it:
//   ReportOptions ro;
//   add_report_options(*cmd, ro);
//   ... run the check ...
//   print_verify_text(std::cout, result, {case_path, reply_path});
//   return verify_exit_code(result, ro.strict);

#include <gradcheck/gradient/result.hpp>
#include <gradcheck/verify/verify.hpp>

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <string>

namespace gradcheck::cli {

struct ReportOptions {
  std::string report_dir;       // "" = no report files
  std::string format = "text";  // text | json
  bool strict = false;
};

void add_report_options(CLI::App& cmd, ReportOptions& options);

// 0 agree or declined (notes too unless strict), 1 otherwise.
int verify_exit_code(const VerifyResult& r, bool strict);
// 0 when the check passed (inconclusive entries at a relu kink too, unless strict), 1 otherwise.
int check_exit_code(const CheckResult& r, bool strict);

struct VerifyText {
  std::string case_name;   // e.g. the case file's path
  std::string reply_name;  // e.g. the reply file's path
};

// The verdict on the first line, then forward, gradients, origin layer, chain
// consistency, signatures with their evidence, the worst entries and the update
// effect, in plain words.
void print_verify_text(std::ostream& out, const VerifyResult& r, const VerifyText& names);

// The verdict on the first line, then the counts, the tensors and the worst entries.
void print_check_text(std::ostream& out, const CheckResult& r, const std::string& case_name);

// Standard output in the chosen format, then the report files when asked for.
// `reply` may be null (a malformed reply). Throws InputError when the report
// directory cannot be written (the CLI's exit code 2).
void emit_verify(const VerifyResult& r, const Case& c, const Reply* reply, const VerifyText& names,
                 const ReportOptions& options);
void emit_check(const CheckResult& r, const Case& c, const std::string& case_name, const ReportOptions& options);

// Number formats shared by the text outputs: values %.9g, errors %.2g.
std::string fmt_value(double v);
std::string fmt_error(double v);

}  // namespace gradcheck::cli
