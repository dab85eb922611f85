#pragma once
// Weight initialisation, seeded and reproducible everywhere (see random.hpp).
//
//   gaussian  every weight AND every bias ~ N(0, 1): the initialisation of
//             Nielsen's book and of the MNIST question (its sigmoid units start
//             saturated on 784 inputs, which is why some seeds stall near 10 %).
//   xavier    Glorot & Bengio (2010), uniform form: weights ~ U(−r, r) with
//             r = √(6 / (fan_in + fan_out)), so Var = 2 / (fan_in + fan_out);
//             biases 0. Suited to tanh and sigmoid.
//   he        He et al. (2015): weights ~ N(0, 2 / fan_in); biases 0. Suited to relu.
// fan_in = the layer's inputs (columns of W), fan_out = its units (rows of W).
//
// Draw order (the reproducibility contract, so that another implementation can
// rebuild the same network from the same seed): layer by layer from the input;
// within a layer W row by row (W(0,0), W(0,1), …, i.e. unit by unit), then the
// biases (gaussian only). Every value is drawn in double and then converted to
// the network's scalar, so Network<double> and Network<cpp_bin_float_50> built
// from one seed hold the same numbers.
//
// How to use:
//   auto net = make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid,
//                           Loss::quadratic, Init::gaussian, /*seed=*/1);
//   // or re-draw the values of an existing network in place:
//   Rng rng(7);  initialise(net, Init::he, rng);

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/network.hpp>
#include <gradcheck/engine/random.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gradcheck {

enum class Init { gaussian, xavier, he };

inline constexpr Init all_inits[] = {Init::gaussian, Init::xavier, Init::he};

inline const char* to_string(Init i) {
  switch (i) {
    case Init::gaussian: return "gaussian";
    case Init::xavier: return "xavier";
    case Init::he: return "he";
  }
  return "?";
}

inline std::optional<Init> parse_init(std::string_view s) {
  for (Init i : all_inits)
    if (s == to_string(i)) return i;
  return std::nullopt;
}

// Re-draws every weight and bias of net (shapes kept) from rng.
template <class S>
void initialise(Network<S>& net, Init scheme, Rng& rng) {
  for (auto& layer : net.layers) {
    // As PyTorch counts them: a conv2d weight reaches kh·kw positions of each output channel.
    const double fan_in = static_cast<double>(layer.inputs());
    const double fan_out = static_cast<double>(layer.units()) *
                           (layer.kind == LayerKind::conv2d ? double(layer.conv.kernel_h * layer.conv.kernel_w) : 1.0);
    const double xavier_r = std::sqrt(6.0 / (fan_in + fan_out));
    const double he_sd = std::sqrt(2.0 / fan_in);
    for (Index j = 0; j < layer.weights.rows(); ++j)
      for (Index i = 0; i < layer.weights.cols(); ++i) {
        double w = 0.0;
        switch (scheme) {
          case Init::gaussian: w = rng.normal(); break;
          case Init::xavier: w = rng.uniform(-xavier_r, xavier_r); break;
          case Init::he: w = he_sd * rng.normal(); break;
        }
        layer.weights(j, i) = S(w);
      }
    for (Index j = 0; j < layer.biases.size(); ++j)
      layer.biases(j) = scheme == Init::gaussian ? S(rng.normal()) : S(0);
  }
}

// A fresh network with the given layer sizes (sizes[0] = inputs, then the units
// of each layer): every layer but the last uses `hidden`, the last `output`.
// Throws InputError for fewer than two sizes, a size below 1 or above
// max_layer_width, or an output activation the loss does not support.
template <class S = double>
Network<S> make_network(const std::vector<Index>& sizes, Activation hidden, Activation output, Loss loss,
                        Init scheme, std::uint64_t seed, Reduction reduction = Reduction::mean) {
  if (sizes.size() < 2)
    throw InputError("", "sizes", "needs at least two entries (inputs and outputs), got " +
                                      std::to_string(sizes.size()));
  for (std::size_t k = 0; k < sizes.size(); ++k)
    if (sizes[k] < 1 || sizes[k] > max_layer_width)
      throw InputError("", "sizes[" + std::to_string(k) + "]",
                       "is " + std::to_string(sizes[k]) + ", expected 1.." + std::to_string(max_layer_width));
  Network<S> net;
  net.loss = loss;
  net.reduction = reduction;
  for (std::size_t k = 1; k < sizes.size(); ++k) {
    Layer<S> layer;
    layer.activation = k + 1 == sizes.size() ? output : hidden;
    layer.weights.resize(sizes[k], sizes[k - 1]);
    layer.biases.resize(sizes[k]);
    net.layers.push_back(std::move(layer));
  }
  validate(net);
  Rng rng(seed);
  initialise(net, scheme, rng);
  return net;
}

}  // namespace gradcheck
