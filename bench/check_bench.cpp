// The checks' benchmark: [784,30,10] sigmoid + quadratic, batch 10.
//   full   central differences on all 23,860 parameters (every entry, all cores)
//   fast   fast mode (Ridders directions, 4 per tensor + 1 whole-network)
//   ref    the 50-digit reference gradient (analytic backward in cpp_bin_float_50),
//          alone and with its cross-check sample
// Prints the median of several runs of each, and writes the case as JSON
// (docs/case-format.md) for bench/peers/gradcheck_torch.py, and the engine's own
// reply to it (loss, outputs, gradients) for timing `gradcheck verify`.
//
//   check_bench [--case-out FILE] [--reply-out FILE] [--repeat N] [--threads T]
#include <gradcheck/gradient/network_check.hpp>
#include <gradcheck/gradient/reference.hpp>

#include "timing.hpp"
#include <gradcheck/engine/case_format.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace gradcheck;

namespace {

Case mnist_sized_case() {
  std::mt19937_64 rng(2024);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto init = [&](Index rows, Index cols) {  // N(0, 1/fan_in), as in Nielsen's network.py
    Matrix<double> m(rows, cols);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng) / std::sqrt(static_cast<double>(cols));
    return m;
  };
  Case c;
  c.network.loss = Loss::quadratic;
  c.network.reduction = Reduction::mean;
  c.network.layers.push_back({Activation::sigmoid, init(30, 784), init(30, 1).col(0)});
  c.network.layers.push_back({Activation::sigmoid, init(10, 30), init(10, 1).col(0)});
  c.inputs.resize(784, 10);  // dense pixels in [0, 1]: no zero to skip
  for (Index i = 0; i < c.inputs.size(); ++i) c.inputs.data()[i] = unit(rng);
  c.targets = Matrix<double>::Zero(10, 10);
  for (Index n = 0; n < 10; ++n) c.targets(n % 10, n) = 1.0;
  return c;
}


// What a correct implementation replies: the engine's loss, outputs and gradients.
Reply engine_reply(const Case& c) {
  ForwardPass<double> fp;
  forward(c.network, c.inputs, fp);
  Reply r;
  r.layers = as_layer_gradients(gradients(c.network, c.inputs, c.targets));
  r.loss = static_cast<double>(loss(c.network, fp, c.targets));
  r.outputs = fp.a.back();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string case_out, reply_out;
  int repeat = 5;
  unsigned threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--case-out") && i + 1 < argc) case_out = argv[++i];
    else if (!std::strcmp(argv[i], "--reply-out") && i + 1 < argc) reply_out = argv[++i];
    else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = static_cast<unsigned>(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: check_bench [--case-out FILE] [--reply-out FILE] [--repeat N] [--threads T]\n");
      return 2;
    }
  }
  const Case c = mnist_sized_case();
  if (!case_out.empty()) std::ofstream(case_out) << to_json(c).dump();
  if (!reply_out.empty()) std::ofstream(reply_out) << to_json(engine_reply(c)).dump();

  CheckOptions full;
  full.method = Method::central;
  full.threads = threads;
  CheckResult r;
  const Timing t_full = median_seconds(repeat, [&] { r = check_network(c, full); });
  std::printf("gradcheck full central check: %ld parameters, %zu agree, %zu disagree, %u threads: median %.4f s (cpu %.4f s)\n",
              static_cast<long>(r.summary.parameters), r.summary.counts.agree, r.summary.counts.disagree,
              r.summary.threads, t_full.wall, t_full.cpu);
  CheckOptions one = full;
  one.threads = 1;
  const Timing t_full1 = median_seconds(std::max(1, repeat / 2), [&] { r = check_network(c, one); });
  std::printf("gradcheck full central check, 1 thread: median %.4f s (cpu %.4f s)\n", t_full1.wall,
              t_full1.cpu);

  CheckOptions fast;
  fast.method = Method::ridders;
  fast.mode = Mode::fast;
  const Timing t_fast = median_seconds(repeat * 4, [&] { r = check_network(c, fast); });
  std::printf("gradcheck fast mode (Ridders, %d directions x %zu tensors + %d whole): passed %d: median %.5f s (cpu %.5f s)\n",
              fast.directions_per_tensor, r.tensors.size(), fast.whole_network_directions, r.summary.passed ? 1 : 0,
              t_fast.wall, t_fast.cpu);
  std::printf("  %s\n", r.summary.escape_statement.c_str());

  ReferenceOptions bare;
  bare.cross_check_all_up_to = 0;
  bare.cross_check_per_tensor = 0;
  Reference ref;
  const Timing t_ref = median_seconds(std::max(1, repeat / 2), [&] { ref = reference_gradients(c, bare); });
  std::printf("gradcheck 50-digit reference gradient (with round-off and kink analysis): median %.4f s (cpu %.4f s)\n",
              t_ref.wall, t_ref.cpu);
  ReferenceOptions sampled;  // the default: 3 entries per tensor cross-checked by 50-digit differences
  const Timing t_ref_x = median_seconds(std::max(1, repeat / 2), [&] { ref = reference_gradients(c, sampled); });
  std::printf("gradcheck 50-digit reference + cross-check of %ld entries: median %.4f s (cpu %.4f s, %zu findings)\n",
              static_cast<long>(ref.cross_checked), t_ref_x.wall, t_ref_x.cpu, ref.findings.size());
  return 0;
}
