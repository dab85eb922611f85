#include <gradcheck/gradient/result.hpp>

#include <cmath>

namespace gradcheck {
namespace {

// Ordering for "worst": a non-finite verdict beats any finite error, then larger e.
double badness(const Entry& e) {
  if (e.verdict == Verdict::non_finite) return std::numeric_limits<double>::infinity();
  return std::isnan(e.relative_error) ? 0.0 : e.relative_error;
}

}  // namespace

void summarize(CheckResult& result) {
  for (TensorSummary& t : result.tensors) {
    t.counts = {};
    t.entries_checked = 0;
    t.worst_relative_error = 0;
    t.worst_row = t.worst_col = -1;
    t.shape_mismatch = false;
  }
  auto tensor_of = [&](int layer, TensorKind kind) -> TensorSummary& {
    for (TensorSummary& t : result.tensors)
      if (t.layer == layer && t.tensor == kind) return t;
    TensorSummary t;
    t.layer = layer;
    t.tensor = kind;
    result.tensors.push_back(t);
    return result.tensors.back();
  };

  Summary& s = result.summary;
  s.counts = {};
  s.worst.reset();
  double worst = -1;
  for (const Entry& e : result.entries) {
    TensorSummary& t = tensor_of(e.layer, e.tensor);
    t.counts.add(e.verdict);
    ++t.entries_checked;
    const double b = badness(e);
    if (t.worst_row < 0 || b > t.worst_relative_error) {
      t.worst_relative_error = b;
      t.worst_row = e.row;
      t.worst_col = e.col;
    }
    s.counts.add(e.verdict);
    if (b > worst) {
      worst = b;
      s.worst = e;
    }
  }
  for (const CheckFinding& f : result.findings)
    if (f.kind == FindingKind::shape_mismatch) tensor_of(f.layer, f.tensor).shape_mismatch = true;
  for (TensorSummary& t : result.tensors)
    t.passed = t.counts.disagree == 0 && t.counts.non_finite == 0 && !t.shape_mismatch &&
               t.directions_disagreeing <= (t.fell_back_to_entries ? t.directions : 0);
  bool directions_ok = true;
  for (const DirectionCheck& d : result.directions)
    if (d.whole_network && (d.verdict == Verdict::disagree || d.verdict == Verdict::non_finite)) directions_ok = false;
  s.entries_checked = static_cast<Index>(result.entries.size());
  s.passed = s.counts.disagree == 0 && s.counts.non_finite == 0 && result.findings.empty() && directions_ok;
  for (const TensorSummary& t : result.tensors) s.passed = s.passed && t.passed;
}

}  // namespace gradcheck
