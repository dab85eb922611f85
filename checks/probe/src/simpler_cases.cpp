// Simpler cases for the probe's shrinker (simpler_cases.hpp).
#include "simpler_cases.hpp"

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/format.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

namespace gradcheck::detail {

double round_significant(double x, int digits) {
  if (x == 0 || !std::isfinite(x)) return x;
  return std::strtod(format_number(x, digits).c_str(), nullptr);
}

int significant_digits(double x) {
  for (int d = 1; d < 17; ++d)
    if (round_significant(x, d) == x) return d;
  return 17;
}

namespace {

bool finite(const Case& c) {
  for (const auto& l : c.network.layers)
    if (!l.weights.allFinite() || !l.biases.allFinite()) return false;
  return c.inputs.allFinite() && c.targets.allFinite();
}

bool is_image_case(const Case& c) { return !c.network.input_shape.empty() || !c.network.is_dense(); }

bool valid_targets(const Case& c) {
  if (c.network.loss == Loss::binary_cross_entropy &&
      ((c.targets.array() < 0).any() || (c.targets.array() > 1).any()))
    return false;
  return c.targets.rows() == c.network.output_size() && c.targets.cols() == c.inputs.cols();
}

// An image case: the engine's own validation (shapes filled, kernels and
// windows that fit), the output layer dense, inputs of input_shape's size.
bool valid_image(const Case& c) {
  const auto& layers = c.network.layers;
  if (layers.empty() || !layers.back().is_dense() || c.inputs.cols() < 1 || !finite(c)) return false;
  if (c.network.input_shape.empty() || c.inputs.rows() != c.network.input_shape.size()) return false;
  try {
    validate(c.network);
  } catch (const InputError&) {
    return false;
  }
  return valid_targets(c);
}

bool valid(const Case& c) {
  if (is_image_case(c)) return valid_image(c);
  const auto& layers = c.network.layers;
  if (layers.empty() || c.inputs.cols() < 1 || c.inputs.rows() < 1 || !finite(c)) return false;
  Index fan_in = c.inputs.rows();
  for (const auto& l : layers) {
    if (l.units() < 1 || l.inputs() != fan_in || l.biases.size() != l.units()) return false;
    if (l.activation == Activation::softmax && l.units() < 2) return false;
    fan_in = l.units();
  }
  if (!output_supports(c.network.loss, layers.back().activation)) return false;
  if (c.network.loss == Loss::binary_cross_entropy &&
      ((c.targets.array() < 0).any() || (c.targets.array() > 1).any()))
    return false;
  for (std::size_t l = 0; l + 1 < layers.size(); ++l)
    if (layers[l].activation == Activation::softmax) return false;
  return c.targets.rows() == fan_in && c.targets.cols() == c.inputs.cols();
}

// Targets valid for the loss after rows were removed: cross-entropy targets
// are renormalised to a probability vector per sample (one-hot at row 0 when
// nothing is left), binary cross-entropy ones stay in [0, 1].
void repair_targets(Case& c) {
  if (c.network.loss != Loss::cross_entropy) return;
  for (Index s = 0; s < c.targets.cols(); ++s) {
    const double total = c.targets.col(s).sum();
    if (total > 0) c.targets.col(s) /= total;
    else c.targets(0, s) = 1;
  }
}

Matrix<double> resized(const Matrix<double>& m, Index rows, Index cols) {
  Matrix<double> out = Matrix<double>::Zero(rows, cols);
  const Index r = std::min(rows, m.rows()), k = std::min(cols, m.cols());
  out.topLeftCorner(r, k) = m.topLeftCorner(r, k);
  return out;
}

Matrix<double> without_row(const Matrix<double>& m, Index i) {
  Matrix<double> out(m.rows() - 1, m.cols());
  out.topRows(i) = m.topRows(i);
  out.bottomRows(m.rows() - 1 - i) = m.bottomRows(m.rows() - 1 - i);
  return out;
}

Matrix<double> without_col(const Matrix<double>& m, Index j) { return without_row(m.transpose(), j).transpose(); }

Vector<double> without_entry(const Vector<double>& v, Index i) {
  Vector<double> out(v.size() - 1);
  out.head(i) = v.head(i);
  out.tail(v.size() - 1 - i) = v.tail(v.size() - 1 - i);
  return out;
}

void add_if_valid(std::vector<Case>& out, Case c) {
  if (valid(c)) out.push_back(std::move(c));
}

// Without the output layer: the last hidden layer becomes the output (with the
// output's activation when the loss needs it), the targets cut to its units.
void drop_output_layer(const Case& c, std::vector<Case>& out) {
  if (!c.network.layers[c.network.layers.size() - 2].is_dense()) return;  // the output layer stays dense
  Case d = c;
  const Activation old_out = d.network.layers.back().activation;
  d.network.layers.pop_back();
  auto& last = d.network.layers.back();
  if (!output_supports(d.network.loss, last.activation)) last.activation = old_out;
  d.targets = resized(c.targets, last.units(), c.targets.cols());
  repair_targets(d);
  add_if_valid(out, std::move(d));
}

void layer_candidates(const Case& c, std::vector<Case>& out) {
  const std::size_t L = c.network.layers.size();
  if (L < 2) return;
  drop_output_layer(c, out);
  // Without the first layer: its activations become the inputs (the rest of
  // the network computes exactly what it did).
  Case first = c;
  first.inputs = forward(c.network, c.inputs).a[1];
  first.network.input_shape = c.network.layers.front().output_shape();  // empty after a dense layer
  first.network.layers.erase(first.network.layers.begin());
  if (first.network.is_dense()) first.network.input_shape = {};
  add_if_valid(out, std::move(first));
  for (std::size_t l = 1; l + 1 < L; ++l) {  // a hidden layer: the next one takes its inputs
    if (!c.network.layers[l].is_dense()) continue;  // image layers: image_candidates
    Case d = c;
    auto& next = d.network.layers[l + 1];
    next.weights = resized(next.weights, next.units(), c.network.layers[l].inputs());
    d.network.layers.erase(d.network.layers.begin() + static_cast<std::ptrdiff_t>(l));
    add_if_valid(out, std::move(d));
  }
}

void batch_candidates(const Case& c, std::vector<Case>& out) {
  const Index n = c.inputs.cols();
  if (n < 2) return;
  for (Index s = 0; s < n; ++s) {  // each sample alone
    Case d = c;
    d.inputs = c.inputs.col(s);
    d.targets = c.targets.col(s);
    add_if_valid(out, std::move(d));
  }
  for (Index s = 0; s < n && n > 2; ++s) {  // one sample fewer
    Case d = c;
    d.inputs = without_col(c.inputs, s);
    d.targets = without_col(c.targets, s);
    add_if_valid(out, std::move(d));
  }
}

// d without unit j of layer l: its row of W_l and b_l, and its column of
// W_{l+1} (its target row, for the output layer).
void remove_unit(Case& d, std::size_t l, Index j) {
  auto& layer = d.network.layers[l];
  layer.weights = without_row(layer.weights, j);
  layer.biases = without_entry(layer.biases, j);
  if (l + 1 < d.network.layers.size()) {
    auto& next = d.network.layers[l + 1];
    next.weights = without_col(next.weights, j);
  } else {
    d.targets = without_row(d.targets, j);
    repair_targets(d);
  }
}

// One unit fewer in one layer; and, where W_{l+1} is square, unit j of layers
// l and l + 1 together, which keeps it square (a bug that shows only on a
// square matrix, such as W for Wᵀ, survives the shrink).
void unit_candidates(const Case& c, std::vector<Case>& out) {
  const std::size_t L = c.network.layers.size();
  for (std::size_t l = 0; l < L; ++l) {
    if (!c.network.layers[l].is_dense()) continue;  // channels: image_candidates
    const Index units = c.network.layers[l].units();
    for (Index j = 0; j < units && units > 1; ++j) {
      Case d = c;
      remove_unit(d, l, j);
      add_if_valid(out, std::move(d));
    }
    if (l + 1 == L || c.network.layers[l + 1].units() != units) continue;
    for (Index j = 0; j < units && units > 1; ++j) {
      Case d = c;
      remove_unit(d, l, j);
      remove_unit(d, l + 1, j);
      add_if_valid(out, std::move(d));
    }
  }
  if (is_image_case(c)) return;  // the image: image_candidates
  for (Index f = 0; f < c.inputs.rows() && c.inputs.rows() > 1; ++f) {  // one input feature fewer
    Case d = c;
    d.inputs = without_row(c.inputs, f);
    d.network.layers[0].weights = without_col(c.network.layers[0].weights, f);
    add_if_valid(out, std::move(d));
  }
}

// ---------------------------------------------------------------------------
// Image cases. A conv2d kernel's columns are a map too, in_channels × kh × kw
// (channel-major, as the inputs and the first dense layer's columns are), so
// one pair of helpers cuts and moves all three.

// The features (channel, y, x) of a `shape` map for which keep(...) holds, in order.
std::vector<Index> features_where(const ImageShape& shape, const std::function<bool(Index, Index, Index)>& keep) {
  std::vector<Index> kept;
  for (Index ch = 0; ch < shape.channels; ++ch)
    for (Index y = 0; y < shape.height; ++y)
      for (Index x = 0; x < shape.width; ++x)
        if (keep(ch, y, x)) kept.push_back((ch * shape.height + y) * shape.width + x);
  return kept;
}

Matrix<double> rows_of(const Matrix<double>& m, const std::vector<Index>& rows) {
  Matrix<double> out(static_cast<Index>(rows.size()), m.cols());
  for (std::size_t k = 0; k < rows.size(); ++k) out.row(static_cast<Index>(k)) = m.row(rows[k]);
  return out;
}

Matrix<double> cols_of(const Matrix<double>& m, const std::vector<Index>& cols) {
  return rows_of(m.transpose(), cols).transpose();
}

// Columns that are the features of a `from` map moved to a `to` map: entry
// (channel, y, x) where both maps have it, 0 elsewhere.
Matrix<double> moved_cols(const Matrix<double>& m, const ImageShape& from, const ImageShape& to) {
  Matrix<double> out = Matrix<double>::Zero(m.rows(), to.size());
  for (Index ch = 0; ch < std::min(from.channels, to.channels); ++ch)
    for (Index y = 0; y < std::min(from.height, to.height); ++y)
      for (Index x = 0; x < std::min(from.width, to.width); ++x)
        out.col((ch * to.height + y) * to.width + x) = m.col((ch * from.height + y) * from.width + x);
  return out;
}

ImageShape kernel_map(const ConvGeometry& g) { return {g.in_channels, g.kernel_h, g.kernel_w}; }

// The map the first dense layer reads: the last image layer's output.
ImageShape dense_input_map(const Network<double>& net) {
  ImageShape s = net.input_shape;
  for (const auto& l : net.layers) {
    if (l.is_dense()) break;
    s = l.output_shape();
  }
  return s;
}

// After the geometry of d's image layers changed: each image layer's input
// shape filled again from input_shape (a conv2d layer that now reads another
// number of channels keeps the kernel entries of the channels both have), and
// the first dense layer's columns moved from `before`, the map it read, to the
// one it reads now. False when a kernel or window no longer fits.
bool rewire(Case& d, const ImageShape& before) {
  ImageShape shape = d.network.input_shape;
  for (auto& l : d.network.layers) {
    if (l.is_dense()) {
      if (l.inputs() != shape.size()) l.weights = moved_cols(l.weights, before, shape);
      return true;
    }
    if (l.kind == LayerKind::conv2d) {
      ConvGeometry& g = l.conv;
      if (g.in_channels != shape.channels) {
        const ImageShape had = kernel_map(g);
        g.in_channels = shape.channels;
        l.weights = moved_cols(l.weights, had, kernel_map(g));
      }
      g.height = shape.height;
      g.width = shape.width;
      if (g.kernel_h > g.height + 2 * g.padding || g.kernel_w > g.width + 2 * g.padding) return false;
    } else {
      l.pool.channels = shape.channels;
      l.pool.height = shape.height;
      l.pool.width = shape.width;
      if (l.pool.window > shape.height || l.pool.window > shape.width) return false;
    }
    shape = l.output_shape();
  }
  return true;
}

// The geometry changed by `change` (false: nothing to change), rewired, kept when valid.
void add_rewired(const Case& c, std::vector<Case>& out, const std::function<bool(Case&)>& change) {
  Case d = c;
  if (change(d) && rewire(d, dense_input_map(c.network))) add_if_valid(out, std::move(d));
}

// Channel ch of the map that layers[from] reads removed from the layer that
// consumes it (pooling passes channels through): a conv2d layer's kernel
// entries of that input channel, or a dense layer's columns of it.
void remove_consumed_channel(Case& d, std::size_t from, Index ch, ImageShape map) {
  for (std::size_t l = from; l < d.network.layers.size(); ++l) {
    Layer<double>& layer = d.network.layers[l];
    const auto other = [ch](Index c, Index, Index) { return c != ch; };
    if (layer.kind == LayerKind::conv2d) {
      layer.weights = cols_of(layer.weights, features_where(kernel_map(layer.conv), other));
      --layer.conv.in_channels;
      return;
    }
    if (layer.is_dense()) {
      layer.weights = cols_of(layer.weights, features_where(map, other));
      return;
    }
    map = layer.output_shape();
  }
}

// d without output channel o of conv2d layer l: its row of W, its bias, and
// what the next layer reads of it (`map`: c's output map of layer l).
void remove_out_channel(Case& d, std::size_t l, Index o, const ImageShape& map) {
  Layer<double>& layer = d.network.layers[l];
  layer.weights = without_row(layer.weights, o);
  layer.biases = without_entry(layer.biases, o);
  --layer.conv.out_channels;
  remove_consumed_channel(d, l + 1, o, map);
}

// The conv2d layer that reads layer l's output directly, when it has as many
// input as output channels (a bug that needs W[o][i] and W[i][o] both to exist,
// such as channels swapped in dX, survives removing channel o from both).
std::optional<std::size_t> square_consumer(const Network<double>& net, std::size_t l) {
  if (l + 1 >= net.layers.size()) return std::nullopt;
  const Layer<double>& next = net.layers[l + 1];
  if (next.kind != LayerKind::conv2d || next.conv.in_channels != next.conv.out_channels) return std::nullopt;
  return l + 1;
}

// One channel fewer: an output channel of a conv2d layer (with the same channel
// of a square conv2d layer after it, too), or an input channel.
void channel_candidates(const Case& c, std::vector<Case>& out) {
  const auto& layers = c.network.layers;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    if (layers[l].kind != LayerKind::conv2d || layers[l].conv.out_channels < 2) continue;
    const std::optional<std::size_t> square = square_consumer(c.network, l);
    for (Index o = 0; o < layers[l].conv.out_channels; ++o) {
      add_rewired(c, out, [&](Case& d) {
        remove_out_channel(d, l, o, layers[l].output_shape());
        return true;
      });
      if (square)
        add_rewired(c, out, [&](Case& d) {
          remove_out_channel(d, l, o, layers[l].output_shape());
          remove_out_channel(d, *square, o, layers[*square].output_shape());
          return true;
        });
    }
  }
  const ImageShape in = c.network.input_shape;
  for (Index ch = 0; ch < in.channels && in.channels > 1; ++ch)
    add_rewired(c, out, [&](Case& d) {
      d.inputs = rows_of(c.inputs, features_where(in, [ch](Index k, Index, Index) { return k != ch; }));
      --d.network.input_shape.channels;
      remove_consumed_channel(d, 0, ch, in);
      return true;
    });
}

// The image one row or column smaller (the first or the last one).
void image_size_candidates(const Case& c, std::vector<Case>& out) {
  const ImageShape in = c.network.input_shape;
  for (bool rows : {true, false}) {
    const Index side = rows ? in.height : in.width;
    for (Index cut : {side - 1, Index(0)})
      add_rewired(c, out, [&](Case& d) {
        if (side < 2) return false;
        d.inputs = rows_of(c.inputs, features_where(in, [&](Index, Index y, Index x) { return (rows ? y : x) != cut; }));
        --(rows ? d.network.input_shape.height : d.network.input_shape.width);
        return true;
      });
  }
}

// A conv2d kernel one row or column smaller (its first or last), stride 1,
// padding one less; a pooling window one smaller.
void geometry_candidates(const Case& c, std::vector<Case>& out) {
  for (std::size_t l = 0; l < c.network.layers.size(); ++l) {
    const Layer<double>& layer = c.network.layers[l];
    if (is_pooling(layer.kind))
      add_rewired(c, out, [&](Case& d) {
        PoolGeometry& p = d.network.layers[l].pool;
        if (p.window < 3) return false;
        --p.window;
        p.stride = std::min(p.stride, p.window);
        return true;
      });
    if (layer.kind != LayerKind::conv2d) continue;
    const ConvGeometry g = layer.conv;
    for (bool rows : {true, false})
      for (Index cut : {(rows ? g.kernel_h : g.kernel_w) - 1, Index(0)})
        add_rewired(c, out, [&](Case& d) {
          Layer<double>& k = d.network.layers[l];
          if ((rows ? g.kernel_h : g.kernel_w) < 2) return false;
          k.weights = cols_of(layer.weights,
                              features_where(kernel_map(g), [&](Index, Index u, Index v) { return (rows ? u : v) != cut; }));
          --(rows ? k.conv.kernel_h : k.conv.kernel_w);
          return true;
        });
    add_rewired(c, out, [&](Case& d) {
      d.network.layers[l].conv.stride = 1;
      return g.stride > 1;
    });
    add_rewired(c, out, [&](Case& d) {
      d.network.layers[l].conv.padding = std::max<Index>(0, g.padding - 1);
      return g.padding > 0;
    });
  }
}

// Without an image layer after the first (the first goes in the layers stage):
// the layers after it read what it read.
void drop_image_layer_candidates(const Case& c, std::vector<Case>& out) {
  for (std::size_t l = 1; l < c.network.layers.size(); ++l)
    if (!c.network.layers[l].is_dense())
      add_rewired(c, out, [&](Case& d) {
        d.network.layers.erase(d.network.layers.begin() + static_cast<std::ptrdiff_t>(l));
        return true;
      });
}

void image_candidates(const Case& c, std::vector<Case>& out) {
  if (c.network.input_shape.empty()) return;
  drop_image_layer_candidates(c, out);
  channel_candidates(c, out);
  image_size_candidates(c, out);
  geometry_candidates(c, out);
}

// Every value the shrinker may change, in reading order: layer by layer the
// weights and biases, then the inputs, then the targets (not cross-entropy's).
std::vector<double*> values_of(Case& c) {
  std::vector<double*> v;
  for (auto& l : c.network.layers) {
    for (Index i = 0; i < l.weights.size(); ++i) v.push_back(l.weights.data() + i);
    for (Index i = 0; i < l.biases.size(); ++i) v.push_back(l.biases.data() + i);
  }
  for (Index i = 0; i < c.inputs.size(); ++i) v.push_back(c.inputs.data() + i);
  if (c.network.loss != Loss::cross_entropy)  // cross-entropy targets: one_hot_candidates
    for (Index i = 0; i < c.targets.size(); ++i) v.push_back(c.targets.data() + i);
  return v;
}

// Cross-entropy targets: one sample's probability vector made one-hot, at
// each class in turn.
void one_hot_candidates(const Case& c, std::vector<Case>& out) {
  if (c.network.loss != Loss::cross_entropy) return;
  for (Index s = 0; s < c.targets.cols(); ++s) {
    if ((c.targets.col(s).array() == 0).count() == c.targets.rows() - 1) continue;  // one-hot already
    for (Index k = 0; k < c.targets.rows(); ++k) {
      Case d = c;
      d.targets.col(s).setZero();
      d.targets(k, s) = 1;
      add_if_valid(out, std::move(d));
    }
  }
}

void round_candidates(const Case& c, std::vector<Case>& out) {
  for (int digits : {1, 2}) {
    Case d = c;
    bool changed = false;
    for (double* x : values_of(d)) {
      const double r = round_significant(*x, digits);
      changed = changed || r != *x;
      *x = r;
    }
    if (changed) add_if_valid(out, std::move(d));
  }
}

// How hard a value is to read: 0, then ±1, then ±0.5, then by significant
// digits and distance of the exponent from 0 (0.3 < 0.25 < 30 < 1e-07).
double complexity(double x) {
  const double m = std::abs(x);
  if (m == 0) return 0;
  if (m == 1) return 1;
  if (m == 0.5) return 2;
  return 10.0 * significant_digits(x) + std::abs(std::log10(m));
}

void value_candidates(const Case& c, std::vector<Case>& out) {
  Case read = c;  // values_of needs a case it may point into
  const std::vector<double*> values = values_of(read);
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double x = *values[k];
    const double sign = x < 0 ? -1.0 : 1.0;
    const double simpler[] = {0.0, sign, sign * 0.5, round_significant(x, 1), round_significant(x, 2)};
    for (double v : simpler) {
      if (complexity(v) >= complexity(x)) continue;  // not simpler than what is there
      Case d = c;
      *values_of(d)[k] = v;
      add_if_valid(out, std::move(d));
    }
  }
}

}  // namespace

std::vector<Case> simpler_cases(const Case& c, ShrinkStage stage) {
  std::vector<Case> out;
  switch (stage) {
    case ShrinkStage::layers: layer_candidates(c, out); break;
    case ShrinkStage::batch: batch_candidates(c, out); break;
    case ShrinkStage::image: image_candidates(c, out); break;
    case ShrinkStage::units: unit_candidates(c, out); break;
    case ShrinkStage::round: round_candidates(c, out); break;
    case ShrinkStage::values:
      one_hot_candidates(c, out);
      value_candidates(c, out);
      break;
  }
  return out;
}

}  // namespace gradcheck::detail
