#pragma once
// A labelled dataset in the engine's layout: one column per sample.
//
// The inputs are either a matrix of S (`inputs`) or, for data that arrives as
// bytes (IDX images, idx::load), one byte per value and a table of what each
// byte stands for (`bytes`): an eighth of the memory of doubles, decoded one
// batch at a time by the trainer (input_columns). Both give the same numbers.

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/scalar.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gradcheck {

// Inputs kept as bytes: value(f, j) = value[codes[j·features + f]].
template <class S>
struct ByteInputs {
  Index features = 0, samples = 0;
  std::vector<std::uint8_t> codes;  // features × samples, column-major (the IDX file's own order)
  std::array<S, 256> value{};       // what each byte stands for
};

template <class S = double>
struct Dataset {
  Matrix<S> inputs;         // features × samples (empty when `bytes` holds the inputs)
  Matrix<S> targets;        // outputs × samples (one-hot for classification)
  std::vector<int> labels;  // class of each sample, or empty for regression
  std::optional<ByteInputs<S>> bytes;  // the inputs as bytes instead of `inputs`

  Index size() const { return bytes ? bytes->samples : inputs.cols(); }
  Index features() const { return bytes ? bytes->features : inputs.rows(); }

  // Sample j's inputs into `out` (a column of features() entries).
  template <class Out>
  void input_column(Index j, Out&& out) const {
    if (!bytes) {
      out = inputs.col(j);
      return;
    }
    const std::uint8_t* code = bytes->codes.data() + j * bytes->features;
    for (Index f = 0; f < bytes->features; ++f) out(f) = bytes->value[code[f]];
  }

  // Asks the memory system for the inputs of the n samples at `samples` (a hint,
  // no effect on any value): the trainer names the next batch while it works on
  // this one, so that a shuffled batch's bytes are in cache when decoded (one
  // epoch of Fashion-MNIST: 35 -> 19 ms of decoding, bench/README.md).
  void prefetch(const Index* samples, Index n) const {
    constexpr Index line = 64;
    for (Index c = 0; c < n; ++c) {
      const char* p = bytes ? reinterpret_cast<const char*>(bytes->codes.data() + samples[c] * bytes->features)
                            : reinterpret_cast<const char*>(inputs.data() + samples[c] * inputs.rows());
      const Index size = bytes ? bytes->features : inputs.rows() * Index(sizeof(S));
      for (Index k = 0; k < size; k += line) __builtin_prefetch(p + k);
    }
  }

  // Samples [begin, begin + n) as a features × n matrix, into `out`.
  void input_columns(Index begin, Index n, Matrix<S>& out) const {
    if (!bytes) {
      out = inputs.middleCols(begin, n);
      return;
    }
    out.resize(bytes->features, n);
    for (Index c = 0; c < n; ++c) input_column(begin + c, out.col(c));
  }

  // Every input as a matrix (a copy; the whole decoded set when `bytes` holds it).
  Matrix<S> dense_inputs() const {
    Matrix<S> x;
    input_columns(0, size(), x);
    return x;
  }

  // Samples [begin, end) as a new dataset (copies).
  Dataset slice(Index begin, Index end) const {
    Dataset d;
    if (bytes) {
      d.bytes = ByteInputs<S>{bytes->features, end - begin, {}, bytes->value};
      const auto first = bytes->codes.begin() + begin * bytes->features;
      d.bytes->codes.assign(first, first + (end - begin) * bytes->features);
    } else {
      d.inputs = inputs.middleCols(begin, end - begin);
    }
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
