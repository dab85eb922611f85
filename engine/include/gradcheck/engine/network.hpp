#pragma once
// Network<Scalar>: a feed-forward network of dense, conv2d and pooling layers,
// its forward pass, its loss and its analytic backward pass, written once for
// every scalar type.
//
// Definitions (the contract shared with the JSON case format, docs/case-format.md):
//   dense l:  z_l = W_l a_{l-1} + b_l,  a_l = act_l(z_l),  a_0 = the input;
//             W_l(j, i) is the weight from input i into unit j.
//   conv2d l: z_l = W_l ⋆ a_{l-1} + b_l (cross-correlation, stride, zero padding;
//             conv.hpp), a_l = act_l(z_l); W_l is out_channels × (in_channels·kh·kw),
//             row o = PyTorch's weight[o] flattened, one bias per output channel.
//   max_pool, avg_pool l: z_l = the window maxima or means of a_{l-1}, a_l = z_l
//             (no activation: identity; no parameters).
//   An image sample [channel][y][x] is one column, channel-major (conv.hpp); the
//   case states the first layer's image shape (Network::input_shape). Image layers
//   come first; the first dense layer reads the last feature map flattened as it is.
//   activations: identity, sigmoid, tanh, relu (relu'(z) = 1 if z > 0 else 0),
//             leaky_relu (slope 0.01 for z <= 0), softmax (last layer only).
//   per-sample loss:  quadratic             ½ Σ_k (a_k − y_k)²
//                     cross_entropy         −Σ_k y_k ln a_k        (terms with y_k = 0 count 0)
//                     binary_cross_entropy  −Σ_k [y_k ln a_k + (1 − y_k) ln(1 − a_k)]
//   reduction: mean (default) averages the per-sample losses over the batch; sum adds them.
//
// Batches are matrices with one column per sample (features × samples).
//
// How to use:
//   Network<double> net = ...;                       // or read_case("case.json").network
//   ForwardPass<double> fp;  forward(net, X, fp);    // keeps z and a of every layer
//   double L = loss(net, fp, Y);
//   Gradients<double> g;     backward(net, fp, Y, g);// dL/dW, dL/db, dL/dz, dL/dX
//   auto net50 = net.cast<cpp_bin_float_50>();       // the same network in 50 digits

#include <gradcheck/engine/conv.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/scalar.hpp>

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace gradcheck {

enum class Activation { identity, sigmoid, tanh, relu, leaky_relu, softmax };
enum class Loss { quadratic, cross_entropy, binary_cross_entropy };
enum class Reduction { mean, sum };

inline constexpr double leaky_relu_slope = 0.01;

inline constexpr Activation all_activations[] = {Activation::identity, Activation::sigmoid,
                                                 Activation::tanh,     Activation::relu,
                                                 Activation::leaky_relu, Activation::softmax};
inline constexpr Loss all_losses[] = {Loss::quadratic, Loss::cross_entropy,
                                      Loss::binary_cross_entropy};

inline const char* to_string(Activation a) {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::softmax: return "softmax";
  }
  return "?";
}
inline const char* to_string(Loss l) {
  switch (l) {
    case Loss::quadratic: return "quadratic";
    case Loss::cross_entropy: return "cross_entropy";
    case Loss::binary_cross_entropy: return "binary_cross_entropy";
  }
  return "?";
}
inline const char* to_string(Reduction r) { return r == Reduction::mean ? "mean" : "sum"; }

// What the loss of a batch of n samples is divided by: n for mean, 1 for sum.
// Multiply a reduced gradient by it to get the summed one.
template <class S = double>
S batch_divisor(Reduction r, Index n) {
  return r == Reduction::mean ? S(n) : S(1);
}

inline std::optional<Activation> parse_activation(std::string_view s) {
  for (Activation a : all_activations)
    if (s == to_string(a)) return a;
  return std::nullopt;
}
inline std::optional<Loss> parse_loss(std::string_view s) {
  for (Loss l : all_losses)
    if (s == to_string(l)) return l;
  return std::nullopt;
}
inline std::optional<Reduction> parse_reduction(std::string_view s) {
  if (s == "mean") return Reduction::mean;
  if (s == "sum") return Reduction::sum;
  return std::nullopt;
}

// Has a kink at z = 0 (derivative undefined there; see checks/ for how it is handled).
inline bool has_kink(Activation a) {
  return a == Activation::relu || a == Activation::leaky_relu;
}

// The loss needs outputs in (0, 1): only these output activations make it defined.
inline bool output_supports(Loss loss, Activation out) {
  if (loss == Loss::quadratic) return true;
  return out == Activation::sigmoid || out == Activation::softmax;
}

// What a layer computes (docs/case-format.md); a layer is dense unless it says otherwise.
enum class LayerKind { dense, conv2d, max_pool, avg_pool };

inline constexpr LayerKind all_layer_kinds[] = {LayerKind::dense, LayerKind::conv2d, LayerKind::max_pool,
                                                LayerKind::avg_pool};

inline const char* to_string(LayerKind k) {
  switch (k) {
    case LayerKind::dense: return "dense";
    case LayerKind::conv2d: return "conv2d";
    case LayerKind::max_pool: return "max_pool";
    case LayerKind::avg_pool: return "avg_pool";
  }
  return "?";
}

inline std::optional<LayerKind> parse_layer_kind(std::string_view s) {
  for (LayerKind k : all_layer_kinds)
    if (s == to_string(k)) return k;
  return std::nullopt;
}

inline bool is_pooling(LayerKind k) { return k == LayerKind::max_pool || k == LayerKind::avg_pool; }

