#pragma once
// A case: one network, one batch of inputs and targets. The unit every check,
// report and probe works on; its JSON form is documented in docs/case-format.md
// and read/written by case_format.hpp.

#include <gradcheck/engine/network.hpp>
#include <gradcheck/engine/precision.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace gradcheck {

struct Case {
  std::string name;        // optional label ("" = none), e.g. the fixture or probe case it came from
  Network<double> network;
  Matrix<double> inputs;   // features × samples (JSON: one row per sample; an image sample channel-major)
  Matrix<double> targets;  // outputs × samples  (JSON: one row per sample)

  Index batch_size() const { return inputs.cols(); }
};

// Gradients claimed by an implementation under test (the reply format).
// A conv2d layer's dL/dW is the out_channels × (in_channels·kh·kw) matrix of its
// weights; a pooling layer's entry is empty ({"weights": [], "biases": []}).
struct LayerGradient {
  Matrix<double> weights;  // dL/dW, the shape of the case's W (may differ: checked, not assumed)
  Vector<double> biases;   // dL/db
  // [out, in, kh, kw] when the weights are a conv2d kernel written 4-D (a reply's
  // [out][in][kh][kw] arrays, make_reply on a conv2d layer); empty for a matrix.
  std::vector<Index> weights_shape{};
};

struct Reply {
  std::optional<std::string> error;          // {"error": "..."}: the implementation declines the case
  std::vector<LayerGradient> layers;         // dL/dW, dL/db per layer
  std::optional<double> loss;                // the implementation's loss, when sent
  std::optional<Matrix<double>> outputs;     // outputs × samples, when sent
  // The format the implementation computes in ("precision": "float32"), when
  // stated; verify infers it from the values otherwise (docs/verify.md).
  std::optional<Precision> precision;
  // Non-finite values read (bare NaN/Infinity tokens, null, numbers beyond the
  // double range): their JSON paths, e.g. "layers[0].weights[1][0]", the first
  // max_recorded_non_finite of them, and how many there were in all.
  std::vector<std::string> non_finite_tokens;
  std::size_t non_finite_count = 0;

  bool declined() const { return error.has_value(); }
};

}  // namespace gradcheck
