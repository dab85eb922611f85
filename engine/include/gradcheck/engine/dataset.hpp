#pragma once
// A labelled dataset in the engine's layout: one column per sample.

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/scalar.hpp>

#include <string>
#include <vector>

namespace gradcheck {

template <class S = double>
struct Dataset {
  Matrix<S> inputs;         // features × samples
  Matrix<S> targets;        // outputs × samples (one-hot for classification)
  std::vector<int> labels;  // class of each sample, or empty for regression

  Index size() const { return inputs.cols(); }
  Index features() const { return inputs.rows(); }

  // Samples [begin, end) as a new dataset (copies).
  Dataset slice(Index begin, Index end) const {
    Dataset d;
    d.inputs = inputs.middleCols(begin, end - begin);
    d.targets = targets.middleCols(begin, end - begin);
    if (!labels.empty()) d.labels.assign(labels.begin() + begin, labels.begin() + end);
    return d;
  }
};

// One-hot targets (classes × samples) for integer labels in [0, classes).
template <class S = double>
Matrix<S> one_hot(const std::vector<int>& labels, Index classes) {
  Matrix<S> y = Matrix<S>::Zero(classes, static_cast<Index>(labels.size()));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes)
      throw InputError("", "labels[" + std::to_string(i) + "]",
                       "is " + std::to_string(labels[i]) + ", expected 0.." + std::to_string(classes - 1));
    y(labels[i], static_cast<Index>(i)) = S(1);
  }
  return y;
}

}  // namespace gradcheck
