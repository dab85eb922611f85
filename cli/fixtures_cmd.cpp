// `gradcheck fixtures`: for now the engine on the 3-2-1 case of the question,
// printing the forward output and every gradient.
#include "commands.hpp"

#include <gradcheck/engine/network.hpp>

#include <cstdio>

namespace gradcheck::cli {
namespace {

Network<double> net_321() {
  Network<double> net;
  Matrix<double> w0(2, 3), w1(1, 2);
  w0 << 0.1, 0.15, 0.2, 0.3, 0.35, 0.4;
  w1 << 0.5, 0.55;
  Vector<double> b0(2), b1(1);
  b0 << 0.25, 0.45;
  b1 << 0.6;
  net.layers.push_back({Activation::sigmoid, w0, b0});
  net.layers.push_back({Activation::sigmoid, w1, b1});
  return net;
}

int run_321() {
  const auto net = net_321();
  Matrix<double> x(3, 1), y(1, 1);
  x << 0.0, 0.5, 1.0;
  y << 1.0;
  const auto fp = forward(net, x);
  Gradients<double> g;
  backward(net, fp, y, g);
  std::printf("3-2-1 network (sigmoid, quadratic loss), input [0, 0.5, 1], target [1]\n");
  std::printf("  output            %.16f\n", fp.output()(0, 0));
  std::printf("  loss              %.16f\n", loss(net, fp, y));
  for (std::size_t l = net.layers.size(); l-- > 0;) {
    std::printf("  layer %zu dL/db    ", l);
    for (Index j = 0; j < g.biases[l].size(); ++j) std::printf(" % .16f", g.biases[l](j));
    std::printf("\n");
    for (Index j = 0; j < g.weights[l].rows(); ++j) {
      std::printf("  layer %zu dL/dW[%ld]", l, static_cast<long>(j));
      for (Index i = 0; i < g.weights[l].cols(); ++i) std::printf(" % .16f", g.weights[l](j, i));
      std::printf("\n");
    }
  }
  return exit_ok;
}

}  // namespace

void add_fixtures_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("fixtures", "Run the documented cases and print their numbers");
  cmd->callback([&exit_code] { exit_code = run_321(); });
}

}  // namespace gradcheck::cli