// One image sample: channels × height × width features, flattened channel-major
// (feature (c·height + y)·width + x, conv.hpp). Empty (all 0) when not an image.
struct ImageShape {
  Index channels = 0, height = 0, width = 0;

  Index size() const { return channels * height * width; }
  bool empty() const { return channels == 0 && height == 0 && width == 0; }
  bool operator==(const ImageShape& o) const {
    return channels == o.channels && height == o.height && width == o.width;
  }
  bool operator!=(const ImageShape& o) const { return !(*this == o); }
};

inline std::string to_string(const ImageShape& s) {
  return std::to_string(s.channels) + " × " + std::to_string(s.height) + " × " + std::to_string(s.width);
}

template <class S>
struct Layer {
  Activation activation = Activation::sigmoid;  // pooling layers: identity (they have none)
  Matrix<S> weights;  // dense: units × inputs; conv2d: out_channels × (in_channels·kh·kw); pooling: empty
  Vector<S> biases;   // dense: one per unit; conv2d: one per output channel; pooling: empty
  LayerKind kind = LayerKind::dense;
  ConvGeometry conv{};  // conv2d: kernel, stride, padding, channels and the input's height and width
  PoolGeometry pool{};  // max_pool, avg_pool: window, stride, the input's shape; pool.kind agrees with kind

  // The weight matrix's rows and columns: a dense layer's units and inputs, a
  // conv2d layer's output channels and inputs per output channel, 0 for pooling.
  Index units() const { return weights.rows(); }
  Index inputs() const { return weights.cols(); }
  bool is_dense() const { return kind == LayerKind::dense; }

  // Features per sample entering and leaving the layer (its z and a).
  Index input_size() const {
    if (kind == LayerKind::dense) return inputs();
    return kind == LayerKind::conv2d ? conv.input_size() : pool.input_size();
  }
  Index output_size() const {
    if (kind == LayerKind::dense) return units();
    return kind == LayerKind::conv2d ? conv.output_size() : pool.output_size();
  }
  // The feature map an image layer leaves; empty for a dense layer.
  ImageShape output_shape() const {
    if (kind == LayerKind::conv2d) return {conv.out_channels, conv.out_h(), conv.out_w()};
    if (is_pooling(kind)) return {pool.channels, pool.out_h(), pool.out_w()};
    return {};
  }
};

// A conv2d layer; g's height and width (the input's) may be left 0 for
// connect_shapes to fill, out_channels is the rows of the weights. (The scalar
// comes from the weights; the biases may be any expression, Vector<S>::Zero(n).)
template <class S>
Layer<S> conv2d_layer(ConvGeometry g, Activation activation, Matrix<S> weights,
                      typename std::common_type<Vector<S>>::type biases) {
  Layer<S> layer;
  layer.kind = LayerKind::conv2d;
  layer.activation = activation;
  g.out_channels = weights.rows();
  layer.conv = g;
  layer.weights = std::move(weights);
  layer.biases = std::move(biases);
  return layer;
}

// A max_pool or avg_pool layer of window × window windows at `stride`; its input's
// shape is filled by connect_shapes.
template <class S = double>
Layer<S> pool_layer(LayerKind kind, Index window, Index stride) {
  Layer<S> layer;
  layer.kind = kind;
  layer.activation = Activation::identity;
  layer.pool.kind = kind == LayerKind::avg_pool ? PoolGeometry::Kind::avg : PoolGeometry::Kind::max;
  layer.pool.window = window;
  layer.pool.stride = stride;
  return layer;
}

template <class S>
struct Network {
  std::vector<Layer<S>> layers;
  Loss loss = Loss::quadratic;
  Reduction reduction = Reduction::mean;
  // The image a sample is, when the first layer is conv2d or pooling (required
  // then); a dense first layer may state it too, and then takes input_shape.size() inputs.
  ImageShape input_shape{};

  Index input_size() const { return layers.empty() ? 0 : layers.front().input_size(); }
  Index output_size() const { return layers.empty() ? 0 : layers.back().output_size(); }
  Index parameter_count() const {
    Index n = 0;
    for (const auto& l : layers) n += l.weights.size() + l.biases.size();
    return n;
  }
  // Every layer dense: the networks the trainer, verify and probe handle today.
  bool is_dense() const {
    for (const auto& l : layers)
      if (!l.is_dense()) return false;
    return true;
  }

  // The same network in another scalar type (exact for double -> wider types).
  template <class T>
  Network<T> cast() const {
    Network<T> out;
    out.loss = loss;
    out.reduction = reduction;
    out.input_shape = input_shape;
    out.layers.reserve(layers.size());
    for (const auto& l : layers) {
      Layer<T> m;
      m.activation = l.activation;
      m.weights = l.weights.unaryExpr([](const S& x) -> T { return convert<T>(x); });
      m.biases = l.biases.unaryExpr([](const S& x) -> T { return convert<T>(x); });
      m.kind = l.kind;
      m.conv = l.conv;
      m.pool = l.pool;
      out.layers.push_back(std::move(m));
    }
    return out;
  }

  template <class T>
  static T convert(const S& x) {
    if constexpr (detail::is_complex<S>::value && !detail::is_complex<T>::value)
      return T(x.real());
    else
      return T(x);
  }
};

// ---------------------------------------------------------------------------
// Structural validation: throws InputError("", "layers[l].field", problem).
// Values (NaN/Inf) are checked where they are read (case_format.hpp).

