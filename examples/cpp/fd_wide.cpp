// fast mode at scale (docs/fd.md#fast-mode): one tensor of --n entries (default
// 50000) and a dense O(n) loss, sum of sin plus the square of a weighted sum;
// --bug I: entry I of the gradient off by 1 %. --trivial: the loss (w[0] − 1)²
// instead, constant time, so that a run's time is the protocol's (docs/fd.md#protocol-overhead).
//   gradcheck fd --mode fast -- ./build/examples/cpp/gradcheck_fd_wide --bug 12345   # finds w[12345]
#include <gradcheck/probe/fd_serve.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
using gradcheck::serve::Values;
static double loss_of(const Values& v, std::vector<double>* g) {
  const auto& x = v[0];
  double s = 0, lin = 0;
  const std::size_t n = x.size();
  for (std::size_t i = 0; i < n; ++i) { s += std::sin(x[i]) * (1 + 0.001 * double(i % 13)); lin += x[i] * (0.5 + 0.001 * double(i % 7)); }
  if (g) for (std::size_t i = 0; i < n; ++i) (*g)[i] = std::cos(x[i]) * (1 + 0.001 * double(i % 13)) + lin / double(n) * (0.5 + 0.001 * double(i % 7));
  return s + 0.5 * lin * lin / double(n);
}
int main(int argc, char** argv) {
  std::size_t n = 50000; long bug = -1;
  bool trivial = false;
  for (int i = 1; i < argc; ++i) if (!std::strcmp(argv[i], "--trivial")) trivial = true;
  for (int i = 1; i + 1 < argc; ++i) { if (!std::strcmp(argv[i], "--n")) n = std::strtoul(argv[i + 1], nullptr, 10); if (!std::strcmp(argv[i], "--bug")) bug = std::atol(argv[i + 1]); }
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(0.37 * double(i)) * 0.8;
  if (trivial)
    return gradcheck::serve::fd_serve({{"w", {n}, v}}, [](const Values& x) { return (x[0][0] - 1) * (x[0][0] - 1); },
                                      [](const Values& x, Values& g) {
                                        g[0][0] = 2 * (x[0][0] - 1);
                                        return (x[0][0] - 1) * (x[0][0] - 1);
                                      });
  return gradcheck::serve::fd_serve({{"w", {n}, v}},
      [](const Values& x) { return loss_of(x, nullptr); },
      [bug](const Values& x, Values& g) { double l = loss_of(x, &g[0]); if (bug >= 0) g[0][std::size_t(bug)] *= 1.01; return l; });
}
