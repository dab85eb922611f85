// What the training watch costs per step (docs/watch.md, "Cost"): one training
// step of [784, 30, 10] (sigmoid, quadratic, SGD η = 3) on shuffled Fashion-MNIST
// batches, without the watch, and with it at each cost setting.
//   ./build/bench/gradcheck_watch_bench --benchmark_min_time=2
// Uses Fashion-MNIST when installed, else uniform random pixels of the same shape.
#include "fashion_mnist.hpp"

#include <gradcheck/watch/watch.hpp>
#include <gradcheck/engine/init.hpp>
#include <gradcheck/engine/trainer.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <numeric>

namespace {

using namespace gradcheck;
namespace w = gradcheck::watch;

const Dataset<double>& training_set() {
  static const Dataset<double> data = [] {
    try {
      return bench::load_fashion_mnist(bench::default_data_dir(), "train", 20000);
    } catch (const std::exception&) {
      Rng r(1);
      Dataset<double> d;
      d.inputs.resize(784, 20000);
      for (Index k = 0; k < d.inputs.size(); ++k) d.inputs.data()[k] = r.uniform();
      for (Index c = 0; c < 20000; ++c) d.labels.push_back(static_cast<int>(r.below(10)));
      d.targets = one_hot(d.labels, 10);
      return d;
    }
  }();
  return data;
}

// range(0): batch size; range(1): 0 no watch, 1 --watch step (statistics every
// step, kept per step), 2 --watch epoch (every 10th step, kept per epoch),
// 3 as 1 but without the TrainOptions (no bounds: every tensor read every step,
// the parameters copied before every update).
void BM_WatchedStep(benchmark::State& state) {
  const auto& data = training_set();
  const Index batch = state.range(0);
  const int mode = static_cast<int>(state.range(1));
  auto net = make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian, 1);
  TrainOptions opt;
  opt.learning_rate = 3.0;
  opt.batch_size = batch;
  w::Options wo;
  if (mode == 2) {
    wo.cadence = w::Cadence::epoch;
    wo.stats_every = 10;
  }
  std::unique_ptr<w::Watch> watch;
  if (mode == 1 || mode == 2) watch = std::make_unique<w::Watch>(wo, opt);
  if (mode == 3) watch = std::make_unique<w::Watch>(wo);
  Trainer<double> trainer(net, opt, watch ? watch->callbacks() : Callbacks<double>{});
  std::vector<Index> order(static_cast<std::size_t>(data.size()));
  std::iota(order.begin(), order.end(), Index(0));
  Rng rng(7);
  rng.shuffle(order.begin(), order.end());
  std::vector<Index> samples(static_cast<std::size_t>(batch));
  std::size_t at = 0;
  for (auto _ : state) {
    for (auto& s : samples) {
      s = order[at];
      at = (at + 1) % order.size();
    }
    benchmark::DoNotOptimize(trainer.step(data, samples));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(mode == 0 ? "no watch" : mode == 1 ? "watch step" : mode == 2 ? "watch epoch" : "watch step, no bounds");
}
BENCHMARK(BM_WatchedStep)->ArgsProduct({{1, 10, 100}, {0, 1, 2, 3}})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
