// Plain text of the training watch's findings (text.hpp): what `gradcheck
// train` prints after training, one line per finding and its fix.
#include <gradcheck/reports/text.hpp>

#include "detail/text.hpp"

#include <string>

namespace gradcheck::reports {

std::string render_watch_text(const watch::Result& r) {
  if (r.findings.empty()) return "watch: no findings\n";
  const std::size_t n = r.findings.size();
  std::string out = "watch: " + std::to_string(n) + " finding" + (n == 1 ? "" : "s") + "\n";
  for (const watch::Finding& f : r.findings) {
    out += "  " + detail::left(to_string(f.severity), 7) + " " + watch::to_string(f.kind);
    if (f.layer >= 0) out += " (layer " + std::to_string(f.layer) + ")";
    out += ": " + f.message + "\n";
    out += "          fix: " + f.fix + "\n";
  }
  return out;
}

}  // namespace gradcheck::reports