namespace detail {

// What enters a layer: the image (empty once flattened by a dense layer, or when
// the network states no input_shape), its features per sample (−1: not fixed, a
// first dense layer without input_shape takes any), and where it comes from.
struct LayerInput {
  ImageShape image;
  Index features = -1;
  std::string from;  // "input_shape" or "layers[l]"
};

inline LayerInput network_input(const ImageShape& s) {
  if (s.empty()) return {};
  const Index dims[] = {s.channels, s.height, s.width};
  Index product = 1;
  for (int k = 0; k < 3; ++k) {
    const std::string field = "input_shape[" + std::to_string(k) + "]";
    if (dims[k] < 1) throw InputError("", field, "must be at least 1, got " + std::to_string(dims[k]));
    if (dims[k] > max_layer_width / product)
      throw InputError("", "input_shape",
                       to_string(s) + " exceeds the limit of " + std::to_string(max_layer_width) +
                           " features per sample (max_layer_width, docs/limits.md)");
    product *= dims[k];
  }
  return {s, s.size(), "input_shape"};
}

// Whether the input comes from the network's input_shape (named "input_shape",
// or "network.input_shape" by the case reader).
inline bool from_input_shape(const LayerInput& in) {
  const std::string tail = "input_shape";
  return in.from.size() >= tail.size() && in.from.compare(in.from.size() - tail.size(), tail.size(), tail) == 0;
}

// Where an image layer's input comes from, for messages: "input_shape" or "layers[0]'s output".
inline std::string image_source(const LayerInput& in) {
  return from_input_shape(in) ? in.from : in.from + "'s output";
}

template <class S>
void check_dense(const Layer<S>& layer, const std::string& at, const LayerInput& in) {
  if (layer.units() < 1) throw InputError("", at + ".weights", "has no rows (a layer needs at least one unit)");
  if (layer.inputs() < 1) throw InputError("", at + ".weights", "has no columns (a layer needs at least one input)");
  if (layer.units() > max_layer_width || layer.inputs() > max_layer_width)
    throw InputError("", at + ".weights", "is wider than the limit of " + std::to_string(max_layer_width) + " units");
  if (layer.biases.size() != layer.units())
    throw InputError("", at + ".biases",
                     "has " + std::to_string(layer.biases.size()) + " entries, expected " +
                         std::to_string(layer.units()) + " (one per row of weights)");
  if (in.features >= 0 && layer.inputs() != in.features) {
    const std::string why = in.image.empty()       ? "the units of " + in.from
                            : from_input_shape(in) ? in.from + ": " + to_string(in.image)
                                                   : "the flattened output of " + in.from + ": " + to_string(in.image);
    throw InputError("", at + ".weights",
                     "rows have " + std::to_string(layer.inputs()) + " entries, expected " +
                         std::to_string(in.features) + " (" + why + ")");
  }
}

// An image layer's input: an image, with the channels, height and width its geometry states.
inline void check_image_input(LayerKind kind, const std::string& at, const LayerInput& in, Index channels,
                              const char* channels_field, Index height, Index width) {
  if (in.image.empty())
    throw InputError("", at + ".type",
                     std::string(to_string(kind)) +
                         (in.from.empty() ? " needs the image shape of a sample: the network states no input_shape"
                                          : " cannot follow the dense " + in.from +
                                                ": image layers come before the first dense layer"));
  const std::string source = image_source(in);
  if (channels != in.image.channels)
    throw InputError("", at + "." + channels_field,
                     "is " + std::to_string(channels) + ", expected " + std::to_string(in.image.channels) +
                         " (the channels of " + source + ")");
  if (height != in.image.height || width != in.image.width)
    throw InputError("", at + ".height",
                     "the input is " + std::to_string(height) + " × " + std::to_string(width) + ", expected " +
                         std::to_string(in.image.height) + " × " + std::to_string(in.image.width) + " (" + source +
                         ")");
}

template <class S>
void check_conv2d(const Layer<S>& layer, const std::string& at, const LayerInput& in) {
  const ConvGeometry& g = layer.conv;
  check_image_input(layer.kind, at, in, g.in_channels, "in_channels", g.height, g.width);
  validate(g, at);
  if (layer.weights.rows() != g.out_channels || layer.weights.cols() != g.weight_cols())
    throw InputError("", at + ".weights",
                     "is " + std::to_string(layer.weights.rows()) + " × " + std::to_string(layer.weights.cols()) +
                         ", expected out_channels × in_channels·kh·kw = " + std::to_string(g.out_channels) + " × " +
                         std::to_string(g.weight_cols()));
  if (layer.biases.size() != g.out_channels)
    throw InputError("", at + ".biases",
                     "has " + std::to_string(layer.biases.size()) + " entries, expected " +
                         std::to_string(g.out_channels) + " (one per output channel)");
}

template <class S>
void check_pooling(const Layer<S>& layer, const std::string& at, const LayerInput& in) {
  const PoolGeometry& g = layer.pool;
  const char* name = to_string(layer.kind);
  if ((layer.kind == LayerKind::max_pool) != (g.kind == PoolGeometry::Kind::max))
    throw InputError("", at + ".pool.kind", std::string("is ") + to_string(g.kind) + " in a " + name + " layer");
  check_image_input(layer.kind, at, in, g.channels, "channels", g.height, g.width);
  if (layer.activation != Activation::identity)
    throw InputError("", at + ".activation",
                     std::string("a ") + name + " layer has no activation (identity), got " +
                         to_string(layer.activation));
  if (layer.weights.size() != 0 || layer.biases.size() != 0)
    throw InputError("", at + ".weights", std::string("a ") + name + " layer has no weights or biases");
  validate(g, at);
}

// The checks of validate() on layer l of L, given what enters it; returns what leaves it.
template <class S>
LayerInput check_layer(const Layer<S>& layer, std::size_t l, std::size_t L, const LayerInput& in) {
  const std::string at = "layers[" + std::to_string(l) + "]";
  switch (layer.kind) {
    case LayerKind::dense: check_dense(layer, at, in); break;
    case LayerKind::conv2d: check_conv2d(layer, at, in); break;
    case LayerKind::max_pool:
    case LayerKind::avg_pool: check_pooling(layer, at, in); break;
  }
  if (layer.activation == Activation::softmax && l + 1 != L)
    throw InputError("", at + ".activation", "softmax is only supported on the last layer");
  if (layer.activation == Activation::softmax && layer.output_size() < 2)
    throw InputError("", at + ".activation",
                     "softmax over a single unit is the constant 1 (use sigmoid for one output)");
  return {layer.output_shape(), layer.output_size(), at};
}

}  // namespace detail

