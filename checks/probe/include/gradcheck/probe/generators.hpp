#pragma once
// RapidCheck generators of cases (network + batch), shared by the property
// tests and by `gradcheck probe`. Every pick is made with `*gen` inside
// gen::exec, so a failing case shrinks: fewer layers, narrower layers, smaller
// batches, simpler activations, and weights and inputs towards 0.
//
// Dense networks by default. With conv2d, max_pool or avg_pool in
// CaseSpace::layer_types, every case is an image network: 1 to
// max_conv_layers blocks of a conv2d layer and an optional pooling layer
// (pooling alone when conv2d is not allowed), then 1 or more dense layers, the
// output dense; every geometry valid (a kernel no larger than the padded map, a
// window no larger than the map). A case with a max-pool layer has, 1 time in
// 3, exact ties in max-pool windows on purpose (Ties: constant images, or
// two-valued images under flat first kernels; docs/probe.md#convolutional-networks).
// A space without image kinds makes exactly the draws it always made: the
// dense cases of a seed do not change.
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
#include <string>
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
  // The kinds of layer a case may hold; dense is required (the output layer is
  // dense). Any of conv2d, max_pool, avg_pool makes image networks too.
  std::vector<LayerKind> layer_types{LayerKind::dense};
  int max_conv_layers = 2;  // image blocks (a conv2d layer and its optional pooling)
  int max_channels = 3;     // channels of the input image and of every conv2d layer
  int max_image_side = 8;   // height and width of the input image
};

inline bool allows(const CaseSpace& s, LayerKind k) {
  return std::find(s.layer_types.begin(), s.layer_types.end(), k) != s.layer_types.end();
}

// Whether the space draws image networks (any of conv2d, max_pool, avg_pool).
inline bool allows_images(const CaseSpace& s) {
  return allows(s, LayerKind::conv2d) || allows(s, LayerKind::max_pool) || allows(s, LayerKind::avg_pool);
}

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

// The activations a hidden layer may take (no softmax) and those the output
// layer may take under `loss`.
inline void activation_choices(const CaseSpace& space, Loss loss, std::vector<Activation>& hidden,
                               std::vector<Activation>& output) {
  for (Activation a : space.activations) {
    if (a != Activation::softmax) hidden.push_back(a);
    if (output_supports(loss, a)) output.push_back(a);
  }
}

// `count` dense layers on `fan_in` inputs, the last one the output; returns its units.
inline Index dense_layers(Network<double>& net, const CaseSpace& space, int count, Index fan_in, double scale) {
  std::vector<Activation> hidden, output;
  activation_choices(space, net.loss, hidden, output);
  RC_PRE(!output.empty() && (count == 1 || !hidden.empty()));
  for (int l = 0; l < count; ++l) {
    Layer<double> layer;
    layer.activation = *rc::gen::elementOf(l + 1 == count ? output : hidden);
    const int min_units = layer.activation == Activation::softmax ? std::max(2, space.min_width) : space.min_width;
    RC_PRE(min_units <= space.max_width);
    const Index units = *rc::gen::inRange(min_units, space.max_width + 1);
    layer.weights = *matrix(units, fan_in, scale);
    layer.biases = *matrix(units, 1, scale);
    net.layers.push_back(std::move(layer));
    fan_in = units;
  }
  return fan_in;
}

// A conv2d layer on `in`: channels 1..max_channels, padding 0–1, each kernel
// side 1..3 and no larger than the padded map, stride 1–2.
inline Layer<double> conv_on(const CaseSpace& space, const ImageShape& in, Activation act, double scale) {
  ConvGeometry g;
  g.in_channels = in.channels;
  g.height = in.height;
  g.width = in.width;
  g.padding = *rc::gen::inRange(0, 2);
  g.kernel_h = *rc::gen::inRange<Index>(1, std::min<Index>(3, in.height + 2 * g.padding) + 1);
  g.kernel_w = *rc::gen::inRange<Index>(1, std::min<Index>(3, in.width + 2 * g.padding) + 1);
  g.stride = *rc::gen::inRange(1, 3);
  const Index out = *rc::gen::inRange(1, space.max_channels + 1);
  return conv2d_layer(g, act, *matrix(out, g.weight_cols(), scale), Vector<double>(*matrix(out, 1, scale)));
}

