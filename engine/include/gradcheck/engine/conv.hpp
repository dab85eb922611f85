#pragma once
// Convolution and pooling kernels: forward and backward of one layer, written
// once for every scalar type (double, long double, complex step, 50 digits).
//
// Definitions (the contract for the conv layers of the case format):
//   layout:  a batch is a matrix with one column per sample; an image sample
//            [channel][y][x] is flattened channel-major, feature (c·H + y)·W + x.
//   conv2d:  Z[o][y][x] = b[o] + Σ_{i,u,v} W(o, (i·kh + u)·kw + v) · X[i][y·s − p + u][x·s − p + v]
//            cross-correlation as in every framework (no kernel flip), zero padding p
//            on all four sides, out = (in + 2p − k) / s + 1; a row of W is PyTorch's
//            weight[o][i][kh][kw] flattened. Z is the pre-activation.
//   pooling: windows of window × window at stride s, no padding, windows that do
//            not fit are dropped (floor, as PyTorch's default). avg divides by window².
//   max tie rule: the gradient of a window goes to ONE entry, the first maximal one
//            in row-major window order (real parts compared; a NaN wins its window,
//            the first NaN, so that non-finite values propagate as in PyTorch).
//   backward: gradients of the quantity whose dL/dZ is dZ, i.e. of the SUM over the
//            batch (the caller folds a mean into dZ, as the dense backward does);
//            db sums over output positions and samples.
//
// How to use:
//   ConvGeometry g{1, 28, 28, 6, 5, 5};  validate(g, "layers[0]");
//   conv2d_forward(g, W, b, X, Z);               // Z: g.output_size() × N
//   conv2d_backward(g, W, X, dZ, dW, db, &dX);   // dX may be nullptr
//   PoolGeometry p{PoolGeometry::Kind::max, 6, 24, 24, 2, 2};
//   pool_forward(p, Z, P);  pool_backward(p, Z, dP, dZ);
//   max_pool_margins(p, Z, 1e-6);                // near-ties: where max pool has a kink

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/scalar.hpp>

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace gradcheck {

// Largest unfolded (im2col) matrix of one sample, (in_channels·kh·kw) × (out_h·out_w)
// entries, i.e. multiply-adds per output channel and sample: 2²⁴ (docs/limits.md).
// The per-sample input and output are bounded by max_layer_width like a dense layer.
inline constexpr Index max_conv_unfolded = Index(1) << 24;

struct ConvGeometry {
  Index in_channels = 0, height = 0, width = 0;
  Index out_channels = 0, kernel_h = 0, kernel_w = 0;
  Index stride = 1, padding = 0;

  Index out_h() const { return (height + 2 * padding - kernel_h) / stride + 1; }
  Index out_w() const { return (width + 2 * padding - kernel_w) / stride + 1; }
  Index positions() const { return out_h() * out_w(); }
  Index input_size() const { return in_channels * height * width; }
  Index output_size() const { return out_channels * positions(); }
  Index weight_cols() const { return in_channels * kernel_h * kernel_w; }
};

struct PoolGeometry {
  enum class Kind { max, avg };
  Kind kind = Kind::max;
  Index channels = 0, height = 0, width = 0;
  Index window = 0, stride = 0;

  Index out_h() const { return (height - window) / stride + 1; }
  Index out_w() const { return (width - window) / stride + 1; }
  Index positions() const { return out_h() * out_w(); }
  Index input_size() const { return channels * height * width; }
  Index output_size() const { return channels * positions(); }
};

inline const char* to_string(PoolGeometry::Kind k) { return k == PoolGeometry::Kind::max ? "max_pool" : "avg_pool"; }

// ---------------------------------------------------------------------------
// Validation: one InputError("", field + ".<member>", problem) per bad geometry,
// raised before any size is multiplied or anything allocated.

namespace detail {

inline void require_at_least(Index value, Index least, const std::string& field, const char* member) {
  if (value < least)
    throw InputError("", field + "." + member,
                     least == 0 ? "must not be negative, got " + std::to_string(value)
                                : "must be at least " + std::to_string(least) + ", got " + std::to_string(value));
  if (value > max_layer_width)
    throw InputError("", field + "." + member,
                     std::to_string(value) + " is more than the limit of " + std::to_string(max_layer_width) +
                         " (max_layer_width, docs/limits.md)");
}

// Multiplies the factors (each at least 1) and throws when the product would
// exceed `limit`, testing each step before it is taken so that nothing overflows.
inline void require_product_within(std::initializer_list<Index> factors, Index limit, const std::string& field,
                                   const char* what, const char* unit) {
  Index product = 1;
  std::string shown;
  bool over = false;
  for (Index f : factors) {
    shown += (shown.empty() ? "" : " × ") + std::to_string(f);
    if (!over && product > limit / f) over = true;
    if (!over) product *= f;
  }
  if (over)
    throw InputError("", field + "." + what,
                     shown + " exceeds the limit of " + std::to_string(limit) + " " + unit);
}

inline void require_fits(Index kernel, Index size, Index padding, const std::string& field, const char* member,
                         const char* dim) {
  if (kernel <= size + 2 * padding) return;
  std::string problem = std::to_string(kernel) + " is larger than the ";
  if (padding == 0)
    problem += "input " + std::string(dim) + " " + std::to_string(size);
  else
    problem += "padded input " + std::string(dim) + " " + std::to_string(size + 2 * padding) + " (" + dim + " " +
               std::to_string(size) + " + 2 × padding " + std::to_string(padding) + ")";
  throw InputError("", field + "." + member, problem);
}

}  // namespace detail

inline void validate(const ConvGeometry& g, const std::string& field) {
  detail::require_at_least(g.in_channels, 1, field, "in_channels");
  detail::require_at_least(g.height, 1, field, "height");
  detail::require_at_least(g.width, 1, field, "width");
  detail::require_at_least(g.out_channels, 1, field, "out_channels");
  detail::require_at_least(g.kernel_h, 1, field, "kernel_h");
  detail::require_at_least(g.kernel_w, 1, field, "kernel_w");
  detail::require_at_least(g.stride, 1, field, "stride");
  detail::require_at_least(g.padding, 0, field, "padding");
  detail::require_fits(g.kernel_h, g.height, g.padding, field, "kernel_h", "height");
  detail::require_fits(g.kernel_w, g.width, g.padding, field, "kernel_w", "width");
  detail::require_product_within({g.in_channels, g.height, g.width}, max_layer_width, field, "input_size",
                                 "features per sample (max_layer_width, docs/limits.md)");
  detail::require_product_within({g.out_channels, g.out_h(), g.out_w()}, max_layer_width, field, "output_size",
                                 "features per sample (max_layer_width, docs/limits.md)");
  detail::require_product_within({g.in_channels, g.kernel_h, g.kernel_w}, max_layer_width, field, "weight_cols",
                                 "inputs per output channel (max_layer_width, docs/limits.md)");
  detail::require_product_within({g.in_channels, g.kernel_h, g.kernel_w, g.out_h(), g.out_w()}, max_conv_unfolded,
                                  field, "unfolded", "entries per sample (max_conv_unfolded, docs/limits.md)");
}

inline void validate(const PoolGeometry& g, const std::string& field) {
  if (g.kind != PoolGeometry::Kind::max && g.kind != PoolGeometry::Kind::avg)
    throw InputError("", field + ".kind", "must be max or avg");
  detail::require_at_least(g.channels, 1, field, "channels");
  detail::require_at_least(g.height, 1, field, "height");
  detail::require_at_least(g.width, 1, field, "width");
  detail::require_at_least(g.window, 1, field, "window");
  detail::require_at_least(g.stride, 1, field, "stride");
  detail::require_fits(g.window, g.height, 0, field, "window", "height");
  detail::require_fits(g.window, g.width, 0, field, "window", "width");
  detail::require_product_within({g.channels, g.height, g.width}, max_layer_width, field, "input_size",
                                 "features per sample (max_layer_width, docs/limits.md)");
}

// ---------------------------------------------------------------------------
// Shapes of the arguments (programming errors, not input errors: std::invalid_argument)

namespace detail {

template <class M>
void require_shape(const char* function, const char* name, const M& m, Index rows, Index cols) {
  if (m.rows() == rows && m.cols() == cols) return;
  throw std::invalid_argument(std::string(function) + ": " + name + " is " + std::to_string(m.rows()) + " × " +
                              std::to_string(m.cols()) + ", expected " + std::to_string(rows) + " × " +
                              std::to_string(cols));
}

template <class S>
void require_conv_shapes(const char* function, const ConvGeometry& g, const Matrix<S>& W, const Matrix<S>& X) {
  require_shape(function, "W", W, g.out_channels, g.weight_cols());
  require_shape(function, "X", X, g.input_size(), X.cols());
}

// Output positions o of one axis whose tap at kernel offset `offset` lands inside
// the input, 0 <= o·stride − padding + offset < size: the half-open range [lo, hi).
struct TapRange {
  Index lo, hi;
};
inline TapRange tap_range(Index size, Index out, Index stride, Index padding, Index offset) {
  const Index first = padding - offset;    // o·stride >= first
  const Index last = size - 1 + first;     // o·stride <= last
  if (last < 0) return {0, 0};
  const Index lo = first > 0 ? (first + stride - 1) / stride : 0;
  const Index hi = std::min(out, last / stride + 1);
  return {std::min(lo, hi), hi};
}

// Walks the unfolded block of samples [n0, n0 + nb), (nb·P) × weight_cols with
// P = out_h·out_w: column k = (c·kh + u)·kw + v, row j·P + oy·out_w + ox (j = n − n0).
// For each output row oy of each column and sample it calls
//   inside(out, x, first, lo, hi)  entry ox of [lo, hi) pairs out[ox] with x[first + ox·stride]
//   padding(out, lo, hi)           entries [lo, hi) read the zero padding
// with out the row's first entry in the block and x sample n's input column.
template <class Out, class In, class Inside, class Padding>
void walk_unfolded(const ConvGeometry& g, In* X, Index x_rows, Out* block, Index n0, Index nb, Inside&& inside,
                   Padding&& padding) {
  const Index OH = g.out_h(), OW = g.out_w(), P = OH * OW, s = g.stride, p = g.padding;
  for (Index c = 0; c < g.in_channels; ++c)
    for (Index u = 0; u < g.kernel_h; ++u) {
      const TapRange ys = tap_range(g.height, OH, s, p, u);
      for (Index v = 0; v < g.kernel_w; ++v) {
        const TapRange xs = tap_range(g.width, OW, s, p, v);
        Out* column = block + ((c * g.kernel_h + u) * g.kernel_w + v) * nb * P;
        for (Index j = 0; j < nb; ++j) {
          In* x = X + (n0 + j) * x_rows;
          for (Index oy = 0; oy < OH; ++oy) {
            Out* out = column + j * P + oy * OW;
            if (oy < ys.lo || oy >= ys.hi) {
              padding(out, 0, OW);
              continue;
            }
            padding(out, 0, xs.lo);
            // first + ox·s is the input feature (c·H + iy)·W + ix, inside the image for ox in [lo, hi)
            inside(out, x, (c * g.height + oy * s - p + u) * g.width - p + v, xs.lo, xs.hi);
            padding(out, xs.hi, OW);
          }
        }
      }
    }
}

// im2col, transposed: the block's unfolded input, (nb·P) × weight_cols, so that
// its product with Wᵀ holds sample j's output channel-major in rows j·P ... j·P + P − 1.
template <class S>
void unfold(const ConvGeometry& g, const Matrix<S>& X, Index n0, Index nb, Matrix<S>& cols) {
  cols.resize(nb * g.positions(), g.weight_cols());
  const Index s = g.stride;
  walk_unfolded(
      g, X.data(), X.rows(), cols.data(), n0, nb,
      [s](S* out, const S* x, Index first, Index lo, Index hi) {
        if (s == 1)  // a plain copy, which the compiler vectorises
          std::copy(x + first + lo, x + first + hi, out + lo);
        else
          for (Index ox = lo; ox < hi; ++ox) out[ox] = x[first + ox * s];
      },
      [](S* out, Index lo, Index hi) { std::fill(out + lo, out + hi, S(0)); });
}

// col2im: the adjoint of unfold, adding the block's unfolded gradient into dX.
template <class S>
void fold_add(const ConvGeometry& g, const Matrix<S>& dcols, Index n0, Index nb, Matrix<S>& dX) {
  const Index s = g.stride;
  walk_unfolded(
      g, dX.data(), dX.rows(), dcols.data(), n0, nb,
      [s](const S* d, S* x, Index first, Index lo, Index hi) {
        if (s == 1)
          for (Index ox = lo; ox < hi; ++ox) x[first + ox] += d[ox];
        else
          for (Index ox = lo; ox < hi; ++ox) x[first + ox * s] += d[ox];
      },
      [](const S*, Index, Index) {});
}

// Samples per unfolded block: about 2¹⁶ entries (512 KiB of doubles, within a
// core's L2 cache: measured fastest for LeNet's layers), at least one.
inline Index conv_block_samples(const ConvGeometry& g, Index batch) {
  const Index per_sample = std::max<Index>(1, g.positions() * g.weight_cols());
  return std::max<Index>(1, std::min(batch, (Index(1) << 16) / per_sample));
}

// The unfolded block and the products of one conv pass, kept between calls (one
// set per thread and scalar type): allocating them per call cost more than the
// arithmetic (each is larger than malloc's trim threshold, so every call paid
// page faults: the double backward of LeNet-5's batch of 4 took 5.8 ms, 0.6 ms
// after; bench/README.md#lenet-5). Each holds one block: about 2¹⁶ scalars, or
// one sample's unfolded input when that is larger (conv_block_samples).
template <class S>
struct ConvWorkspace {
  Matrix<S> cols, out, dcols;
};
template <class S>
ConvWorkspace<S>& conv_workspace() {
  thread_local ConvWorkspace<S> ws;
  return ws;
}

// Sample n's column of a (channels·P) × N matrix, seen as P × channels.
template <class S>
Eigen::Map<Matrix<S>> positions_by_channel(Matrix<S>& Z, Index n, Index P) {
  return Eigen::Map<Matrix<S>>(Z.col(n).data(), P, Z.rows() / P);
}
template <class S>
Eigen::Map<const Matrix<S>> positions_by_channel(const Matrix<S>& Z, Index n, Index P) {
  return Eigen::Map<const Matrix<S>>(Z.col(n).data(), P, Z.rows() / P);
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Convolution

// Z = conv(W, X) + b, Z: g.output_size() × N. One GEMM per block of samples.
template <class S>
void conv2d_forward(const ConvGeometry& g, const Matrix<S>& W, const Vector<S>& b, const Matrix<S>& X,
                    Matrix<S>& Z) {
  detail::require_conv_shapes("conv2d_forward", g, W, X);
  detail::require_shape("conv2d_forward", "b", b, g.out_channels, 1);
  const Index N = X.cols(), P = g.positions(), block = detail::conv_block_samples(g, N);
  Z.resize(g.output_size(), N);
  detail::ConvWorkspace<S>& ws = detail::conv_workspace<S>();
  Matrix<S>&cols = ws.cols, &out = ws.out;
  for (Index n0 = 0; n0 < N; n0 += block) {
    const Index nb = std::min(block, N - n0);
    detail::unfold(g, X, n0, nb, cols);
    out.resize(nb * P, g.out_channels);
    out.noalias() = cols * W.transpose();
    out.rowwise() += b.transpose();
    for (Index j = 0; j < nb; ++j) detail::positions_by_channel(Z, n0 + j, P) = out.middleRows(j * P, P);
  }
}

// dW = Σ_n Σ_pos dZ ⊗ unfolded X, db = Σ_n Σ_pos dZ, dX = col2im(dZ · W) when dX
// is not null. Overwrites (does not accumulate into) its outputs.
template <class S>
void conv2d_backward(const ConvGeometry& g, const Matrix<S>& W, const Matrix<S>& X, const Matrix<S>& dZ,
                     Matrix<S>& dW, Vector<S>& db, Matrix<S>* dX = nullptr) {
  detail::require_conv_shapes("conv2d_backward", g, W, X);
  detail::require_shape("conv2d_backward", "dZ", dZ, g.output_size(), X.cols());
  const Index N = X.cols(), P = g.positions(), block = detail::conv_block_samples(g, N);
  dW.setZero(g.out_channels, g.weight_cols());
  db.setZero(g.out_channels);
  if (dX) dX->setZero(g.input_size(), N);
  detail::ConvWorkspace<S>& ws = detail::conv_workspace<S>();
  Matrix<S>&cols = ws.cols, &delta = ws.out, &dcols = ws.dcols;
  for (Index n0 = 0; n0 < N; n0 += block) {
    const Index nb = std::min(block, N - n0);
    delta.resize(nb * P, g.out_channels);
    for (Index j = 0; j < nb; ++j) delta.middleRows(j * P, P) = detail::positions_by_channel(dZ, n0 + j, P);
    detail::unfold(g, X, n0, nb, cols);
    dW.noalias() += delta.transpose() * cols;
    db += delta.colwise().sum().transpose();
    if (dX) {
      dcols.resize(nb * P, g.weight_cols());
      dcols.noalias() = delta * W;
      detail::fold_add(g, dcols, n0, nb, *dX);
    }
  }
}

// ---------------------------------------------------------------------------
// Pooling

namespace detail {

// Calls f(c, oy, ox, first) for every window, first = the input feature of its
// top-left entry; the window's entries are first + u·W + v.
template <class F>
void for_each_window(const PoolGeometry& g, F&& f) {
  const Index OH = g.out_h(), OW = g.out_w();
  for (Index c = 0; c < g.channels; ++c)
    for (Index oy = 0; oy < OH; ++oy)
      for (Index ox = 0; ox < OW; ++ox) f(c, oy, ox, (c * g.height + oy * g.stride) * g.width + ox * g.stride);
}

// Max pool's pick in one window (the tie rule of the header) as an input feature
// index, passing over `skip` (the runner-up is the pick among the others). The
// general form: any window, NaN or not.
template <class S>
Index window_argmax(const PoolGeometry& g, const S* x, Index first, Index skip = -1) {
  Index best = skip == first ? first + 1 : first;
  auto top = re(x[best]);
  for (Index u = 0; u < g.window; ++u)
    for (Index v = 0; v < g.window; ++v) {
      const Index i = first + u * g.width + v;
      if (i == skip) continue;
      const auto xi = re(x[i]);
      // strictly larger wins, so a tie keeps the earlier entry; a NaN beats every number
      if (xi > top || (xi != xi && top == top)) {
        best = i;
        top = xi;
      }
    }
  return best;
}

// The same pick in a K × K window without NaN, in a form the compiler keeps free
// of branches (on data each comparison is a coin toss: the branching form made
// max pool 3-7× slower): the largest real part by a max instruction, then
// the first entry equal to it, from a bit mask.
template <int K, class S>
auto window_top(const PoolGeometry& g, const S* x, Index first) {
  auto top = re(x[first]);
  for (Index u = 0; u < K; ++u)
    for (Index v = 0; v < K; ++v) {
      const auto xi = re(x[first + u * g.width + v]);
      top = xi > top ? xi : top;
    }
  return top;
}
template <int K, class S, class R>
Index first_equal(const PoolGeometry& g, const S* x, Index first, const R& top) {
  static_assert(K * K <= 32, "one bit per entry");
  unsigned hits = 0;
  for (Index u = 0; u < K; ++u)
    for (Index v = 0; v < K; ++v) hits |= unsigned(re(x[first + u * g.width + v]) == top) << (u * K + v);
  const int at = __builtin_ctz(hits);  // the first hit in row-major order
  return first + (at / K) * g.width + at % K;
}

// Whether X may hold a NaN, in one vectorised pass (x·0 is NaN for NaN and ±inf;
// an infinity only costs the general form).
template <class S>
bool may_hold_nan(const Matrix<S>& X) {
  const S probe = (X.array() * S(0)).sum();
  return probe != probe;
}

// body(std::integral_constant<int, K>{}): K = the window when it is 2 or 3 and X
// holds no NaN (the branch-free form applies), else 0 (the general form).
template <class S, class F>
void with_window_form(const PoolGeometry& g, const Matrix<S>& X, F&& body) {
  if (!may_hold_nan(X)) {
    if (g.window == 2) return body(std::integral_constant<int, 2>{});
    if (g.window == 3) return body(std::integral_constant<int, 3>{});
  }
  body(std::integral_constant<int, 0>{});
}

template <int K, class S>
Index max_pool_pick(const PoolGeometry& g, const S* x, Index first) {
  if constexpr (K == 0)
    return window_argmax(g, x, first);
  else
    return first_equal<K>(g, x, first, window_top<K>(g, x, first));
}

}  // namespace detail

template <class S>
void max_pool_forward(const PoolGeometry& g, const Matrix<S>& X, Matrix<S>& Z) {
  detail::require_shape("max_pool_forward", "X", X, g.input_size(), X.cols());
  Z.resize(g.output_size(), X.cols());
  const Index OH = g.out_h(), OW = g.out_w();
  detail::with_window_form(g, X, [&](auto form) {
    constexpr int K = decltype(form)::value;
    for (Index n = 0; n < X.cols(); ++n) {
      const S* x = X.col(n).data();
      detail::for_each_window(g, [&](Index c, Index oy, Index ox, Index first) {
        S& z = Z((c * OH + oy) * OW + ox, n);
        if constexpr (K > 0 && !detail::is_complex<S>::value)
          z = detail::window_top<K>(g, x, first);  // a real value is all the forward needs
        else
          z = x[detail::max_pool_pick<K>(g, x, first)];
      });
    }
  });
}

// dX: each window's dZ added to the one entry max_pool_forward picked.
template <class S>
void max_pool_backward(const PoolGeometry& g, const Matrix<S>& X, const Matrix<S>& dZ, Matrix<S>& dX) {
  detail::require_shape("max_pool_backward", "X", X, g.input_size(), X.cols());
  detail::require_shape("max_pool_backward", "dZ", dZ, g.output_size(), X.cols());
  dX.setZero(g.input_size(), X.cols());
  const Index OH = g.out_h(), OW = g.out_w();
  detail::with_window_form(g, X, [&](auto form) {
    constexpr int K = decltype(form)::value;
    for (Index n = 0; n < X.cols(); ++n) {
      const S* x = X.col(n).data();
      detail::for_each_window(g, [&](Index c, Index oy, Index ox, Index first) {
        dX(detail::max_pool_pick<K>(g, x, first), n) += dZ((c * OH + oy) * OW + ox, n);
      });
    }
  });
}

template <class S>
void avg_pool_forward(const PoolGeometry& g, const Matrix<S>& X, Matrix<S>& Z) {
  detail::require_shape("avg_pool_forward", "X", X, g.input_size(), X.cols());
  Z.resize(g.output_size(), X.cols());
  const Index OH = g.out_h(), OW = g.out_w();
  const S area = S(g.window * g.window);
  for (Index n = 0; n < X.cols(); ++n)
    detail::for_each_window(g, [&](Index c, Index oy, Index ox, Index first) {
      S sum = S(0);
      for (Index u = 0; u < g.window; ++u)
        for (Index v = 0; v < g.window; ++v) sum += X(first + u * g.width + v, n);
      Z((c * OH + oy) * OW + ox, n) = S(sum / area);
    });
}

template <class S>
void avg_pool_backward(const PoolGeometry& g, const Matrix<S>& dZ, Matrix<S>& dX) {
  detail::require_shape("avg_pool_backward", "dZ", dZ, g.output_size(), dZ.cols());
  dX.setZero(g.input_size(), dZ.cols());
  const Index OH = g.out_h(), OW = g.out_w();
  const S area = S(g.window * g.window);
  for (Index n = 0; n < dZ.cols(); ++n)
    detail::for_each_window(g, [&](Index c, Index oy, Index ox, Index first) {
      const S share = S(dZ((c * OH + oy) * OW + ox, n) / area);
      for (Index u = 0; u < g.window; ++u)
        for (Index v = 0; v < g.window; ++v) dX(first + u * g.width + v, n) += share;
    });
}

// Either kind, by g.kind. (avg pool's backward does not read X.)
template <class S>
void pool_forward(const PoolGeometry& g, const Matrix<S>& X, Matrix<S>& Z) {
  if (g.kind == PoolGeometry::Kind::max) return max_pool_forward(g, X, Z);
  avg_pool_forward(g, X, Z);
}
template <class S>
void pool_backward(const PoolGeometry& g, const Matrix<S>& X, const Matrix<S>& dZ, Matrix<S>& dX) {
  if (g.kind == PoolGeometry::Kind::max) return max_pool_backward(g, X, dZ, dX);
  avg_pool_backward(g, dZ, dX);
}

// ---------------------------------------------------------------------------
// Max-pool margins: how close each window is to changing its winner. A window
// whose gap is within what a finite-difference step moves its entries has a kink
// there (the derivative jumps), like a relu at z ≈ 0.

struct PoolMargin {
  Index sample, channel, out_y, out_x;  // the window
  Index first, second;  // input features (c·H + y)·W + x of the winner (the one that gets the
                        // gradient) and of the runner-up; second = −1 for a 1 × 1 window
  double gap;           // re(x[first]) − re(x[second]) >= 0, computed in S; +inf for 1 × 1,
                        // NaN when a NaN (or two infinities) is in the window
};

// Every window with gap <= max_gap (all of them by default), in the order
// sample, channel, out_y, out_x.
template <class S>
std::vector<PoolMargin> max_pool_margins(const PoolGeometry& g, const Matrix<S>& X,
                                         double max_gap = std::numeric_limits<double>::infinity()) {
  detail::require_shape("max_pool_margins", "X", X, g.input_size(), X.cols());
  std::vector<PoolMargin> margins;
  for (Index n = 0; n < X.cols(); ++n) {
    const S* x = X.col(n).data();
    detail::for_each_window(g, [&](Index c, Index oy, Index ox, Index first) {
      const Index a = detail::window_argmax(g, x, first);
      const Index b = g.window > 1 ? detail::window_argmax(g, x, first, a) : -1;
      const double gap = b < 0 ? std::numeric_limits<double>::infinity()
                               : detail::to_double(S(detail::re(x[a]) - detail::re(x[b])));
      if (gap <= max_gap || gap != gap) margins.push_back({n, c, oy, ox, a, b, gap});
    });
  }
  return margins;
}

}  // namespace gradcheck
