#pragma once
// RapidCheck generators of cases (network + batch), shared by the property
// tests and by `gradcheck probe`. Every pick is made with `*gen` inside
// gen::exec, so a failing case shrinks: fewer layers, narrower layers, smaller
// batches, simpler activations, and weights and inputs towards 0.
//
// How to use:
//   RC_GTEST_PROP(Engine, BackwardMatchesReference, ()) {
//     const Case c = *gradcheck::gen::any_case(CaseSpace{});
//     ...
//   }

#include <gradcheck/engine/case.hpp>

#include <rapidcheck.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <vector>

namespace gradcheck {

// Magnitude classes for weights, biases and inputs. `huge` reaches softmax
// logits past exp's overflow at ≈ 709 (the NaN of naive softmax implementations).
enum class Magnitude { unit, tiny, large, huge };

// What to generate. Defaults cover everything the engine supports; a probe of
// a partial implementation narrows it (docs/probe.md).
struct CaseSpace {
  std::vector<Activation> activations{std::begin(all_activations), std::end(all_activations)};
  std::vector<Loss> losses{std::begin(all_losses), std::end(all_losses)};
  std::vector<Reduction> reductions{Reduction::mean, Reduction::sum};
  std::vector<Magnitude> magnitudes{Magnitude::unit, Magnitude::tiny, Magnitude::large, Magnitude::huge};
  int min_layers = 1, max_layers = 5;  // layers with weights (hidden + output)
  int min_width = 1, max_width = 8;    // inputs and units of every layer
  int min_batch = 1, max_batch = 8;
};

namespace gen {

// A value in [−scale, scale] on a grid of 1/1000, shrinking towards 0.
inline rc::Gen<double> signed_value(double scale) {
  return rc::gen::exec([scale]() {
    const int k = *rc::gen::inRange(0, 1001);
    const bool negative = *rc::gen::arbitrary<bool>();
    const double v = scale * k / 1000.0;
    return negative ? -v : v;
  });
}

inline double magnitude_scale(Magnitude m) {
  switch (m) {
    case Magnitude::unit: return 2.0;
    case Magnitude::tiny: return 1e-6;
    case Magnitude::large: return 30.0;
    case Magnitude::huge: return 1000.0;
  }
  return 1.0;
}

inline rc::Gen<Matrix<double>> matrix(Index rows, Index cols, double scale) {
  return rc::gen::exec([=]() {
    Matrix<double> m(rows, cols);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = *signed_value(scale);
    return m;
  });
}

// Targets valid for the loss: quadratic takes any value; cross_entropy a
// probability vector (one-hot or spread) per sample; binary_cross_entropy
// values in [0, 1].
inline rc::Gen<Matrix<double>> targets(Loss loss, Index outputs, Index batch) {
  return rc::gen::exec([=]() {
    Matrix<double> y(outputs, batch);
    for (Index c = 0; c < batch; ++c) {
      switch (loss) {
        case Loss::quadratic:
          for (Index k = 0; k < outputs; ++k) y(k, c) = *signed_value(1.0);
          break;
        case Loss::cross_entropy: {
          if (*rc::gen::arbitrary<bool>()) {
            y.col(c).setZero();
            y(*rc::gen::inRange<Index>(0, outputs), c) = 1.0;
          } else {
            double total = 0;
            for (Index k = 0; k < outputs; ++k) total += y(k, c) = *rc::gen::inRange(0, 1001) / 1000.0;
            if (total > 0) y.col(c) /= total;
            else y(0, c) = 1.0;
          }
          break;
        }
        case Loss::binary_cross_entropy:
          for (Index k = 0; k < outputs; ++k) y(k, c) = *rc::gen::inRange(0, 1001) / 1000.0;
          break;
      }
    }
    return y;
  });
}

inline rc::Gen<Case> any_case(const CaseSpace& space) {
  return rc::gen::exec([space]() {
    RC_PRE(!space.activations.empty() && !space.losses.empty() && !space.reductions.empty());
    Case c;
    const int L = *rc::gen::inRange(space.min_layers, space.max_layers + 1);
    c.network.loss = *rc::gen::elementOf(space.losses);
    c.network.reduction = *rc::gen::elementOf(space.reductions);

    std::vector<Activation> hidden, output;
    for (Activation a : space.activations) {
      if (a != Activation::softmax) hidden.push_back(a);
      if (output_supports(c.network.loss, a)) output.push_back(a);
    }
    RC_PRE(!output.empty() && (L == 1 || !hidden.empty()));

    const Magnitude mag = *rc::gen::elementOf(space.magnitudes);
    const double scale = magnitude_scale(mag);
    Index fan_in = *rc::gen::inRange(space.min_width, space.max_width + 1);
    const Index inputs = fan_in;
    for (int l = 0; l < L; ++l) {
      Layer<double> layer;
      layer.activation = *rc::gen::elementOf(l + 1 == L ? output : hidden);
      const int min_units = layer.activation == Activation::softmax ? std::max(2, space.min_width) : space.min_width;
      RC_PRE(min_units <= space.max_width);
      const Index units = *rc::gen::inRange(min_units, space.max_width + 1);
      layer.weights = *matrix(units, fan_in, scale);
      layer.biases = *matrix(units, 1, scale);
      c.network.layers.push_back(std::move(layer));
      fan_in = units;
    }
    const Index batch = *rc::gen::inRange(space.min_batch, space.max_batch + 1);
    c.inputs = *matrix(inputs, batch, scale);
    c.targets = *targets(c.network.loss, fan_in, batch);
    return c;
  });
}

}  // namespace gen

// How RapidCheck prints a counterexample: layer by layer, then the batch.
inline void showValue(const Case& c, std::ostream& os) {
  const Eigen::IOFormat fmt(Eigen::FullPrecision, Eigen::DontAlignCols, ", ", "; ", "", "", "[", "]");
  os << "loss " << to_string(c.network.loss) << ", reduction " << to_string(c.network.reduction) << "\n";
  for (std::size_t l = 0; l < c.network.layers.size(); ++l) {
    const auto& layer = c.network.layers[l];
    os << "layer " << l << " " << to_string(layer.activation) << " W " << layer.weights.format(fmt)
       << " b " << layer.biases.transpose().format(fmt) << "\n";
  }
  os << "inputs (columns are samples) " << c.inputs.format(fmt) << "\ntargets " << c.targets.format(fmt);
}

}  // namespace gradcheck
