// Uses the installed engine: the 3-2-1 network's output, to 1e-12.
#include <gradcheck/engine/network.hpp>

#include <cmath>
#include <cstdio>

int main() {
  using namespace gradcheck;
  Network<double> net;
  Matrix<double> w0(2, 3), w1(1, 2), x(3, 1), y(1, 1);
  Vector<double> b0(2), b1(1);
  w0 << 0.1, 0.15, 0.2, 0.3, 0.35, 0.4;
  w1 << 0.5, 0.55;
  b0 << 0.25, 0.45;
  b1 << 0.6;
  x << 0.0, 0.5, 1.0;
  y << 1.0;
  net.layers.push_back({Activation::sigmoid, w0, b0});
  net.layers.push_back({Activation::sigmoid, w1, b1});
  const double out = forward(net, x).output()(0, 0);
  const double db = gradients(net, x, y).biases[1](0);
  std::printf("output %.16f, output bias gradient %.16f\n", out, db);
  return std::abs(out - 0.7890033084910505) < 1e-12 && std::abs(db + 0.0351261147127841) < 1e-12 ? 0 : 1;
}
