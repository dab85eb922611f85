// Writes a sample report to the directory given on the command line:
//
//   ./build/reports/gradcheck_sample_report out
//   # out/report.json, out/report.md, out/report.html, out/junit.xml
//
// It compares gradients the way `gradcheck verify` does (one compare() per entry, then
// summarize()): the asker's gradients of the 3-2-1 network of the question against the
// reference, and a [784, 30]-shaped layer with three wrong entries, whose 30 × 784
// heatmap is pooled to 30 × 64. Then it hands both results to the reports library.
#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/gradient/result.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/write.hpp>

#include <cmath>
#include <iostream>
#include <vector>

using namespace gradcheck;

namespace {

// One tensor's claimed and reference values, row-major.
struct Tensor {
  int layer;
  TensorKind kind;
  Index rows, cols;
  std::vector<double> reference, claimed;
};

CheckResult compare_all(const std::vector<Tensor>& tensors) {
  CheckResult r;
  const Tolerances tol;
  for (const Tensor& t : tensors) {
    TensorSummary ts;
    ts.layer = t.layer, ts.tensor = t.kind, ts.rows = t.rows, ts.cols = t.cols;
    for (double x : t.reference) ts.max_abs_reference = std::max(ts.max_abs_reference, std::abs(x));
    ts.floor = tensor_floor(ts.max_abs_reference, tol);
    r.tensors.push_back(ts);
    for (Index i = 0; i < t.rows; ++i)
      for (Index j = 0; j < t.cols; ++j) {
        Entry e;
        e.layer = t.layer, e.tensor = t.kind, e.row = i, e.col = j, e.stencil = Stencil::analytic;
        e.analytic = t.claimed[static_cast<std::size_t>(i * t.cols + j)];
        e.numeric = t.reference[static_cast<std::size_t>(i * t.cols + j)];
        e.error_estimate = 4e-16 * std::abs(e.numeric);
        const Comparison c = compare(e.analytic, e.numeric, e.error_estimate, 0, ts.floor, tol);
        e.tolerance = c.tolerance, e.absolute_error = c.absolute_error, e.relative_error = c.relative_error;
        e.verdict = c.verdict;
        r.entries.push_back(e);
      }
  }
  r.summary.parameters = static_cast<Index>(r.entries.size());
  summarize(r);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: gradcheck_sample_report DIR\n";
    return 2;
  }
  // The 3-2-1 network of the question: reference gradients and the asker's.
  const CheckResult asker = compare_all({
      {0, TensorKind::weights, 2, 3,
       {0, -0.0020507939119064, -0.0041015878238128, 0, -0.0018771637035870, -0.0037543274071740},
       {0, 0.0066968054, 0.013393611, 0, 0.0061298212, 0.012259642}},
      {0, TensorKind::biases, 2, 1, {-0.0041015878238128, -0.0037543274071740}, {0.013393611, 0.012259642}},
      {1, TensorKind::weights, 1, 2, {-0.0220703065059623, -0.0258509023294301}, {0.072069918, 0.084415339}},
      {1, TensorKind::biases, 1, 1, {-0.0351261147127841}, {0.11470326}},
  });
  // A wide layer: correct up to round-off, except three entries with the wrong sign.
  Tensor w{0, TensorKind::weights, 30, 784, {}, {}}, b{0, TensorKind::biases, 30, 1, {}, {}};
  for (Tensor* t : {&w, &b})
    for (Index k = 0; k < t->rows * t->cols; ++k) {
      const double r = std::sin(0.37 * static_cast<double>(k) + t->rows);
      t->reference.push_back(r);
      t->claimed.push_back(r * (1 + 1e-15 * std::cos(static_cast<double>(k))));
    }
  for (std::size_t k : {1000u, 9001u, 20000u}) w.claimed[k] = -w.reference[k];
  const CheckResult wide = compare_all({w, b});

  reports::Report report;
  report.document.title = "gradcheck sample report";
  report.document.facts.rows = {{"command", "gradcheck_sample_report " + std::string(argv[1])}};
  reports::add(report, asker, {"Gradients of the 3-2-1 network (the asker's)"});
  reports::add(report, wide, {"Gradients of a [784, 30] layer"});
  try {
    const auto written = reports::write_report(argv[1], report);
    std::cout << written.html.string() << "\n";
  } catch (const InputError& e) {
    std::cerr << "gradcheck_sample_report: " << e.what() << "\n";
    return 2;
  }
  return report.document.status == reports::Status::pass ? 0 : 1;
}
