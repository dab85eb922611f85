#pragma once
// A network's layers written as one string, as `gradcheck train --net` takes
// them (docs/training.md, "Architectures"):
//
//   784-30-10                      dense: the inputs, then each layer's units
//   c6k5p2-m2-c16k5-m2-120-84-10   image layers first, on the data's image
//   1x28x28-c6k5p2-m2-120-10       the same with the image stated
//   lenet5                         = c6k5p2-m2-c16k5-m2-120-84-10
//
// Tokens, joined by '-':
//   c<maps>k<size>[s<stride>][p<padding>]   conv2d, size × size kernels (stride 1, padding 0)
//   m<window>[s<stride>]                    max_pool (stride = window)
//   a<window>[s<stride>]                    avg_pool (stride = window)
//   <units>                                 dense
// Every conv2d and hidden dense layer takes the hidden activation, the last the
// output one. The shapes are worked out and the parameters counted before
// anything is allocated; every problem is one InputError naming the token.
//
//   Architecture a = parse_architecture("lenet5", ImageShape{1, 28, 28}, "--net", 1 << 25);
//   Network<double> net = network_from(a, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::he, 1);

#include <gradcheck/engine/init.hpp>
#include <gradcheck/engine/network.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace gradcheck {

struct LayerSpec {
  LayerKind kind = LayerKind::dense;
  Index units = 0;                          // dense: units; conv2d: maps (output channels)
  Index size = 0, stride = 1, padding = 0;  // conv2d kernel / pooling window, stride, padding
  Index in_channels = 0, inputs = 0;        // what enters it (set by parse_architecture)
};

struct Architecture {
  ImageShape input;         // the image the first layer reads (empty: dense inputs only)
  Index input_features = 0;  // features per sample
  std::vector<LayerSpec> layers;
  std::int64_t parameters = 0;
};

inline constexpr const char* lenet5_layers = "c6k5p2-m2-c16k5-m2-120-84-10";

namespace detail {

// Reads the digits at text[at...] (at most 12 of them), advancing at; -1 when none or more.
inline Index read_count(const std::string& text, std::size_t& at) {
  const std::size_t from = at;
  while (at < text.size() && at - from < 13 && text[at] >= '0' && text[at] <= '9') ++at;
  if (at == from || at - from > 12) return -1;
  return static_cast<Index>(std::stoll(text.substr(from, at - from)));
}

// One token as a LayerSpec; false when it is not one of the forms above.
inline bool parse_layer_token(const std::string& t, LayerSpec& s) {
  std::size_t at = 0;
  const char lead = t.empty() ? '\0' : t[0];
  if (lead >= '0' && lead <= '9') {
    s.kind = LayerKind::dense;
    s.units = read_count(t, at);
    return s.units >= 0 && at == t.size();
  }
  if (lead != 'c' && lead != 'm' && lead != 'a') return false;
  at = 1;
  s.kind = lead == 'c' ? LayerKind::conv2d : lead == 'm' ? LayerKind::max_pool : LayerKind::avg_pool;
  if (lead == 'c') {
    s.units = read_count(t, at);
    if (s.units < 0 || at >= t.size() || t[at++] != 'k') return false;
  }
  s.size = read_count(t, at);
  if (s.size < 0) return false;
  s.stride = lead == 'c' ? 1 : s.size;
  for (const char option : {'s', 'p'}) {
    if (at < t.size() && t[at] == option && (option == 's' || lead == 'c')) {
      ++at;
      const Index v = read_count(t, at);
      if (v < 0) return false;
      (option == 's' ? s.stride : s.padding) = v;
    }
  }
  return at == t.size();
}

// "1x28x28" as an image shape; false when the token is not one.
inline bool parse_image_token(const std::string& t, ImageShape& image) {
  std::size_t at = 0;
  Index v[3];
  for (int k = 0; k < 3; ++k) {
    if (k > 0 && (at >= t.size() || t[at++] != 'x')) return false;
    v[k] = read_count(t, at);
    if (v[k] < 1) return false;
  }
  image = {v[0], v[1], v[2]};
  return at == t.size();
}

inline std::vector<std::string> split_tokens(const std::string& text) {
  std::vector<std::string> tokens;
  std::size_t start = 0;
  while (true) {
    const std::size_t dash = text.find('-', start);
    tokens.push_back(text.substr(start, dash == std::string::npos ? std::string::npos : dash - start));
    if (dash == std::string::npos) return tokens;
    start = dash + 1;
  }
}

// Counts up to 2^62 and stays there: the count only has to exceed any limit.
inline void add_parameters(Architecture& a, std::int64_t n) {
  constexpr std::int64_t cap = std::int64_t{1} << 62;
  a.parameters = n >= cap - a.parameters ? cap : a.parameters + n;
}

// The tokens from `first` on as layers, shapes worked out and parameters counted.
inline void shape_layers(const std::vector<std::string>& tokens, std::size_t first, Architecture& a,
                         const std::string& field, const std::string& text) {
  const auto fail = [&](std::size_t k, const std::string& problem) {
    throw InputError("", field, "\"" + text + "\": entry " + std::to_string(k) + " (\"" + tokens[k] + "\") " + problem);
  };
  ImageShape image = a.input;
  Index features = a.input_features;
  for (std::size_t k = first; k < tokens.size(); ++k) {
    LayerSpec s;
    if (!parse_layer_token(tokens[k], s))
      fail(k, "is not a layer: a number of units, c<maps>k<size>[s<stride>][p<padding>], m<window>[s<stride>] or "
              "a<window>[s<stride>] (docs/training.md)");
    s.in_channels = image.channels;
    s.inputs = features;
    const std::string at = "entry " + std::to_string(k);
    try {
      if (s.kind == LayerKind::dense) {
        if (s.units < 1 || s.units > max_layer_width)
          throw InputError("", "", "layer size " + std::to_string(s.units) + " (entry " + std::to_string(k) +
                                       ") is outside 1.." + std::to_string(max_layer_width) + " (docs/limits.md)");
        add_parameters(a, (features + 1) * s.units);  // both ≤ 2^20: below 2^41
        image = {};
        features = s.units;
      } else if (image.empty()) {
        fail(k, "is an image layer after a dense one (or on data that are not images): image layers come first");
      } else if (s.kind == LayerKind::conv2d) {
        const ConvGeometry g{image.channels, image.height, image.width, s.units, s.size, s.size, s.stride, s.padding};
        validate(g, at);
        add_parameters(a, s.units * (g.weight_cols() + 1));  // validate bounds both by 2^20
        image = {g.out_channels, g.out_h(), g.out_w()};
      } else {
        const PoolGeometry g{PoolGeometry::Kind::max, image.channels, image.height, image.width, s.size, s.stride};
        validate(g, at);
        image = {g.channels, g.out_h(), g.out_w()};
      }
    } catch (const InputError& e) {
      if (e.field().empty()) throw InputError("", field, e.problem());
      if (e.field().rfind(at, 0) != 0) throw;
      fail(k, e.field().substr(at.size() + 1) + " " + e.problem());
    }
    if (!image.empty()) features = image.size();
    a.layers.push_back(s);
  }
}

}  // namespace detail

