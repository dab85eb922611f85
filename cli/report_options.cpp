// Shared report options, exit codes, and where a command's results go: standard
// output (text or JSON) and the report files. The text itself is rendered in reports/.
#include "report_options.hpp"

#include "commands.hpp"

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/verify_section.hpp>
#include <gradcheck/reports/write.hpp>

#include <functional>
#include <iostream>
#include <optional>
#include <string>

namespace gradcheck::cli {

void add_precision_option(CLI::App& cmd, std::optional<Precision>& precision) {
  std::string names;
  for (Precision p : all_precisions) names += std::string(names.empty() ? "" : ", ") + to_string(p);
  cmd.add_option_function<std::string>(
      "--precision",
      [&precision, names](const std::string& s) {
        precision = parse_precision(s);
        if (!precision) throw InputError("command line", "--precision", "unknown format '" + s + "' (one of " + names + ")");
      },
      "The format the implementation computes in, when its replies do not say (" + names +
          "; default: inferred from the values, docs/verify.md#precision)");
}

void add_report_options(CLI::App& cmd, ReportOptions& o) {
  cmd.add_option("--report", o.report_dir,
                 "Write report.json, report.md, report.html (self-contained) and junit.xml into this directory "
                 "(created if needed; files are replaced atomically)");
  cmd.add_option("--format", o.format, "Standard output: text (for people) or json (the report.json document)")
      ->check(CLI::IsMember({"text", "json"}));
  cmd.add_flag("--strict", o.strict,
               "Fail on notes too: float32-level differences and a relu'(0) convention at an exact kink "
               "(exit code 1 instead of 0)");
}

void prepare_report(const ReportOptions& o) {
  if (!o.report_dir.empty()) reports::prepare_report_dir(o.report_dir);
}

int verify_exit_code(const VerifyResult& r, bool strict) { return r.passed(strict) ? exit_ok : exit_divergence; }

int check_exit_code(const CheckResult& r, bool strict) {
  if (!r.summary.passed) return exit_divergence;
  return strict && r.summary.counts.inconclusive_kink > 0 ? exit_divergence : exit_ok;
}

namespace {

// The report document is built only when JSON or report files were asked for:
// text alone never builds it (a full check has an entry object per parameter).
void emit(const ReportOptions& o, const std::function<reports::Report()>& build, const std::string& text) {
  std::optional<reports::Report> report;
  if (o.format == "json" || !o.report_dir.empty()) report = build();
  if (o.format == "json") std::cout << reports::render_json(*report);
  else std::cout << text;
  std::cout.flush();
  if (!o.report_dir.empty()) reports::write_report(o.report_dir, *report);
}

}  // namespace

void emit_verify(const VerifyResult& r, const Case& c, const Reply* reply, const reports::TextNames& names,
                 const ReportOptions& o) {
  const auto build = [&] {
    reports::Report report;
    report.document.title = "gradcheck verify " + names.case_name + " " + names.reply_name;
    report.document.facts.rows = {{"command", "gradcheck verify"}, {"case", names.case_name}, {"reply", names.reply_name}};
    if (o.strict) report.document.facts.rows.push_back({"strict", "notes fail"});
    reports::add(report, r, {names.case_name, names.reply_name});
    // report.json is self-contained: the case and the reply it judged travel with it.
    report.results.back()["case"] = to_json(c);
    if (reply) report.results.back()["reply"] = to_json(*reply);
    if (o.strict && r.status == VerifyStatus::notes) report.document.status = reports::Status::fail;
    return report;
  };
  emit(o, build, o.format == "json" ? "" : reports::render_verify_text(r, names));
}

void emit_check(const CheckResult& r, const Case& c, const std::string& case_name, const ReportOptions& o) {
  const auto build = [&] {
    reports::Report report;
    report.document.title = "gradcheck check " + case_name;
    report.document.facts.rows = {{"command", "gradcheck check"}, {"case", case_name}};
    reports::add(report, r);
    report.results.back()["case"] = to_json(c);
    return report;
  };
  emit(o, build, o.format == "json" ? "" : reports::render_check_text(r, case_name));
}

}  // namespace gradcheck::cli