template <class S>
void validate(const Network<S>& net) {
  if (net.layers.empty()) throw InputError("", "layers", "must have at least one layer");
  detail::LayerInput in = detail::network_input(net.input_shape);
  for (std::size_t l = 0; l < net.layers.size(); ++l) in = detail::check_layer(net.layers[l], l, net.layers.size(), in);
  const Activation out = net.layers.back().activation;
  if (!output_supports(net.loss, out))
    throw InputError("", "loss",
                     std::string(to_string(net.loss)) + " needs a sigmoid or softmax output layer, got " +
                         to_string(out));
}

// Fills each image layer's input shape from net.input_shape and the layers
// before it (conv.height and conv.width; pool.channels, height and width): a
// case states the image once, at network level. Throws validate()'s InputError
// at the first layer that does not fit, and validates the network.
template <class S>
void connect_shapes(Network<S>& net) {
  if (net.layers.empty()) throw InputError("", "layers", "must have at least one layer");
  detail::LayerInput in = detail::network_input(net.input_shape);
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    Layer<S>& layer = net.layers[l];
    if (layer.kind == LayerKind::conv2d && !in.image.empty()) {
      layer.conv.height = in.image.height;
      layer.conv.width = in.image.width;
    } else if (is_pooling(layer.kind) && !in.image.empty()) {
      layer.pool.channels = in.image.channels;
      layer.pool.height = in.image.height;
      layer.pool.width = in.image.width;
    }
    in = detail::check_layer(layer, l, net.layers.size(), in);
  }
  validate(net);
}

// For the commands that do not handle image layers yet: one line naming the
// first conv2d or pooling layer, "<source>: network.layers[0].type: conv2d is not
// supported by verify yet (docs/verify.md)".
template <class S>
void require_dense_layers(const Network<S>& net, const std::string& source, const std::string& command,
                          const std::string& doc) {
  for (std::size_t l = 0; l < net.layers.size(); ++l)
    if (!net.layers[l].is_dense())
      throw InputError(source, "network.layers[" + std::to_string(l) + "].type",
                       std::string(to_string(net.layers[l].kind)) + " is not supported by " + command + " yet (" +
                           doc + ")");
}

// ---------------------------------------------------------------------------
// Forward pass

template <class S>
struct ForwardPass {
  std::vector<Matrix<S>> z;  // z[l]: pre-activations of layer l, units × batch
  std::vector<Matrix<S>> a;  // a[0]: the input; a[l + 1] = act_l(z[l])

  const Matrix<S>& output() const { return a.back(); }
  Index batch_size() const { return a.empty() ? 0 : a.front().cols(); }
};

namespace detail {

template <class S>
void activate_in_place(Activation act, const Matrix<S>& z, Matrix<S>& a) {
  switch (act) {
    case Activation::identity: a = z; return;
    case Activation::sigmoid:
      // 1/(1 + e^{−z}) keeps its relative accuracy for both signs, as long as
      // σ(z) is not subnormal (z < −700), where the packet exp is not exact.
      if constexpr (vectorised<S>) {
        if (!(z.array() < S(-packet_exp_limit)).any()) {
          a = (S(1) + (-z.array()).exp()).inverse().matrix();
          return;
        }
      }
      a = z.unaryExpr([](const S& v) -> S { return sigmoid(v); });
      return;
    case Activation::tanh:
      a = z.unaryExpr([](const S& v) -> S { return tanh_(v); });
      return;
    case Activation::relu:
      a = z.unaryExpr([](const S& v) -> S { return re(v) > 0 ? v : S(0); });
      return;
    case Activation::leaky_relu:
      a = z.unaryExpr([](const S& v) -> S { return re(v) > 0 ? v : S(S(leaky_relu_slope) * v); });
      return;
    case Activation::softmax:
      a.resize(z.rows(), z.cols());
      for (Index c = 0; c < z.cols(); ++c) {
        // Subtract the entry of largest real part: exp never overflows, and the
        // complex instantiation subtracts an analytic quantity.
        Index m = 0;
        for (Index k = 1; k < z.rows(); ++k)
          if (re(z(k, c)) > re(z(m, c))) m = k;
        const S zmax = z(m, c);
        S total = S(0);
        for (Index k = 0; k < z.rows(); ++k) {
          a(k, c) = exp_(S(z(k, c) - zmax));
          total += a(k, c);
        }
        for (Index k = 0; k < z.rows(); ++k) a(k, c) = S(a(k, c) / total);
      }
      return;
  }
}

}  // namespace detail

// z = the layer's map of a, before its activation: W a + b (dense), W ⋆ a + b
// (conv2d), the window maxima or means (pooling). a: input_size() × batch.
template <class S>
void layer_forward(const Layer<S>& layer, const Matrix<S>& a, Matrix<S>& z) {
  switch (layer.kind) {
    case LayerKind::dense:
      z.resize(layer.units(), a.cols());
      z.noalias() = layer.weights * a;
      z.colwise() += layer.biases;
      return;
    case LayerKind::conv2d: conv2d_forward(layer.conv, layer.weights, layer.biases, a, z); return;
    case LayerKind::max_pool:
    case LayerKind::avg_pool: pool_forward(layer.pool, a, z); return;
  }
}

