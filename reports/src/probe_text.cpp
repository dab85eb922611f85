// Plain text of a probe run (text.hpp): counts, notes, the minimal
// counterexample with its verification and how to replay it, the
// implementation's failures, PASS or FAIL.
#include <gradcheck/reports/text.hpp>

#include "detail/text.hpp"

#include <gradcheck/engine/case_format.hpp>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace gradcheck::reports {

namespace fs = std::filesystem;

constexpr std::size_t max_inline_case_bytes = 400;  // a minimal case this short is shown in the text as one line

namespace {

// One shell word: quoted when it holds a character the shell would read.
std::string quote(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t\n'\"\\$`*?[]{}()<>|&;#~") == std::string::npos) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Every line of `text` behind `pad`.
std::string indent_lines(const std::string& text, const std::string& pad) {
  std::string out = pad;
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += pad;
  }
  return out;
}

// The last n lines of `text`, at most 1000 bytes.
std::string last_lines(const std::string& text, int n) {
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int i = 0; i < n && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  std::string s = text.substr(pos == 0 ? 0 : pos + 1);
  if (s.size() > 1000) s = "..." + s.substr(s.size() - 1000);
  return s;
}

}  // namespace

namespace detail {

std::string describe_case(const Case& c) {
  const auto& layers = c.network.layers;
  const ImageShape& image = c.network.input_shape;
  std::string s = std::to_string(layers.size()) + (layers.size() == 1 ? " layer " : " layers ") +
                  (image.empty() ? std::to_string(c.network.input_size()) : "image " + to_string(image));
  for (const auto& l : layers)
    s += " -> " + (l.is_dense() ? std::to_string(l.units()) + " " + to_string(l.activation)
                                : describe_image_layer(l) + " (" + to_string(l.output_shape()) + ")");
  return s + ", " + to_string(c.network.loss) + " (" + to_string(c.network.reduction) + "), batch " +
         std::to_string(c.batch_size());
}

}  // namespace detail

std::string shell_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + quote(a);
  return s;
}

std::string render_probe_text(const ProbeResult& r, const ProbeTextOptions& options) {
  const fs::path dir = options.directory;
  std::ostringstream os;
  os << "gradcheck probe: " << shell_command(r.command) << "\n";
  os << "seed " << r.seed << " (replay with --seed " << r.seed << ")\n";
  os << "cases: " << r.cases_sent << " of " << r.cases_requested << " sent; " << r.agreed << " agree, " << r.noted
     << " with notes, " << r.declined << " declined, " << r.diverged << " diverge; " << r.repeats
     << " repeated bitwise-identical checks; " << r.restarts << " restarts; " << std::fixed;
  os.precision(1);
  os << r.elapsed.count() << " s\n";
  os.unsetf(std::ios::fixed);
  for (const auto& m : r.declined_messages) os << "  declined: " << m << "\n";
  for (const auto& n : r.notes)
    for (const auto& s : n.notes) os << "  note on case " << n.case_index << ": " << to_string(s.kind) << ": " << s.message << "\n";
  if (r.stderr_bytes > 0) os << "stderr: " << r.stderr_bytes << " bytes written by the implementation\n";

  if (const auto& cx = r.counterexample) {
    os << "\nDIVERGENCE on case " << cx->case_index << ": " << detail::describe_case(cx->original) << "\n";
    os << "shrunk in " << cx->shrinks << " steps (" << cx->shrink_queries << " queries"
       << (cx->shrink_capped ? ", stopped at --max-shrink-steps" : "")
       << (cx->shrink_misbehaved ? ", " + std::to_string(cx->shrink_misbehaved) + " candidates failed otherwise" : "")
       << (cx->shrink_slipped ? ", " + std::to_string(cx->shrink_slipped) + " candidates showed a different bug" : "")
       << ") to: " << detail::describe_case(cx->minimal) << "\n";
    const std::string compact = case_to_json(cx->minimal, -1);
    if (compact.size() <= max_inline_case_bytes) os << "  minimal case: " << compact << "\n";
    const fs::path case_file = dir / "counterexample.case.json", reply_file = dir / "counterexample.reply.json";
    os << indent_lines(render_verify_text(cx->minimal_result, {case_file.string(), reply_file.string()}), "  ");
    os << "  case:   " << case_file.string() << "\n  reply:  " << reply_file.string() << "\n";
    os << "  replay: gradcheck verify " << quote(case_file.string()) << " " << quote(reply_file.string()) << "\n";
    os << "          gradcheck probe --seed " << r.seed << " --cases " << cx->case_index + 1 << " ... -- "
       << shell_command(r.command) << "\n";
  }
  if (!r.failures.empty()) {
    os << "\nIMPLEMENTATION FAILURES (" << r.failures.size() << (r.stopped_at_max_failures ? ", stopped at --max-failures" : "")
       << "):\n";
    for (std::size_t i = 0; i < r.failures.size(); ++i) {
      const Failure& f = r.failures[i];
      os << "  case " << f.case_index << ": " << to_string(f.kind) << ": " << f.message << "\n";
      os << "    case: " << detail::describe_case(f.input) << " -> " << (dir / ("failure-" + std::to_string(i + 1) + ".case.json")).string() << "\n";
      if (!f.reply_excerpt.empty()) os << "    reply: " << f.reply_excerpt << "\n";
      if (!f.second_reply_excerpt.empty()) os << "    again: " << f.second_reply_excerpt << "\n";
      if (!f.experiment.empty()) os << "    experiment: " << f.experiment << "\n";
      if (!f.stderr_tail.empty()) os << "    stderr (last lines):\n" << indent_lines(last_lines(f.stderr_tail, 5), "      ") << "\n";
    }
  }
  if (r.interrupted) os << "\nINTERRUPTED: the results above are partial (" << r.cases_sent << " cases)\n";
  const bool ok = r.passed(options.strict);
  os << (ok ? "PASS" : "FAIL") << (r.interrupted ? " (partial)" : "") << "\n";
  return os.str();
}


}  // namespace gradcheck::reports
