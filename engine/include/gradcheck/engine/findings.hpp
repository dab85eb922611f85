#pragma once
// The vocabulary every library reports in: one severity scale, one piece of
// evidence, one finding. verify's signatures, the training watch's findings,
// the gradient check's findings and the report documents all use these, so a
// renderer shows any of them the same way (docs/architecture.md).
//
//   Finding f{Severity::warning, "12 of 30 relu units never fired", {{"dead fraction", 0.4}}, "use He init"};

#include <string>
#include <vector>

namespace gradcheck {

// From least to most serious; `error` fails the command (a divergence, a NaN,
// signed bytes). `note` passes: a difference explained (precision, relu'(0)).
enum class Severity { info, note, warning, error };
const char* to_string(Severity s) noexcept;  // "info", "note", "warning", "error"
inline Severity worst(Severity a, Severity b) noexcept { return a < b ? b : a; }

// One number of evidence, e.g. {"layers[1].biases[0] claimed", 0.11470326}.
struct Evidence {
  std::string label;
  double value = 0;
};

struct Finding {
  Severity severity = Severity::error;
  std::string message;             // one plain sentence with the key numbers; renderers print it as is
  std::vector<Evidence> evidence;  // the numbers behind it
  std::string fix;                 // the suggested fix, one sentence (empty: none)
};

}  // namespace gradcheck
