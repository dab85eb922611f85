// Google Benchmark timings of the training step and its parts on the network of
// the epoch benchmark ([784, 30, 10], sigmoid, quadratic, batch 10, η = 3).
// Uses Fashion-MNIST when installed, else uniform random pixels of the same shape.
// "allocs/step" counts heap allocations per step (malloc is counted below, on glibc).
#include "fashion_mnist.hpp"

#include <gradcheck/engine/init.hpp>
#include <gradcheck/engine/trainer.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <numeric>

// Eigen allocates with malloc, not operator new: count malloc itself (glibc
// lets a program interpose it and exports the real one as __libc_malloc).
namespace {
std::atomic<long> allocations{0};
}
// Not under AddressSanitizer, which supplies its own malloc.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GRADCHECK_BENCH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GRADCHECK_BENCH_ASAN 1
#endif
#if defined(__GLIBC__) && !defined(GRADCHECK_BENCH_ASAN)
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* malloc(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
constexpr bool counting_allocations = true;
#else
constexpr bool counting_allocations = false;
#endif

namespace {

using namespace gradcheck;

const Dataset<double>& training_set() {
  static const Dataset<double> data = [] {
    try {
      return bench::load_fashion_mnist(bench::default_data_dir(), "train");
    } catch (const std::exception&) {
      Rng r(1);
      Dataset<double> d;
      d.inputs.resize(784, 60000);
      for (Index k = 0; k < d.inputs.size(); ++k) d.inputs.data()[k] = r.uniform();
      for (Index c = 0; c < 60000; ++c) d.labels.push_back(static_cast<int>(r.below(10)));
      d.targets = one_hot(d.labels, 10);
      return d;
    }
  }();
  return data;
}

Network<double> bench_net() {
  return make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian, 1);
}

TrainOptions bench_options() {
  TrainOptions o;
  o.learning_rate = 3.0;
  o.batch_size = 10;
  return o;
}

void BM_TrainStep(benchmark::State& state) {
  const auto& data = training_set();
  auto net = bench_net();
  auto opt = bench_options();
  opt.optimizer = static_cast<Optimizer>(state.range(0));
  Trainer<double> trainer(net, opt);
  // Batches of a shuffled order, as in an epoch: columns scattered over the set.
  std::vector<Index> order(static_cast<std::size_t>(data.size())), batch(10);
  std::iota(order.begin(), order.end(), Index(0));
  Rng rng(1);
  rng.shuffle(order.begin(), order.end());
  std::size_t next = 0;
  trainer.step(data, batch);  // warm-up: sizes the workspaces
  const long before = allocations.load();
  for (auto _ : state) {
    if (next + 10 > order.size()) next = 0;
    std::copy(order.begin() + static_cast<std::ptrdiff_t>(next), order.begin() + static_cast<std::ptrdiff_t>(next + 10),
              batch.begin());
    next += 10;
    trainer.step(data, batch);
  }
  if (counting_allocations)
    state.counters["allocs/step"] =
        benchmark::Counter(static_cast<double>(allocations.load() - before), benchmark::Counter::kAvgIterations);
  state.SetLabel(to_string(opt.optimizer));
  state.SetItemsProcessed(state.iterations() * 10);
}
BENCHMARK(BM_TrainStep)->Arg(0)->Arg(1)->Arg(2);

void BM_ForwardBatch10(benchmark::State& state) {
  const auto& data = training_set();
  const auto net = bench_net();
  ForwardPass<double> fp;
  fp.a.resize(3);
  fp.a[0] = data.inputs.leftCols(10);
  for (auto _ : state) {
    forward_from(net, 0, fp);
    benchmark::DoNotOptimize(fp.a.back().data());
  }
}
BENCHMARK(BM_ForwardBatch10);

void BM_BackwardBatch10(benchmark::State& state) {
  const auto& data = training_set();
  const auto net = bench_net();
  ForwardPass<double> fp;
  forward(net, data.inputs.leftCols(10), fp);
  const Matrix<double> y = data.targets.leftCols(10);
  Gradients<double> g;
  for (auto _ : state) {
    backward(net, fp, y, g, /*input_gradient=*/false);
    benchmark::DoNotOptimize(g.weights[0].data());
  }
}
BENCHMARK(BM_BackwardBatch10);

// Eigen's GEMM alone on the first layer's shapes: W a (units × 784 by 784 ×
// batch) and the fused update W −= η δ aᵀ, for units 30 (the benchmark's) and 32,
// batch 10 (the benchmark's) and 12. Shows what the shapes cost: the columns
// beyond a multiple of the kernel's 4-column panel are handled one at a time.
void BM_FirstLayerProduct(benchmark::State& state) {
  const Index units = state.range(0), batch = state.range(1);
  const bool update = state.range(2) != 0;
  Rng r(7);
  const auto fill = [&](Matrix<double>& m) {
    for (Index k = 0; k < m.size(); ++k) m.data()[k] = r.uniform();
  };
  Matrix<double> w(units, 784), a(784, batch), z(units, batch), delta(units, batch);
  fill(w);
  fill(a);
  fill(delta);
  for (auto _ : state) {
    if (update) w.noalias() -= (1e-12 * delta) * a.transpose();
    else z.noalias() = w * a;
    benchmark::DoNotOptimize(update ? w.data() : z.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(units) * 784 * double(batch),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(update ? "W -= eta delta a^T" : "W a");
}
BENCHMARK(BM_FirstLayerProduct)->ArgsProduct({{30, 32}, {10, 12}, {0, 1}});

void BM_Epoch(benchmark::State& state) {
  const auto& data = training_set();
  for (auto _ : state) {
    auto net = bench_net();
    auto opt = bench_options();
    opt.seed = 1;
    const History h = train(net, data, opt);
    benchmark::DoNotOptimize(h.steps);
  }
}
BENCHMARK(BM_Epoch)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