// Recomputes layers first..L-1 from fp.a[first] (which the caller may have changed).
template <class S>
void forward_from(const Network<S>& net, std::size_t first, ForwardPass<S>& fp) {
  const std::size_t L = net.layers.size();
  fp.z.resize(L);
  fp.a.resize(L + 1);
  for (std::size_t l = first; l < L; ++l) {
    const auto& layer = net.layers[l];
    if (layer.is_dense()) {  // the training hot path, written out
      fp.z[l].resize(layer.units(), fp.a[l].cols());
      fp.z[l].noalias() = layer.weights * fp.a[l];
      fp.z[l].colwise() += layer.biases;
    } else {
      layer_forward(layer, fp.a[l], fp.z[l]);
    }
    detail::activate_in_place(layer.activation, fp.z[l], fp.a[l + 1]);
  }
}

template <class S, class Derived>
void forward(const Network<S>& net, const Eigen::MatrixBase<Derived>& inputs, ForwardPass<S>& fp) {
  fp.a.resize(net.layers.size() + 1);
  fp.a[0] = inputs;
  forward_from(net, 0, fp);
}

template <class S, class Derived>
ForwardPass<S> forward(const Network<S>& net, const Eigen::MatrixBase<Derived>& inputs) {
  ForwardPass<S> fp;
  forward(net, inputs, fp);
  return fp;
}

// ---------------------------------------------------------------------------
// Loss

namespace detail {

// One column of a softmax output, kept in the pieces that make 1 − a_k and
// ln a_k accurate when one class dominates:
//   e_k = exp(z_k − z_m) (m: the largest entry), S = Σ e_k,
//   rest_k = S − e_k = Σ_{i≠k} e_i (summed directly for k = m, where S − e_m
//   would cancel), so a_k = e_k / S and 1 − a_k = rest_k / S.
template <class S>
struct SoftmaxColumn {
  Vector<S> e, rest;
  S total;
  Index m = 0;

  template <class Col>
  explicit SoftmaxColumn(const Col& z) {
    const Index K = z.size();
    for (Index k = 1; k < K; ++k)
      if (re(z(k)) > re(z(m))) m = k;
    e.resize(K);
    total = S(0);
    for (Index k = 0; k < K; ++k) total += e(k) = exp_(S(z(k) - z(m)));
    rest.resize(K);
    S others = S(0);
    for (Index k = 0; k < K; ++k)
      if (k != m) others += e(k);
    for (Index k = 0; k < K; ++k) rest(k) = k == m ? others : S(total - e(k));
  }
  S a(Index k) const { return S(e(k) / total); }
  S one_minus_a(Index k) const { return S(rest(k) / total); }
  S log_total() const { return log_(total); }  // lse(z) − z_m
};

// ln(1 − a_k) of a softmax column given its logits: for the dominant class a
// log-sum-exp over the other classes (never log 0 unless it truly is).
template <class S, class Col>
S softmax_log_one_minus(const Col& z, const SoftmaxColumn<S>& sc, Index k) {
  if (k != sc.m) return log1p_(S(-sc.a(k)));
  Index m2 = -1;  // largest logit among the others
  for (Index i = 0; i < z.size(); ++i)
    if (i != k && (m2 < 0 || re(z(i)) > re(z(m2)))) m2 = i;
  S t = S(0);
  for (Index i = 0; i < z.size(); ++i)
    if (i != k) t += exp_(S(z(i) - z(m2)));
  return S(z(m2) - z(k) + log_(t) - sc.log_total());
}

}  // namespace detail

// Per-sample losses (one entry per column of targets), computed from the last
// layer's z where that is more accurate than from a: log-sum-exp for softmax,
// softplus for sigmoid.
template <class S>
Vector<S> sample_losses(const Network<S>& net, const ForwardPass<S>& fp, const Matrix<S>& targets) {
  using detail::log_;
  using detail::log1p_;
  using detail::softplus;
  const Matrix<S>& a = fp.a.back();
  const Matrix<S>& z = fp.z.back();
  const Activation out = net.layers.back().activation;
  const Index N = a.cols(), K = a.rows();
  Vector<S> losses(N);
  for (Index c = 0; c < N; ++c) {
    S sum = S(0);
    if (net.loss == Loss::quadratic) {
      for (Index k = 0; k < K; ++k) {
        const S d = a(k, c) - targets(k, c);
        sum += S(d * d);
      }
      losses(c) = S(sum / S(2));
      continue;
    }
    std::optional<detail::SoftmaxColumn<S>> sc;
    if (out == Activation::softmax) sc.emplace(z.col(c));
    const auto ln_a = [&](Index k) -> S {
      if (out == Activation::softmax) return S(z(k, c) - z(sc->m, c) - sc->log_total());
      if (out == Activation::sigmoid) return S(-softplus(S(-z(k, c))));
      return log_(a(k, c));
    };
    const auto ln_one_minus_a = [&](Index k) -> S {
      if (out == Activation::softmax) return detail::softmax_log_one_minus(z.col(c), *sc, k);
      if (out == Activation::sigmoid) return S(-softplus(z(k, c)));
      return log1p_(S(-a(k, c)));
    };
    for (Index k = 0; k < K; ++k) {
      const S& y = targets(k, c);
      // 0 · ln 0 = 0: a term whose target weight is zero contributes nothing.
      if (y != S(0)) sum -= S(y * ln_a(k));
      if (net.loss == Loss::binary_cross_entropy && y != S(1)) sum -= S(S(S(1) - y) * ln_one_minus_a(k));
    }
    losses(c) = sum;
  }
  return losses;
}

