// The epoch benchmark, the gradcheck side of bench/run.sh, in double:
//   --net dense  (default) [784, 30, 10], sigmoid, quadratic, N(0, 1) weights and
//                biases, mini-batch 10, η = 3.0
//   --net lenet5 LeNet-5 (c6k5p2-m2-c16k5-m2-120-84-10), relu, softmax +
//                cross-entropy (mean over the batch), Glorot weights, zero biases,
//                max pooling, mini-batch 32, η = 0.1 (issue 15's configuration)
// one epoch over Fashion-MNIST's 60,000 training images. For each seed it prints
//   RESULT impl=gradcheck seed=<s> seconds=<wall time> cpu=<process CPU time> accuracy=<test accuracy>
// where the times are of one epoch's training loop (loading and evaluation are
// not timed) and the accuracy is on the 10,000 test images after the last epoch.
// --share DIR writes, per seed, DIR/<net>-seed<s>.json: the initial parameters
// and the epoch's sample order, so that a peer trains the same network on the
// same batches (bench/peers/epoch_lenet_torch.py reads it).
//
//   gradcheck_epoch [--net dense|lenet5] [--data DIR] [--seeds 1,2,3,4,5] [--limit N] [--epochs E] [--share DIR]
#include "fashion_mnist.hpp"

#include <gradcheck/engine/architecture.hpp>
#include <gradcheck/engine/init.hpp>
#include <gradcheck/engine/random.hpp>
#include <gradcheck/engine/trainer.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace gradcheck;

struct Setup {
  Network<double> net;
  TrainOptions options;
};

Setup make_setup(const std::string& net, std::uint64_t seed, int epochs) {
  Setup s;
  s.options.optimizer = Optimizer::sgd;
  s.options.epochs = epochs;
  s.options.seed = seed;
  if (net == "lenet5") {
    const Architecture a = parse_architecture("lenet5", ImageShape{1, 28, 28}, "--net", Index(1) << 25);
    s.net = network_from(a, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::xavier, seed);
    s.options.learning_rate = 0.1;
    s.options.batch_size = 32;
  } else {
    s.net = make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid, Loss::quadratic, Init::gaussian,
                         seed);
    s.options.learning_rate = 3.0;
    s.options.batch_size = 10;
  }
  return s;
}

// Writes a list of numbers as JSON, exactly (17 significant digits).
template <class It>
void write_numbers(std::ofstream& out, It first, It last) {
  out << '[';
  char buf[32];
  for (It it = first; it != last; ++it) {
    std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(*it));
    out << (it == first ? "" : ",") << buf;
  }
  out << ']';
}

// The initial parameters (weights row-major: PyTorch's weight[out][in][kh][kw]
// or [out][in]) and the first epoch's sample order, as Trainer shuffles it.
void write_share(const std::string& path, const Setup& s, Index samples) {
  std::ofstream out(path);
  out << "{\"batch\":" << s.options.batch_size << ",\"lr\":" << s.options.learning_rate << ",\"layers\":[";
  bool first = true;
  for (const auto& layer : s.net.layers) {
    if (layer.weights.size() == 0) continue;  // pooling: no parameters
    const Matrix<double> row_major = layer.weights.transpose();
    out << (first ? "" : ",") << "{\"weights\":";
    write_numbers(out, row_major.data(), row_major.data() + row_major.size());
    out << ",\"biases\":";
    write_numbers(out, layer.biases.data(), layer.biases.data() + layer.biases.size());
    out << '}';
    first = false;
  }
  std::vector<Index> order(static_cast<std::size_t>(samples));
  std::iota(order.begin(), order.end(), Index(0));
  Rng rng(s.options.seed);
  rng.shuffle(order.begin(), order.end());
  out << "],\"order\":";
  write_numbers(out, order.begin(), order.end());
  out << "}\n";
  if (!out.flush()) throw std::runtime_error(path + ": cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = bench::default_data_dir(), seeds = "1,2,3,4,5", net_name = "dense", share;
  long limit = 0;
  int epochs = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--data" && has_value) dir = argv[++i];
    else if (a == "--seeds" && has_value) seeds = argv[++i];
    else if (a == "--limit" && has_value) limit = std::atol(argv[++i]);
    else if (a == "--epochs" && has_value) epochs = std::atoi(argv[++i]);
    else if (a == "--net" && has_value && (std::string(argv[i + 1]) == "dense" || std::string(argv[i + 1]) == "lenet5"))
      net_name = argv[++i];
    else if (a == "--share" && has_value) share = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: gradcheck_epoch [--net dense|lenet5] [--data DIR] [--seeds 1,2,3] [--limit N] [--epochs E] "
                   "[--share DIR]\n");
      return 2;
    }
  }
  try {
    const Dataset<double> training = bench::load_fashion_mnist(dir, "train", limit > 0 ? limit : -1);
    const Dataset<double> test = bench::load_fashion_mnist(dir, "t10k");
    std::stringstream list(seeds);
    for (std::string item; std::getline(list, item, ',');) {
      const auto seed = std::stoull(item);
      Setup s = make_setup(net_name, seed, epochs);
      if (!share.empty()) write_share(share + "/" + net_name + "-seed" + item + ".json", s, training.size());
      const std::clock_t cpu_start = std::clock();
      const auto wall_start = std::chrono::steady_clock::now();
      train(s.net, training, s.options);
      const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
      const Evaluation e = evaluate(s.net, test);
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
