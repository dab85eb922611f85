#pragma once
// A RapidCheck generator of small convolutional cases, for the engine's and the
// checks' tests (included by relative path). The probe's own generator,
// gen::any_case, stays dense, and its draws for a seed are unchanged; drawing
// conv cases in the probe is a later item of issue 14.
//
// A case: an image of 1–max_channels channels, min_size–max_size a side; an
// optional pooling layer first; 1–max_conv_layers conv2d layers (1–max_channels
// output channels, kernels 1–3 a side, stride 1–2, padding 0–1, any activation
// but softmax), each optionally followed by a max or avg pool (window 1–3,
// stride 1–2); then 1–max_dense_layers dense layers. A quarter of the cases have
// large values (saturated units); a third of the batches are drawn on the grid
// {−1, −½, 0, ½, 1}, so that max-pool windows tie exactly.
//
// How to use:
//   RC_GTEST_PROP(Conv, Something, ()) { const Case c = *gradcheck::gen::conv_case(); ... }
#include <gradcheck/probe/generators.hpp>

#include <algorithm>
#include <vector>

namespace gradcheck::gen {

struct ConvCaseSpace {
  int max_channels = 2;
  int min_size = 3, max_size = 6;  // the image's height and width
  int max_conv_layers = 2, max_dense_layers = 2, max_units = 4;
  int max_batch = 2;
  double scale = 1.0;  // weights, biases and inputs in [−scale, scale] ...
  double large = 20.0;  // ... or, for a quarter of the cases, in [−large, large] (saturated units)
};

namespace detail {

// A pooling layer that fits `image` (window at most its height and width), or none.
inline void maybe_pool(Network<double>& net, ImageShape& image) {
  const int largest = static_cast<int>(std::min<Index>({3, image.height, image.width}));
  if (!*rc::gen::arbitrary<bool>()) return;
  const LayerKind kind = *rc::gen::element(LayerKind::max_pool, LayerKind::avg_pool);
  const Index window = *rc::gen::inRange(1, largest + 1), stride = *rc::gen::inRange(1, 3);
  net.layers.push_back(pool_layer(kind, window, stride));
  image = {image.channels, (image.height - window) / stride + 1, (image.width - window) / stride + 1};
}

inline void conv_layer(Network<double>& net, ImageShape& image, const ConvCaseSpace& s) {
  ConvGeometry g;
  g.in_channels = image.channels;
  g.stride = *rc::gen::inRange(1, 3);
  g.padding = *rc::gen::inRange(0, 2);
  g.kernel_h = *rc::gen::inRange<Index>(1, std::min<Index>(3, image.height + 2 * g.padding) + 1);
  g.kernel_w = *rc::gen::inRange<Index>(1, std::min<Index>(3, image.width + 2 * g.padding) + 1);
  const Index out = *rc::gen::inRange(1, s.max_channels + 1);
  const Activation act = *rc::gen::element(Activation::identity, Activation::sigmoid, Activation::tanh,
                                           Activation::relu, Activation::leaky_relu);
  net.layers.push_back(conv2d_layer(g, act, *matrix(out, g.in_channels * g.kernel_h * g.kernel_w, s.scale),
                                    Vector<double>(*matrix(out, 1, s.scale))));
  image = {out, (image.height + 2 * g.padding - g.kernel_h) / g.stride + 1,
           (image.width + 2 * g.padding - g.kernel_w) / g.stride + 1};
}

inline void dense_layers(Network<double>& net, Index fan_in, const ConvCaseSpace& s) {
  const int L = *rc::gen::inRange(1, s.max_dense_layers + 1);
  std::vector<Activation> output;
  for (Activation a : all_activations)
    if (output_supports(net.loss, a)) output.push_back(a);
  for (int l = 0; l < L; ++l) {
    Layer<double> layer;
    layer.activation = l + 1 == L ? *rc::gen::elementOf(output)
                                  : *rc::gen::element(Activation::identity, Activation::sigmoid, Activation::tanh,
                                                      Activation::relu, Activation::leaky_relu);
    const int least = layer.activation == Activation::softmax ? 2 : 1;
    const Index units = *rc::gen::inRange(least, std::max(least, s.max_units) + 1);
    layer.weights = *matrix(units, fan_in, s.scale);
    layer.biases = *matrix(units, 1, s.scale);
    net.layers.push_back(std::move(layer));
    fan_in = units;
  }
}

// A batch on the grid {−1, −½, 0, ½, 1} (ties in max-pool windows) or drawn like the weights.
inline Matrix<double> image_batch(Index features, Index batch, double scale) {
  if (*rc::gen::inRange(0, 3) > 0) return *matrix(features, batch, scale);
  Matrix<double> x(features, batch);
  for (Index k = 0; k < x.size(); ++k) x.data()[k] = *rc::gen::inRange(-2, 3) / 2.0;
  return x;
}

}  // namespace detail

inline rc::Gen<Case> conv_case(ConvCaseSpace space = {}) {
  return rc::gen::exec([space]() {
    ConvCaseSpace s = space;
    if (*rc::gen::inRange(0, 4) == 0) s.scale = s.large;
    Case c;
    c.network.loss = *rc::gen::elementOf(std::vector<Loss>(std::begin(all_losses), std::end(all_losses)));
    c.network.reduction = *rc::gen::element(Reduction::mean, Reduction::sum);
    ImageShape image{*rc::gen::inRange(1, s.max_channels + 1), *rc::gen::inRange(s.min_size, s.max_size + 1),
                     *rc::gen::inRange(s.min_size, s.max_size + 1)};
    c.network.input_shape = image;
    if (*rc::gen::inRange(0, 4) == 0) detail::maybe_pool(c.network, image);
    const int convs = *rc::gen::inRange(1, s.max_conv_layers + 1);
    for (int k = 0; k < convs; ++k) {
      detail::conv_layer(c.network, image, s);
      detail::maybe_pool(c.network, image);
    }
    detail::dense_layers(c.network, image.size(), s);
    connect_shapes(c.network);
    const Index batch = *rc::gen::inRange(1, s.max_batch + 1);
    c.inputs = detail::image_batch(c.network.input_size(), batch, s.scale);
    c.targets = *targets(c.network.loss, c.network.output_size(), batch);
    return c;
  });
}

}  // namespace gradcheck::gen