template <class S>
S reduce(Reduction r, const Vector<S>& per_sample) {
  S total = per_sample.sum();
  if (r == Reduction::mean) total = S(total / S(per_sample.size()));
  return total;
}

template <class S>
S loss(const Network<S>& net, const ForwardPass<S>& fp, const Matrix<S>& targets) {
  return reduce(net.reduction, sample_losses(net, fp, targets));
}

// ---------------------------------------------------------------------------
// Backward pass

template <class S>
struct Gradients {
  std::vector<Matrix<S>> weights;  // dL/dW_l, shaped like W_l
  std::vector<Vector<S>> biases;   // dL/db_l
  std::vector<Matrix<S>> deltas;   // dL/dz_l, units × batch (reduction included)
  Matrix<S> inputs;                // dL/d a_0, features × batch (empty unless asked for)
};

// act'(z) of an elementwise activation, computed from z (relu'(0) = 0,
// leaky_relu'(0) = the slope, as in backward). NaN for softmax: not elementwise.
template <class S>
S activation_derivative(Activation act, const S& z) {
  switch (act) {
    case Activation::identity: return S(1);
    case Activation::sigmoid: return detail::sigmoid_derivative(z);
    case Activation::tanh: return detail::tanh_derivative(z);
    case Activation::relu: return detail::re(z) > 0 ? S(1) : S(0);
    case Activation::leaky_relu: return detail::re(z) > 0 ? S(1) : S(leaky_relu_slope);
    case Activation::softmax: break;
  }
  return S(std::numeric_limits<double>::quiet_NaN());
}

namespace detail {

// delta ⊙= act'(z), for the elementwise activations (a = act(z) given).
template <class S>
void multiply_by_derivative(Activation act, const Matrix<S>& z, const Matrix<S>& a, Matrix<S>& delta) {
  (void)a;
  switch (act) {
    case Activation::identity: return;
    case Activation::sigmoid:
      if constexpr (vectorised<S>) {
        if (!(z.array().abs() > S(packet_exp_limit)).any()) {
          const auto t = (-z.array().abs()).exp();  // the same formula as sigmoid_derivative
          delta.array() *= t / (S(1) + t).square();
          return;
        }
      }
      delta = delta.binaryExpr(z, [](const S& d, const S& v) -> S { return S(d * sigmoid_derivative(v)); });
      return;
    case Activation::tanh:
      if constexpr (vectorised<S>) {
        if (!(z.array().abs() > S(packet_exp_limit / 2)).any()) {
          const auto t = (S(-2) * z.array().abs()).exp();  // the same formula as tanh_derivative
          delta.array() *= S(4) * t / (S(1) + t).square();
          return;
        }
      }
      delta = delta.binaryExpr(z, [](const S& d, const S& v) -> S { return S(d * tanh_derivative(v)); });
      return;
    case Activation::relu:
      delta = delta.binaryExpr(z, [](const S& d, const S& v) -> S { return re(v) > 0 ? d : S(0); });
      return;
    case Activation::leaky_relu:
      delta = delta.binaryExpr(z, [](const S& d, const S& v) -> S {
        return re(v) > 0 ? d : S(S(leaky_relu_slope) * d);
      });
      return;
    case Activation::softmax: break;  // not elementwise: handled by the caller
  }
}

// Softmax Jacobian-vector product of one column: dz_j = a_j (d_j − Σ_k a_k d_k).
// For the dominant class the bracket is rewritten (1 − a_m) d_m − Σ_{k≠m} a_k d_k
// so that it does not cancel when a_m rounds to 1.
template <class S, class ZCol, class DCol>
void softmax_backward_column(const ZCol& z, DCol delta) {
  const SoftmaxColumn<S> sc(z);
  const Index K = z.size();
  S dot = S(0), others = S(0);
  for (Index k = 0; k < K; ++k) {
    const S t = S(sc.a(k) * delta(k));
    dot += t;
    if (k != sc.m) others += t;
  }
  const S bracket_m = S(sc.one_minus_a(sc.m) * delta(sc.m) - others);
  for (Index k = 0; k < K; ++k) delta(k) = S(sc.a(k) * (k == sc.m ? bracket_m : S(delta(k) - dot)));
}

// e_j / rest_k: the share of class j among the classes other than k. When e_j
// underflows (its logit far below the largest) the share can still be 1 — j
// may be the only class besides k that is not negligible — so it is then taken
// in log space, exp(z_j − lse_{i≠k} z_i). (Found by `gradcheck probe` at huge
// magnitudes: dropping the term gave dL/dz_j = 0 where it is −1.)
template <class S, class ZCol>
S share_without(const ZCol& z, const SoftmaxColumn<S>& sc, Index j, Index k) {
  if (sc.e(j) != S(0)) return S(sc.e(j) / sc.rest(k));
  Index m2 = -1;  // largest logit among the classes other than k
  for (Index i = 0; i < z.size(); ++i)
    if (i != k && (m2 < 0 || re(z(i)) > re(z(m2)))) m2 = i;
  S t = S(0);
  for (Index i = 0; i < z.size(); ++i)
    if (i != k) t += exp_(S(z(i) - z(m2)));
  return exp_(S(S(z(j) - z(m2)) - log_(t)));
}

// softmax + binary_cross_entropy, fused (derived in docs/engine.md):
//   dL/dz_j = a_j (Σy + 1 − y_j) − y_j − Σ_{k≠j} (1 − y_k) a_k e_j / rest_k
// Every term is bounded by 1, unlike the general path's (1 − y)/(1 − a).
template <class S, class ZCol, class YCol, class DCol>
void softmax_bce_delta_column(const ZCol& z, const YCol& y, DCol delta) {
  const SoftmaxColumn<S> sc(z);
  const Index K = z.size();
  const S ysum = y.sum();
  for (Index j = 0; j < K; ++j) {
    S d = S(sc.a(j) * S(ysum + S(1) - y(j)) - y(j));
    for (Index k = 0; k < K; ++k)
      if (k != j) d -= S(S(S(1) - y(k)) * sc.a(k) * share_without(z, sc, j, k));
    delta(j) = d;
  }
}

// softmax + cross_entropy, a_j Σy − y_j, with the dominant class written
// Σ_{k≠m} y_k − (1 − a_m) Σy so that it keeps its relative accuracy as a_m → 1.
template <class S, class ZCol, class YCol, class DCol>
void softmax_ce_delta_column(const ZCol& z, const YCol& y, DCol delta) {
  const SoftmaxColumn<S> sc(z);
  const S ysum = y.sum();
  S others = S(0);
  for (Index k = 0; k < z.size(); ++k) {
    delta(k) = S(sc.a(k) * ysum - y(k));
    if (k != sc.m) others += y(k);
  }
  delta(sc.m) = S(others - S(sc.one_minus_a(sc.m) * ysum));
}

// a − y, written (1 − y) − (1 − a) where a is near 1, with 1 − a computed
// without cancellation (σ(−z) for sigmoid, rest/S for softmax's dominant class).
template <class S>
void output_minus_target(Activation out, const Matrix<S>& z, const Matrix<S>& a, const Matrix<S>& y, Matrix<S>& d) {
  d = a - y;
  if (out == Activation::sigmoid) {
    for (Index i = 0; i < d.size(); ++i)
      if (re(z.data()[i]) > 0) d.data()[i] = S(S(S(1) - y.data()[i]) - sigmoid(S(-z.data()[i])));
  } else if (out == Activation::softmax) {
    for (Index c = 0; c < d.cols(); ++c) {
      const SoftmaxColumn<S> sc(z.col(c));
      d(sc.m, c) = S(S(S(1) - y(sc.m, c)) - sc.one_minus_a(sc.m));
    }
  }
}

}  // namespace detail