// A pooling layer of a kind in `kinds` on `in` (at least 2 × 2): window 2..3,
// no larger than the map, stride 1..window.
inline Layer<double> pool_on(const std::vector<LayerKind>& kinds, const ImageShape& in) {
  const LayerKind kind = *rc::gen::elementOf(kinds);
  const Index window = *rc::gen::inRange<Index>(2, std::min<Index>({3, in.height, in.width}) + 1);
  Layer<double> layer = pool_layer(kind, window, *rc::gen::inRange<Index>(1, window + 1));
  layer.pool.channels = in.channels;
  layer.pool.height = in.height;
  layer.pool.width = in.width;
  return layer;
}

// The image layers of an image network: 1..max_conv_layers blocks, each a
// conv2d layer (when allowed) and an optional pooling layer. Returns the map
// they leave; `conv_layers` counts the conv2d layers.
inline ImageShape image_layers(Network<double>& net, const CaseSpace& space, double scale, int& conv_layers) {
  std::vector<Activation> hidden, output;
  activation_choices(space, net.loss, hidden, output);
  std::vector<LayerKind> pools;
  for (LayerKind k : {LayerKind::max_pool, LayerKind::avg_pool})
    if (allows(space, k)) pools.push_back(k);
  const bool conv = allows(space, LayerKind::conv2d);
  RC_PRE(!conv || !hidden.empty());
  ImageShape shape = net.input_shape;
  const int blocks = *rc::gen::inRange(1, space.max_conv_layers + 1);
  for (int b = 0; b < blocks; ++b) {
    if (conv) {
      net.layers.push_back(conv_on(space, shape, *rc::gen::elementOf(hidden), scale));
      ++conv_layers;
      shape = net.layers.back().output_shape();
    }
    const bool poolable = !pools.empty() && shape.height >= 2 && shape.width >= 2;
    if (!conv && !poolable) break;
    if (poolable && (!conv || *rc::gen::arbitrary<bool>())) {
      net.layers.push_back(pool_on(pools, shape));
      shape = net.layers.back().output_shape();
    }
  }
  RC_PRE(!net.layers.empty());
  return shape;
}

inline bool has_layer(const Network<double>& net, LayerKind k) {
  return std::any_of(net.layers.begin(), net.layers.end(), [k](const auto& l) { return l.kind == k; });
}

// How an image case's inputs tie max-pool windows on purpose.
enum class Ties {
  none,
  // One value per channel and sample: every window the padding does not reach
  // ties, between equal patches.
  constant,
  // Pixels 0 or one value per sample, and the first conv2d layer's kernel one
  // value per output channel: windows tie between patches of equal sums and
  // different contents, where the entry that takes the gradient changes dW.
  equal_sums,
};

// The inputs of an image network: any values, or tied as `ties` says.
inline Matrix<double> image_inputs(const ImageShape& in, Index batch, double scale, Ties ties) {
  if (ties == Ties::none) return *matrix(in.size(), batch, scale);
  const Matrix<double> level = *matrix(in.channels, batch, scale);
  Matrix<double> x(in.size(), batch);
  const Index plane = in.height * in.width;
  for (Index n = 0; n < batch; ++n)
    for (Index ch = 0; ch < in.channels; ++ch)
      for (Index k = 0; k < plane; ++k)
        x(ch * plane + k, n) = ties == Ties::constant || *rc::gen::arbitrary<bool>() ? level(ch, n) : 0.0;
  return x;
}

// Each output channel's kernel made one value (its first entry), for Ties::equal_sums.
inline void flat_kernels(Layer<double>& conv) {
  for (Index o = 0; o < conv.weights.rows(); ++o) conv.weights.row(o).setConstant(conv.weights(o, 0));
}

// An image network (see the header comment): its image layers, then dense layers.
inline Case image_case(const CaseSpace& space, Loss loss, Reduction reduction, double scale) {
  Case c;
  c.network.loss = loss;
  c.network.reduction = reduction;
  c.network.input_shape = {*rc::gen::inRange<Index>(1, space.max_channels + 1),
                           *rc::gen::inRange<Index>(1, space.max_image_side + 1),
                           *rc::gen::inRange<Index>(1, space.max_image_side + 1)};
  int conv_layers = 0;
  const ImageShape map = image_layers(c.network, space, scale, conv_layers);
  const int most = std::max(1, space.max_layers - conv_layers);
  const int dense = *rc::gen::inRange(std::min(most, std::max(1, space.min_layers - conv_layers)), most + 1);
  const Index outputs = dense_layers(c.network, space, dense, map.size(), scale);
  connect_shapes(c.network);
  const Index batch = *rc::gen::inRange(space.min_batch, space.max_batch + 1);
  // 1 case in 3 with max pooling ties on purpose, half of them each way.
  const int draw = has_layer(c.network, LayerKind::max_pool) ? *rc::gen::inRange(0, 6) : 0;
  const Ties ties = draw == 4 ? Ties::constant : draw == 5 ? Ties::equal_sums : Ties::none;
  if (ties == Ties::equal_sums && c.network.layers.front().kind == LayerKind::conv2d)
    flat_kernels(c.network.layers.front());
  c.inputs = image_inputs(c.network.input_shape, batch, scale, ties);
  c.targets = *targets(loss, outputs, batch);
  return c;
}

