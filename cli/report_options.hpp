#pragma once
// What every reporting command (check, verify, probe, train, fixtures) shares:
//   --report DIR     write report.json, report.md, report.html and junit.xml into DIR
//   --format FORMAT  standard output as `text` (default, for people) or `json`
//                    (the document report.json holds)
//   --strict         notes (float32-level precision, a relu'(0) convention at an
//                    exact kink) fail like divergences
// and where results go: standard output (text rendered by reports/text.hpp, or
// JSON) and the report files.
//
// How a command uses it:
//   ReportOptions ro;
//   add_report_options(*cmd, ro);
//   ... run the check ...
//   emit_verify(result, c, &reply, {case_path, reply_path}, ro);
//   return verify_exit_code(result, ro.strict);

#include <gradcheck/engine/precision.hpp>
#include <gradcheck/gradient/result.hpp>
#include <gradcheck/verify/verify.hpp>
#include <gradcheck/reports/text.hpp>

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace gradcheck::cli {

struct ReportOptions {
  std::string report_dir;       // "" = no report files
  std::string format = "text";  // text | json
  bool strict = false;
};

void add_report_options(CLI::App& cmd, ReportOptions& options);

// --precision FORMAT (verify, probe): the format the implementation computes
// in (float64, float32, float16, bfloat16), when its replies do not say
// (docs/verify.md#precision). An unknown name is a usage error (exit 2).
void add_precision_option(CLI::App& cmd, std::optional<Precision>& precision);

// Before any work: the --report directory is created and writable, or an
// InputError (exit 2) says why not.
void prepare_report(const ReportOptions& options);

// 0 agree or declined (notes too unless strict), 1 otherwise.
int verify_exit_code(const VerifyResult& r, bool strict);
// 0 when the check passed (inconclusive entries at a relu kink too, unless strict), 1 otherwise.
int check_exit_code(const CheckResult& r, bool strict);

// Standard output in the chosen format, then the report files when asked for;
// the report document is built only for JSON or report files.
// `reply` may be null (a malformed reply). Throws InputError when the report
// directory cannot be written (the CLI's exit code 2).
void emit_verify(const VerifyResult& r, const Case& c, const Reply* reply, const reports::TextNames& names,
                 const ReportOptions& options);
void emit_check(const CheckResult& r, const Case& c, const std::string& case_name, const ReportOptions& options);

}  // namespace gradcheck::cli