// dL/dz of the output layer. The fused forms are exact where the general path
// would divide by a or by 1 − a: softmax + cross_entropy: a·Σy − y; sigmoid +
// binary_cross_entropy: a − y; sigmoid + cross_entropy: −y ⊙ σ(−z);
// softmax + binary_cross_entropy: see softmax_bce_delta_column.
template <class S>
void output_delta(const Network<S>& net, const ForwardPass<S>& fp, const Matrix<S>& targets,
                  Matrix<S>& delta) {
  const Matrix<S>& a = fp.a.back();
  const Matrix<S>& z = fp.z.back();
  const Activation out = net.layers.back().activation;
  const Matrix<S>& y = targets;
  if (net.loss == Loss::cross_entropy && out == Activation::softmax) {
    delta.resize(a.rows(), a.cols());
    for (Index c = 0; c < a.cols(); ++c) detail::softmax_ce_delta_column<S>(z.col(c), y.col(c), delta.col(c));
  } else if (net.loss == Loss::binary_cross_entropy && out == Activation::sigmoid) {
    detail::output_minus_target(out, z, a, y, delta);
  } else if (net.loss == Loss::cross_entropy && out == Activation::sigmoid) {
    delta = y.binaryExpr(z, [](const S& t, const S& v) -> S { return S(-t * detail::sigmoid(S(-v))); });
  } else if (net.loss == Loss::binary_cross_entropy && out == Activation::softmax) {
    delta.resize(a.rows(), a.cols());
    for (Index c = 0; c < a.cols(); ++c) detail::softmax_bce_delta_column<S>(z.col(c), y.col(c), delta.col(c));
  } else {
    switch (net.loss) {  // dL/da (cross-entropy losses only reach here on unvalidated networks)
      case Loss::quadratic: detail::output_minus_target(out, z, a, y, delta); break;
      case Loss::cross_entropy: delta = -(y.array() / a.array()).matrix(); break;
      case Loss::binary_cross_entropy:
        delta = ((S(1) - y.array()) / (S(1) - a.array()) - y.array() / a.array()).matrix();
        break;
    }
    if (out == Activation::softmax)
      for (Index c = 0; c < a.cols(); ++c) detail::softmax_backward_column<S>(z.col(c), delta.col(c));
    else
      detail::multiply_by_derivative(out, z, a, delta);
  }
  if (net.reduction == Reduction::mean) delta *= S(S(1) / S(a.cols()));
}

namespace detail {
struct NoDeltaHook {
  template <class... A>
  void operator()(A&&...) const {}
};
}  // namespace detail

// dL/da of the layer's input from δ = dL/dz: Wᵀ δ (dense), the transposed
// convolution (conv2d), each window's δ to its maximum or shared over it (pooling).
// a: the layer's input (max pool's tie rule reads it).
template <class S>
void layer_input_gradient(const Layer<S>& layer, const Matrix<S>& a, const Matrix<S>& delta, Matrix<S>& da) {
  switch (layer.kind) {
    case LayerKind::dense:
      da.resize(layer.inputs(), delta.cols());
      da.noalias() = layer.weights.transpose() * delta;
      return;
    case LayerKind::conv2d: {
      Matrix<S> dW;
      Vector<S> db;
      conv2d_backward(layer.conv, layer.weights, a, delta, dW, db, &da);
      return;
    }
    case LayerKind::max_pool:
    case LayerKind::avg_pool: pool_backward(layer.pool, a, delta, da); return;
  }
}

