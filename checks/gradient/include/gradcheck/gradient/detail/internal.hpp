#pragma once
// Internals shared by the checks' sources (not installed).
#include <gradcheck/gradient/detail/line.hpp>
#include <gradcheck/gradient/detail/roundoff.hpp>
#include <gradcheck/gradient/result.hpp>
#include <gradcheck/engine/case.hpp>
#include <gradcheck/engine/format.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace gradcheck::detail {

using Big = cpp_bin_float_50;
inline constexpr double unit_roundoff = 0x1p-53;

struct TensorId {
  int layer = 0;
  TensorKind tensor = TensorKind::weights;
  Index rows = 0, cols = 0;
  Index kernel_h = 0, kernel_w = 0;  // conv2d weights (TensorSummary's fields)
};

// The summary of tensor `id` before any entry is judged: its name and shape.
inline TensorSummary summary_of(const TensorId& id) {
  TensorSummary ts;
  ts.layer = id.layer;
  ts.tensor = id.tensor;
  ts.rows = id.rows;
  ts.cols = id.cols;
  ts.kernel_h = id.kernel_h;
  ts.kernel_w = id.kernel_w;
  return ts;
}

// weights 0, biases 0, weights 1, ..., [inputs]; a pooling layer has none. A
// conv2d layer's weights are its out_channels × (in_channels·kh·kw) matrix.
inline std::vector<TensorId> tensors_of(const Network<double>& net, Index batch, bool inputs) {
  std::vector<TensorId> ids;
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    const auto& layer = net.layers[l];
    if (is_pooling(layer.kind)) continue;
    const bool conv = layer.kind == LayerKind::conv2d;
    ids.push_back({static_cast<int>(l), TensorKind::weights, layer.units(), layer.inputs(),
                   conv ? layer.conv.kernel_h : 0, conv ? layer.conv.kernel_w : 0});
    ids.push_back({static_cast<int>(l), TensorKind::biases, layer.units(), 1, 0, 0});
  }
  if (inputs) ids.push_back({0, TensorKind::inputs, net.input_size(), batch});
  return ids;
}

template <class S>
Matrix<S> gradient_of(const Gradients<S>& g, const TensorId& t) {
  switch (t.tensor) {
    case TensorKind::weights: return g.weights[static_cast<std::size_t>(t.layer)];
    case TensorKind::biases: return g.biases[static_cast<std::size_t>(t.layer)];
    case TensorKind::inputs: return g.inputs;
    default: return {};
  }
}

// The case evaluated in scalar S (long double, 50 digits): its network, inputs
// and targets cast, the forward pass and the gradients (dL/d inputs if asked).
template <class S>
struct Evaluated {
  Network<S> net;
  Matrix<S> x, y;
  ForwardPass<S> fp;
  Gradients<S> g;
};

template <class S>
Evaluated<S> evaluate_as(const Case& c, bool input_gradients) {
  Evaluated<S> e{c.network.template cast<S>(), c.inputs.template cast<S>(), c.targets.template cast<S>(), {}, {}};
  forward(e.net, e.x, e.fp);
  backward(e.net, e.fp, e.y, e.g, input_gradients);
  return e;
}

inline double parameter_value(const Case& c, const ParamRef& p) {
  const auto& layer = c.network.layers[static_cast<std::size_t>(p.layer)];
  switch (p.tensor) {
    case TensorKind::weights: return layer.weights(p.row, p.col);
    case TensorKind::biases: return layer.biases(p.row);
    case TensorKind::inputs: return c.inputs(p.row, p.col);
    default: return 0;
  }
}

inline void validate_case(const Case& c) {
  validate(c.network);
  if (c.inputs.rows() != c.network.input_size())
    throw InputError("", "inputs", "samples have " + std::to_string(c.inputs.rows()) + " features, expected " +
                                       std::to_string(c.network.input_size()));
  if (c.inputs.cols() < 1) throw InputError("", "inputs", "has no samples");
  if (c.targets.rows() != c.network.output_size() || c.targets.cols() != c.inputs.cols())
    throw InputError("", "targets", "is " + std::to_string(c.targets.cols()) + " samples of " +
                                        std::to_string(c.targets.rows()) + ", expected " +
                                        std::to_string(c.inputs.cols()) + " of " +
                                        std::to_string(c.network.output_size()));
}