inline rc::Gen<Case> any_case(const CaseSpace& space) {
  return rc::gen::exec([space]() {
    RC_PRE(!space.activations.empty() && !space.losses.empty() && !space.reductions.empty());
    if (allows_images(space)) {
      const Loss loss = *rc::gen::elementOf(space.losses);
      const Reduction reduction = *rc::gen::elementOf(space.reductions);
      return image_case(space, loss, reduction, magnitude_scale(*rc::gen::elementOf(space.magnitudes)));
    }
    Case c;
    const int L = *rc::gen::inRange(space.min_layers, space.max_layers + 1);
    c.network.loss = *rc::gen::elementOf(space.losses);
    c.network.reduction = *rc::gen::elementOf(space.reductions);

    std::vector<Activation> hidden, output;
    activation_choices(space, c.network.loss, hidden, output);
    RC_PRE(!output.empty() && (L == 1 || !hidden.empty()));

    const Magnitude mag = *rc::gen::elementOf(space.magnitudes);
    const double scale = magnitude_scale(mag);
    const Index inputs = *rc::gen::inRange(space.min_width, space.max_width + 1);
    const Index outputs = dense_layers(c.network, space, L, inputs, scale);
    const Index batch = *rc::gen::inRange(space.min_batch, space.max_batch + 1);
    c.inputs = *matrix(inputs, batch, scale);
    c.targets = *targets(c.network.loss, outputs, batch);
    return c;
  });
}

}  // namespace gen

// An image layer in words, for counterexamples: "conv2d 3×3 kernel, 1 -> 2
// channels, stride 1, padding 1, relu" or "max_pool 2×2, stride 2"; "" for dense.
inline std::string describe_image_layer(const Layer<double>& l) {
  const auto n = [](Index x) { return std::to_string(x); };
  if (l.kind == LayerKind::conv2d)
    return "conv2d " + n(l.conv.kernel_h) + "×" + n(l.conv.kernel_w) + " kernel, " + n(l.conv.in_channels) + " -> " +
           n(l.conv.out_channels) + " channels, stride " + n(l.conv.stride) + ", padding " + n(l.conv.padding) + ", " +
           to_string(l.activation);
  if (is_pooling(l.kind))
    return std::string(to_string(l.kind)) + " " + n(l.pool.window) + "×" + n(l.pool.window) + ", stride " +
           n(l.pool.stride);
  return "";
}

// How RapidCheck prints a counterexample: layer by layer, then the batch.
inline void showValue(const Case& c, std::ostream& os) {
  const Eigen::IOFormat fmt(Eigen::FullPrecision, Eigen::DontAlignCols, ", ", "; ", "", "", "[", "]");
  os << "loss " << to_string(c.network.loss) << ", reduction " << to_string(c.network.reduction) << "\n";
  if (!c.network.input_shape.empty()) os << "input shape " << to_string(c.network.input_shape) << "\n";
  for (std::size_t l = 0; l < c.network.layers.size(); ++l) {
    const auto& layer = c.network.layers[l];
    if (!layer.is_dense()) {
      os << "layer " << l << " " << describe_image_layer(layer) << ", output " << to_string(layer.output_shape());
      if (layer.kind == LayerKind::conv2d)
        os << " W " << layer.weights.format(fmt) << " b " << layer.biases.transpose().format(fmt);
      os << "\n";
      continue;
    }
    os << "layer " << l << " " << to_string(layer.activation) << " W " << layer.weights.format(fmt)
       << " b " << layer.biases.transpose().format(fmt) << "\n";
  }
  os << "inputs (columns are samples) " << c.inputs.format(fmt) << "\ntargets " << c.targets.format(fmt);
}

}  // namespace gradcheck