// dL/dW and dL/db from δ = dL/dz and the layer's input a (both empty for pooling).
template <class S>
void layer_parameter_gradients(const Layer<S>& layer, const Matrix<S>& a, const Matrix<S>& delta, Matrix<S>& dW,
                               Vector<S>& db) {
  switch (layer.kind) {
    case LayerKind::dense:
      dW.resize(delta.rows(), a.rows());
      dW.noalias() = delta * a.transpose();
      db = delta.rowwise().sum();
      return;
    case LayerKind::conv2d: conv2d_backward(layer.conv, layer.weights, a, delta, dW, db); return;
    case LayerKind::max_pool:
    case LayerKind::avg_pool:
      dW.resize(0, 0);
      db.resize(0);
      return;
  }
}

// Backpropagation: fills g with dL/dz (deltas) and dL/db of every layer, dL/dW
// of every layer unless weight_gradients is false (then a dense layer's g.weights
// are left empty: SGD applies dL/dW = δ aᵀ straight to W without writing it; a
// conv2d layer's are always filled), and dL/d(inputs) when input_gradient is set
// (training skips it). A pooling layer's g.weights and g.biases are empty.
//
// on_delta(l, dl_da, delta) is called for each layer from the output down, once
// δ_l = dL/dz_l is formed and before anything uses it, and may change it:
// dl_da points to dL/da_l (δ before the activation's derivative was applied)
// for a hidden layer, and is null for the output layer, whose δ comes from the
// fused formulas of output_delta. A pooling layer has no activation, so its δ is
// dL/d(its output) and dl_da holds the same values; the δ below a max-pool layer
// is then the window's δ routed to its maximum (the first one at a tie) times
// the derivative of the layer below. The checks use it to take a one-sided slope
// at a relu kink and to send a max-pool window's gradient to its other tied entry
// (checks/gradient/src/common.cpp); the overload without it costs nothing.
template <class S, class DeltaHook>
void backward(const Network<S>& net, const ForwardPass<S>& fp, const Matrix<S>& targets, Gradients<S>& g,
              bool input_gradient, bool weight_gradients, DeltaHook&& on_delta) {
  constexpr bool hooked = !std::is_same_v<std::decay_t<DeltaHook>, detail::NoDeltaHook>;
  const std::size_t L = net.layers.size();
  g.weights.resize(L);
  g.biases.resize(L);
  g.deltas.resize(L);
  output_delta(net, fp, targets, g.deltas[L - 1]);
  if constexpr (hooked) on_delta(L - 1, static_cast<const Matrix<S>*>(nullptr), g.deltas[L - 1]);
  // prev = dL/da_{k+1} becomes δ_k = prev ⊙ act_k'(z_k), the hook seeing both.
  const auto through_activation = [&](std::size_t k, Matrix<S>& prev) {
    if constexpr (hooked) {
      const Matrix<S> dl_da = prev;
      detail::multiply_by_derivative(net.layers[k].activation, fp.z[k], fp.a[k + 1], prev);
      on_delta(k, &dl_da, prev);
    } else {
      detail::multiply_by_derivative(net.layers[k].activation, fp.z[k], fp.a[k + 1], prev);
    }
  };
  for (std::size_t l = L; l-- > 0;) {
    const Layer<S>& layer = net.layers[l];
    const Matrix<S>& delta = g.deltas[l];
    if (!layer.is_dense()) {  // conv2d or pooling: one branch per layer, none per sample
      Matrix<S>* da = l > 0 ? &g.deltas[l - 1] : input_gradient ? &g.inputs : nullptr;
      if (layer.kind == LayerKind::conv2d) {
        conv2d_backward(layer.conv, layer.weights, fp.a[l], delta, g.weights[l], g.biases[l], da);
      } else {
        layer_parameter_gradients(layer, fp.a[l], delta, g.weights[l], g.biases[l]);
        if (da) pool_backward(layer.pool, fp.a[l], delta, *da);
      }
      if (l > 0) through_activation(l - 1, g.deltas[l - 1]);
      continue;
    }
    if (weight_gradients) {
      g.weights[l].resize(delta.rows(), fp.a[l].rows());
      g.weights[l].noalias() = delta * fp.a[l].transpose();
    } else {
      g.weights[l].resize(0, 0);
    }
    g.biases[l] = delta.rowwise().sum();
    if (l > 0) {
      Matrix<S>& prev = g.deltas[l - 1];
      prev.resize(layer.inputs(), delta.cols());
      prev.noalias() = layer.weights.transpose() * delta;
      through_activation(l - 1, prev);
    }
  }
  if (!input_gradient) {
    g.inputs.resize(0, 0);
  } else if (net.layers[0].is_dense()) {  // an image first layer has filled g.inputs above
    g.inputs.resize(net.input_size(), g.deltas[0].cols());
    g.inputs.noalias() = net.layers[0].weights.transpose() * g.deltas[0];
  }
}

template <class S>
void backward(const Network<S>& net, const ForwardPass<S>& fp, const Matrix<S>& targets, Gradients<S>& g,
              bool input_gradient = true, bool weight_gradients = true) {
  backward(net, fp, targets, g, input_gradient, weight_gradients, detail::NoDeltaHook{});
}

// Convenience: forward + backward on one batch.
template <class S>
Gradients<S> gradients(const Network<S>& net, const Matrix<S>& inputs, const Matrix<S>& targets) {
  ForwardPass<S> fp;
  forward(net, inputs, fp);
  Gradients<S> g;
  backward(net, fp, targets, g);
  return g;
}

}  // namespace gradcheck
