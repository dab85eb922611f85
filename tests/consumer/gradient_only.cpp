// Uses the installed gradient checks alone (gradcheck::gradient, which does not
// bring RapidCheck): Rosenbrock's gradient passes, the same gradient with one
// sign flipped fails at exactly that entry.
#include <gradcheck/gradient/function_check.hpp>

#include <cstdio>

int main() {
  using namespace gradcheck;
  auto f = [](const auto& v) { return (1.0 - v(0)) * (1.0 - v(0)) + 100.0 * (v(1) - v(0) * v(0)) * (v(1) - v(0) * v(0)); };
  auto grad = [](const Vector<double>& v) {
    Vector<double> g(2);
    g << -2 * (1 - v(0)) - 400 * v(0) * (v(1) - v(0) * v(0)), 200 * (v(1) - v(0) * v(0));
    return g;
  };
  auto wrong = [&](const Vector<double>& v) {
    Vector<double> g = grad(v);
    g(1) = -g(1);
    return g;
  };
  Vector<double> x(2);
  x << -1.2, 1.0;
  const CheckResult good = check_gradient(f, grad, x), bad = check_gradient(f, wrong, x);
  std::printf("correct: passed %d; sign flipped: passed %d\n", good.summary.passed, bad.summary.passed);
  return good.summary.passed && !bad.summary.passed ? 0 : 1;
}