// The round-off a correct double-precision implementation may carry, per
// gradient entry (`roundoff`, in tensors_of order), and per pre-activation
// (`dz`, per layer), from the problem's conditioning: the change of the
// gradient under random relative perturbations of 4 ulps of every weight, bias
// and input (computed in long double, so the perturbation is not lost in the
// computation's own rounding): the largest of 4 samples ×3, plus (N + 4 + 2·Σ widths above)·u·Σ_n |δ||a|
// for the final sums and the rounding of their terms.
struct Conditioning {
  std::vector<Matrix<double>> roundoff;
  std::vector<Matrix<double>> dz;
};
Conditioning conditioning(const Case& c, bool inputs, std::uint64_t seed);

// The backward pass with chosen kinks taken on a chosen side: a relu/leaky unit
// (layer, unit, sample) with derivative `slope`; a max-pool window (layer, unit =
// the window, sample) with its gradient sent to input feature `winner` (>= 0)
// instead of the engine's pick. Used for "the other side of the kink".
struct SlopeOverride {
  int layer = 0;
  Index unit = 0, sample = 0;
  double slope = 0;
  Index winner = -1;
};
template <class S>
void backward_with_slopes(const Network<S>& net, const ForwardPass<S>& fp, const Matrix<S>& targets,
                          Gradients<S>& g, bool input_gradient, const std::vector<SlopeOverride>& overrides);


inline unsigned thread_count(unsigned requested) {
  if (requested > 0) return requested;
  const unsigned h = std::thread::hardware_concurrency();
  return h == 0 ? 1 : h;
}

// body(i, worker) for i in [0, n), dynamically scheduled over `threads` workers
// in chunks of `chunk` consecutive i.
template <class F>
void parallel_for(std::size_t n, unsigned threads, F&& body, std::size_t chunk = 16) {
  threads = static_cast<unsigned>(std::min<std::size_t>(std::max(1u, threads), std::max<std::size_t>(n, 1)));
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i) body(i, 0u);
    return;
  }
  std::atomic<std::size_t> next{0};
  chunk = std::max<std::size_t>(chunk, 1);
  auto work = [&](unsigned worker) {
    for (;;) {
      const std::size_t begin = next.fetch_add(chunk);
      if (begin >= n) return;
      const std::size_t end = std::min(n, begin + chunk);
      for (std::size_t i = begin; i < end; ++i) body(i, worker);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < threads; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
}

// "layer 1 unit 3 (sample 0)"; a max-pool kink names its window and two entries.
std::string kink_name(const Kink& k);
// Where the kink stands: "z = 1e-09" (relu), "gap 1e-09" (max pool).
std::string kink_value(const Kink& k);
// At an exact kink: what is undefined there, and the engine's convention.
std::string exact_kink_text(const Kink& k);

// |W| and |b| of a layer, its geometry kept: z of the result on |a| bounds the
// magnitudes a computation of z adds up (the round-off estimates).
template <class S>
Layer<S> abs_layer(const Layer<S>& layer) {
  Layer<S> out = layer;
  out.weights = layer.weights.cwiseAbs();
  out.biases = layer.biases.cwiseAbs();
  return out;
}

// Terms one entry of z sums: a dense layer's inputs, a conv2d layer's in·kh·kw,
// an avg-pool window's area; a max pool adds nothing.
template <class S>
double summed_terms(const Layer<S>& layer) {
  switch (layer.kind) {
    case LayerKind::dense: return static_cast<double>(layer.inputs());
    case LayerKind::conv2d: return static_cast<double>(layer.conv.weight_cols());
    case LayerKind::avg_pool: return static_cast<double>(layer.pool.window * layer.pool.window);
    case LayerKind::max_pool: return 0;
  }
  return 0;
}

}  // namespace gradcheck::detail
