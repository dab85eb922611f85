// gradcheck command line. For now: `gradcheck fixtures` runs the engine on the
// 3-2-1 case of the question and prints the forward output and every gradient.
#include <gradcheck/engine/network.hpp>
#include <gradcheck/engine/version.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace {

gradcheck::Network<double> net_321() {
  using namespace gradcheck;
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
  using namespace gradcheck;
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
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gradcheck: are your neural-network gradients right, and if training fails, why?"};
  app.set_version_flag("--version", gradcheck::version());
  app.require_subcommand(1);
  auto* fixtures = app.add_subcommand("fixtures", "Run the documented cases and print their numbers");
  fixtures->callback([] { std::exit(run_321()); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}
