#pragma once
// Writing a report so that nothing is lost.
//
//   write_report("out", report);   // out/report.json, out/report.md, out/report.html, out/junit.xml
//
// Each file is written atomically: to a hidden temporary file in the same directory
// (".report.html.tmp-<pid>-XXXXXX"), flushed to disk (fsync), renamed over the target,
// and the directory is fsynced. A run killed at any moment (SIGINT, SIGTERM, SIGKILL)
// leaves every file either as it was or complete in its new form, never torn. Temporary
// files left behind by a killed writer are removed by the next write to that directory.
// The four files are replaced one after another, not as one transaction.
//
// Errors (the directory cannot be created, a file cannot be written) throw
// gradcheck::InputError naming the path: "out/report.json: cannot write: Permission denied".

#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/report.hpp>

#include <filesystem>
#include <string_view>

namespace gradcheck::reports {

struct WriteOptions {
  MarkdownOptions markdown;
  HtmlOptions html;
};

struct WrittenReport {
  std::filesystem::path json, markdown, html, junit;
};

// Creates `dir` when missing; InputError (naming it) when it is a file or
// cannot be created or written. Commands call it before any work, so that a
// bad --report is one line and exit 2, not a finished run and a lost report.
void prepare_report_dir(const std::filesystem::path& dir);

// Creates `dir` when missing and writes the four files into it.
WrittenReport write_report(const std::filesystem::path& dir, const Report& report,
                           const WriteOptions& options = {});

// Replaces `target` with `content` atomically (as described above).
void write_file_atomically(const std::filesystem::path& target, std::string_view content);

}  // namespace gradcheck::reports
