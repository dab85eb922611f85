// The convolutional benchmark (issue 14's speed goals, bench/README.md#lenet-5):
// LeNet-5 (`--net lenet5`: c6k5p2-m2-c16k5-m2-120-84-10, relu, softmax +
// cross-entropy, He init) on a batch of 4 Fashion-MNIST-sized images:
//   forward, backward   the double-precision passes of the batch, each alone
//   big        the same in cpp_bin_float_50 (the reference's arithmetic)
//   reference  reference_gradients(case): the 50-digit gradient with its
//              round-off model, kink search and cross-checks, as `gradcheck check` runs it
// Prints the median of several runs of each (wall and process CPU time).
//
//   conv_bench [--repeat N] [--batch N] [--double-only]
#include <gradcheck/engine/architecture.hpp>
#include <gradcheck/gradient/reference.hpp>

#include "timing.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <vector>

using namespace gradcheck;

namespace {

// LeNet-5 with He weights and pixels in [0, 1] drawn like Fashion-MNIST's bytes / 255.
Case lenet5_case(Index batch) {
  const Architecture a = parse_architecture("lenet5", ImageShape{1, 28, 28}, "lenet5", Index(1) << 25);
  Case c;
  c.network = network_from(a, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::he, 5);
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> byte(0, 255), label(0, 9);
  c.inputs.resize(784, batch);
  for (Index i = 0; i < c.inputs.size(); ++i) c.inputs.data()[i] = byte(rng) / 255.0;
  c.targets = Matrix<double>::Zero(10, batch);
  for (Index n = 0; n < batch; ++n) c.targets(label(rng), n) = 1.0;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 5;
  Index batch = 4;
  bool double_only = false;  // skip the 50-digit rows (for profiling the double passes)
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) batch = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--double-only")) double_only = true;
    else {
      std::fprintf(stderr, "usage: conv_bench [--repeat N] [--batch N] [--double-only]\n");
      return 2;
    }
  }
  const Case c = lenet5_case(batch);
  std::printf("LeNet-5 (%ld parameters), batch %ld\n", static_cast<long>(c.network.parameter_count()),
              static_cast<long>(batch));

  Gradients<double> g;
  ForwardPass<double> fp;
  const int inner = 200;  // one backward is well under a millisecond: time many per run
  const Timing t_forward = median_seconds(repeat, [&] {
    for (int k = 0; k < inner; ++k) forward(c.network, c.inputs, fp);
  });
  const Timing t_backward = median_seconds(repeat, [&] {
    for (int k = 0; k < inner; ++k) backward(c.network, fp, c.targets, g);
  });
  std::printf("double forward: median %.1f us (cpu %.1f us)\n", 1e6 * t_forward.wall / inner,
              1e6 * t_forward.cpu / inner);
  std::printf("double backward (input gradient included): median %.1f us (cpu %.1f us)\n",
              1e6 * t_backward.wall / inner, 1e6 * t_backward.cpu / inner);

  if (double_only) return 0;
  const Network<cpp_bin_float_50> big = c.network.cast<cpp_bin_float_50>();
  const Matrix<cpp_bin_float_50> x = c.inputs.cast<cpp_bin_float_50>(), y = c.targets.cast<cpp_bin_float_50>();
  Gradients<cpp_bin_float_50> gb;
  ForwardPass<cpp_bin_float_50> fb;
  const Timing t_big = median_seconds(repeat, [&] {
    forward(big, x, fb);
    backward(big, fb, y, gb);
  });
  std::printf("50-digit forward + backward: median %.3f s (cpu %.3f s)\n", t_big.wall, t_big.cpu);

  Reference ref;
  const Timing t_ref = median_seconds(repeat, [&] { ref = reference_gradients(c); });
  std::printf("reference_gradients (50 digits, kinks, cross-checks): median %.3f s (cpu %.3f s), %zu kinks\n",
              t_ref.wall, t_ref.cpu, ref.kinks.size());
  return 0;
}
