// Logistic regression served to `gradcheck fd` with the header-only helper
// (checks/probe/include/gradcheck/probe/fd_serve.hpp, docs/fd.md#serving-from-c):
//   gradcheck fd -- ./build/examples/cpp/gradcheck_fd_logistic              # agree, exit 0
//   gradcheck fd -- ./build/examples/cpp/gradcheck_fd_logistic --bug sign   # disagree, exit 1
// p = σ(w·x + b), loss = mean binary cross-entropy over a fixed batch of 5.
// --bug sign: the gradient of w negated; --bug scale: db doubled.
#include <gradcheck/probe/fd_serve.hpp>

#include <cmath>
#include <string>

namespace {

const double X[5][3] = {{0.5, -1.2, 0.3}, {1.1, 0.4, -0.7}, {-0.3, 0.8, 0.9}, {0.0, -0.5, 1.5}, {2.0, 0.1, -0.2}};
const double Y[5] = {1, 0, 1, 0, 1};

// log(1 + e^z) without overflow
double softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

double loss_and_gradient(const gradcheck::serve::Values& v, gradcheck::serve::Values* g, const std::string& bug) {
  const std::vector<double>& w = v[0];
  const double b = v[1][0];
  double loss = 0;
  for (int s = 0; s < 5; ++s) {
    const double z = w[0] * X[s][0] + w[1] * X[s][1] + w[2] * X[s][2] + b;
    loss += (softplus(z) - Y[s] * z) / 5;  // −y ln σ(z) − (1 − y) ln(1 − σ(z))
    if (!g) continue;
    const double delta = (1 / (1 + std::exp(-z)) - Y[s]) / 5;
    for (int i = 0; i < 3; ++i) (*g)[0][i] += (bug == "sign" ? -1 : 1) * delta * X[s][i];
    (*g)[1][0] += (bug == "scale" ? 2 : 1) * delta;
  }
  return loss;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string bug = argc > 2 && std::string(argv[1]) == "--bug" ? argv[2] : "";
  return gradcheck::serve::fd_serve(
      {{"w", {3}, {0.3, -0.2, 0.5}}, {"b", {1}, {0.1}}},
      [&](const gradcheck::serve::Values& v) { return loss_and_gradient(v, nullptr, bug); },
      [&](const gradcheck::serve::Values& v, gradcheck::serve::Values& g) { return loss_and_gradient(v, &g, bug); });
}