// Whether the spec's first layer reads the data's image without stating its
// shape (c…, m… or a… first, or lenet5): parse_architecture then needs it.
inline bool reads_data_image(const std::string& text) {
  if (text == "lenet5") return true;
  const char lead = text.empty() ? '\0' : text[0];
  return lead == 'c' || lead == 'm' || lead == 'a';
}

// Works out the shapes layer by layer (the conv2d and pooling geometry checked
// as a case's is) and counts the parameters; throws InputError("", field, ...)
// for a token that is not a layer, a geometry that does not fit, an image layer
// after a dense one, no layer, or more than max_parameters.
inline Architecture parse_architecture(const std::string& text, const ImageShape& data_image,
                                       const std::string& field, std::int64_t max_parameters) {
  Architecture a;
  auto tokens = detail::split_tokens(text == "lenet5" ? std::string(lenet5_layers) : text);
  const auto fail = [&](const std::string& problem) { throw InputError("", field, "\"" + text + "\": " + problem); };
  std::size_t first = 0;
  if (detail::parse_image_token(tokens[0], a.input)) {
    first = 1;
  } else if (!reads_data_image(text)) {
    first = 1;  // the dense form: the number of inputs first
    LayerSpec inputs;
    if (!detail::parse_layer_token(tokens[0], inputs) || inputs.kind != LayerKind::dense)
      fail("entry 0 (\"" + tokens[0] + "\") is neither a number of inputs nor an image such as 1x28x28");
    if (inputs.units < 1 || inputs.units > max_layer_width)
      throw InputError("", field, "layer size " + std::to_string(inputs.units) + " (entry 0) is outside 1.." +
                                      std::to_string(max_layer_width) + " (docs/limits.md)");
    a.input_features = inputs.units;
  } else {
    a.input = data_image;
  }
  if (!a.input.empty()) a.input_features = a.input.size();
  if (first >= tokens.size())
    fail("needs at least two sizes (inputs and outputs), e.g. 784-10, or image layers such as " +
         std::string(lenet5_layers));
  detail::shape_layers(tokens, first, a, field, text);
  if (a.parameters > max_parameters)
    throw InputError("", field, text + " has " + std::to_string(a.parameters) + " parameters, more than the limit of " +
                                    std::to_string(max_parameters) + " (docs/limits.md)");
  return a;
}

// The network of an architecture, initialised as make_network(sizes, ...) does.
template <class S = double>
Network<S> network_from(const Architecture& a, Activation hidden, Activation output, Loss loss, Init scheme,
                        std::uint64_t seed, Reduction reduction = Reduction::mean) {
  Network<S> net;
  net.loss = loss;
  net.reduction = reduction;
  net.input_shape = a.input;
  for (std::size_t k = 0; k < a.layers.size(); ++k) {
    const LayerSpec& s = a.layers[k];
    const Activation act = k + 1 == a.layers.size() ? output : hidden;
    if (s.kind == LayerKind::conv2d) {
      const ConvGeometry g{s.in_channels, 0, 0, s.units, s.size, s.size, s.stride, s.padding};
      net.layers.push_back(conv2d_layer(g, act, Matrix<S>(s.units, s.in_channels * s.size * s.size),
                                        Vector<S>(Vector<S>::Zero(s.units))));
    } else if (is_pooling(s.kind)) {
      net.layers.push_back(pool_layer<S>(s.kind, s.size, s.stride));
    } else {
      Layer<S> layer;
      layer.activation = act;
      layer.weights.resize(s.units, s.inputs);
      layer.biases.resize(s.units);
      net.layers.push_back(std::move(layer));
    }
  }
  connect_shapes(net);
  Rng rng(seed);
  initialise(net, scheme, rng);
  return net;
}

}  // namespace gradcheck
