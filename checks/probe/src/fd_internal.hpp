#pragma once
// What fd.cpp, fd_program.cpp and fd_signatures.cpp share (not installed).
#include <gradcheck/probe/fd.hpp>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace gradcheck::detail {

// Asks loss_at for the losses at a batch of points (it sends them in requests
// of at most max_points_per_request, pipelined) and counts evaluations and requests.
class FdEvaluator {
 public:
  FdEvaluator(const FdLossAt& loss_at, std::size_t per_request) : loss_at_(loss_at), per_(std::max<std::size_t>(1, per_request)) {}
  std::vector<double> run(const std::vector<FdPoint>& points) {
    if (points.empty()) return {};
    std::vector<double> v = loss_at_(points);
    if (v.size() != points.size())
      throw std::invalid_argument("fd: " + std::to_string(v.size()) + " losses for " + std::to_string(points.size()) + " points");
    requests += (points.size() + per_ - 1) / per_;
    evaluations += points.size();
    return v;
  }
  std::size_t evaluations = 0, requests = 0;

 private:
  const FdLossAt& loss_at_;
  std::size_t per_;
};

// The state of one entry across the stages of full mode.
struct FdWork {
  FdEntry* entry;
  double scale, h;
  double fp = std::numeric_limits<double>::quiet_NaN(), fm = std::numeric_limits<double>::quiet_NaN();
};

FdEntry fd_entry(const FdDescription& d, const std::vector<std::vector<double>>& gradient, std::size_t param,
                 std::size_t index);
// Each entry's scale: max(|θ_i|, rms of its tensor), 1 where both are 0.
std::vector<double> fd_scales(const FdParameter& p);
// h adjusted so that θ + h is exactly θ + h in double.
double fd_step(double theta, double h);
// Sets e's numeric value, error and verdict by the comparison rule; false
// (verdict unset) when the error bar is too wide to decide.
bool fd_decide(FdEntry& e, double numeric, double error, double step, double floor, double bar_scale,
               const FdOptions& o);
// Full mode's stages on these entries (each FdWork's entry->error preset to ε_f / h).
void fd_check_entries(std::vector<FdWork>& work, std::vector<FdTensor>& tensors, FdEvaluator& ev, double f0,
                      double eps, const FdOptions& o);
// Fast mode (fd_fast.cpp): directions per tensor, bisection in the failing ones.
void fd_fast(FdResult& r, const std::vector<std::vector<double>>& gradient, FdEvaluator& ev, double h_relative,
             const FdOptions& o);

// Thrown by a loss callback that was interrupted (SIGINT): fd_check returns
// the result marked interrupted, with no entry reported as decided.
struct FdInterrupted {};

// Patterns across the tensors' entries (docs/fd.md#signatures).
std::vector<FdSignature> fd_signatures(const std::vector<FdTensor>& tensors);

}  // namespace gradcheck::detail
