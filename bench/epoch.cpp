// The epoch benchmark, the gradcheck side of bench/run.sh:
// [784, 30, 10], sigmoid, quadratic, N(0, 1) weights and biases, mini-batch 10,
// η = 3.0, one epoch over Fashion-MNIST's 60,000 training images, in double.
// For each seed it prints
//   RESULT impl=gradcheck seed=<s> seconds=<wall time> cpu=<process CPU time> accuracy=<test accuracy>
// where the times are of one epoch's training loop (loading and evaluation are
// not timed) and the accuracy is on the 10,000 test images after the last epoch.
//
//   gradcheck_epoch [--data DIR] [--seeds 1,2,3,4,5] [--limit N] [--epochs E]
#include "fashion_mnist.hpp"

#include <gradcheck/engine/init.hpp>
#include <gradcheck/engine/trainer.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace gradcheck;
  std::string dir = bench::default_data_dir(), seeds = "1,2,3,4,5";
  long limit = 0;
  int epochs = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--data" && has_value) dir = argv[++i];
    else if (a == "--seeds" && has_value) seeds = argv[++i];
    else if (a == "--limit" && has_value) limit = std::atol(argv[++i]);
    else if (a == "--epochs" && has_value) epochs = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: gradcheck_epoch [--data DIR] [--seeds 1,2,3] [--limit N] [--epochs E]\n");
      return 2;
    }
  }
  try {
    const Dataset<double> training = bench::load_fashion_mnist(dir, "train", limit > 0 ? limit : -1);
    const Dataset<double> test = bench::load_fashion_mnist(dir, "t10k");
    std::stringstream list(seeds);
    for (std::string item; std::getline(list, item, ',');) {
      const auto seed = std::stoull(item);
      auto net = make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic,
                              Init::gaussian, seed);
      TrainOptions opt;
      opt.optimizer = Optimizer::sgd;
      opt.learning_rate = 3.0;
      opt.batch_size = 10;
      opt.epochs = epochs;
      opt.seed = seed;
      const std::clock_t cpu_start = std::clock();
      const auto wall_start = std::chrono::steady_clock::now();
      train(net, training, opt);
      const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
      const Evaluation e = evaluate(net, test);
      std::printf("RESULT impl=gradcheck seed=%llu seconds=%.6f cpu=%.6f accuracy=%.4f\n",
                  static_cast<unsigned long long>(seed), wall / epochs, cpu / epochs, e.accuracy);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gradcheck_epoch: %s\n", e.what());
    return 1;
  }
  return 0;
}
