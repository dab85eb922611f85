#pragma once
// Small builders shared by the engine's tests (and by the checks' and the
// reports' tests, which include this file by its relative path).
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/network.hpp>
#include <gradcheck/engine/trainer.hpp>

#include <initializer_list>
#include <string>
#include <vector>

namespace gradcheck::testing {

inline Matrix<double> matrix(std::initializer_list<std::initializer_list<double>> rows) {
  Matrix<double> m(static_cast<Index>(rows.size()), static_cast<Index>(rows.begin()->size()));
  Index r = 0;
  for (const auto& row : rows) {
    Index c = 0;
    for (double v : row) m(r, c++) = v;
    ++r;
  }
  return m;
}

// Plain SGD at rate lr, mini-batches of `batch`, for `epochs` epochs.
inline TrainOptions sgd(double lr, Index batch, int epochs) {
  TrainOptions o;
  o.learning_rate = lr;
  o.batch_size = batch;
  o.epochs = epochs;
  return o;
}

inline Vector<double> vector(std::initializer_list<double> values) {
  Vector<double> v(static_cast<Index>(values.size()));
  Index i = 0;
  for (double x : values) v(i++) = x;
  return v;
}

// The 3-2-1 sigmoid network of the question (docs/fixtures.md, fixture 1).
inline Network<double> net_321() {
  Network<double> net;
  net.loss = Loss::quadratic;
  net.reduction = Reduction::mean;
  net.layers.push_back({Activation::sigmoid, matrix({{0.1, 0.15, 0.2}, {0.3, 0.35, 0.4}}), vector({0.25, 0.45})});
  net.layers.push_back({Activation::sigmoid, matrix({{0.5, 0.55}}), vector({0.6})});
  return net;
}
inline Matrix<double> input_321() { return matrix({{0.0}, {0.5}, {1.0}}); }  // one column = one sample
inline Matrix<double> target_321() { return matrix({{1.0}}); }

// The message of the InputError that `f()` throws, or "(no InputError)" when it
// returns: compare it with the expected message in one EXPECT_EQ.
template <class F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

}  // namespace gradcheck::testing
