#pragma once
// The loss along one coordinate (or one direction) of a network's parameters,
// recomputed from cached activations: perturbing a parameter of layer l
// recomputes layers ≥ l only; a weight W_l(j, i) or bias b_l(j) changes one
// row of z_l, so layer l + 1 gets a rank-one update of its cached z, and only
// the samples the perturbation touches (a_l(i, n) ≠ 0) are recomputed at all.
// The value returned is Σ ℓ_n over those samples, unreduced: the untouched
// samples cancel exactly in every difference, which both saves their work and
// removes their round-off from the difference.
//
// Every relu/leaky_relu pre-activation that is recomputed is compared with its
// side of 0 at θ (−, 0, +; an exact 0 is its own side): a change is a kink
// crossing, reported with the first (layer, unit, sample) that moved. Every
// max-pool window recomputed is compared with its pick at θ the same way: another
// entry becoming the largest is a crossing (unit = the window), and a window tied
// at θ whose tie breaks (its two tied entries move apart; for the complex step, in
// their imaginary parts) is an exact kink, as a relu z at exactly 0 that moves.
//
// conv2d and pooling layers (which come before any dense layer): a parameter of
// a conv2d layer moves z_l by t times ∂z_l/∂θ, computed once per parameter (the
// unfolded input: exact), and every sample is recomputed from layer l on; an input
// entry of an image first layer is pushed through it the same way (conv2d) or
// pooled again (pooling).
//
// Written once for double, std::complex<double> (complex step: t = i·h) and
// cpp_bin_float_50 (the reference's cross-check). Not thread-safe: one per thread.

#include <gradcheck/gradient/result.hpp>
#include <gradcheck/engine/network.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace gradcheck::detail {

// One parameter (or input) entry: weights(row, col), biases(row), inputs(row = feature, col = sample).
struct ParamRef {
  int layer = 0;
  TensorKind tensor = TensorKind::weights;
  Index row = 0, col = 0;
};

// The first kinked pre-activation whose side differs from θ's.
// A pre-activation at exactly 0 at θ that moved is recorded as `exact`: it is
// a crossing unless the evaluator tolerates it (one-sided stencils, which may
// start at the kink), and for the complex step, whose real part never moves,
// it is the only sign of a kink.
struct Crossing {
  bool crossed = false;
  int layer = 0;
  Index unit = 0, sample = 0;
  int count = 0;  // how many pre-activations changed side
  bool exact = false;
  int exact_layer = 0;
  Index exact_unit = 0, exact_sample = 0;
  int exact_count = 0;
};

template <class S>
int side_of(const S& z) {
  const auto r = re(z);
  return r > 0 ? 1 : (r < 0 ? -1 : 0);
}

// The input feature of the top-left entry of window w (the row w of the pooled z).
inline Index pool_window_first(const PoolGeometry& g, Index w) {
  const Index OH = g.out_h(), OW = g.out_w();
  const Index c = w / (OH * OW), oy = (w / OW) % OH, ox = w % OW;
  return (c * g.height + oy * g.stride) * g.width + ox * g.stride;
}

// The max-pool kink of window w of layer `layer` on sample n, from the layer's
// input a: the window's pick (the engine's tie rule) and the entry that could
// take its place, `other` (−1: the runner-up), and their gap.
template <class S>
Kink pool_kink(const PoolGeometry& g, const Matrix<S>& a, int layer, Index w, Index n, Index other = -1) {
  Kink k;
  k.kind = KinkKind::max_pool;
  k.layer = layer;
  k.unit = w;
  k.sample = n;
  const Index OH = g.out_h(), OW = g.out_w();
  k.channel = w / (OH * OW);
  k.out_y = (w / OW) % OH;
  k.out_x = w % OW;
  const S* x = a.col(n).data();
  const Index first = pool_window_first(g, w);
  k.first = window_argmax(g, x, first);
  k.first_value = to_double(x[k.first]);
  k.first_y = (k.first / g.width) % g.height;
  k.first_x = k.first % g.width;
  if (g.window > 1) {
    k.second = other >= 0 ? other : window_argmax(g, x, first, k.first);
    k.second_value = to_double(x[k.second]);
    k.second_y = (k.second / g.width) % g.height;
    k.second_x = k.second % g.width;
    k.z = to_double(S(re(x[k.first]) - re(x[k.second])));
  }
  return k;
}

// The activation as LineLoss computes it: the engine's, except the sigmoid in
// double where 4-wide SIMD is available (AVX: -DGRADCHECK_NATIVE=ON), which
// is vectorised (Eigen's packet exp on e^{−|z|}, then the engine's two stable
// branches): the sigmoid's exp is the full check's profile. With 2-wide SSE2
// Eigen's packet exp measured slower than the scalar exp, so the engine's
// scalar path is kept there. Values may differ from the engine's in the last
// bit; the loss noise ε_f covers that where f(0) enters a difference.
template <class S>
void line_activate(Activation act, const Matrix<S>& z, Matrix<S>& a) {
#if defined(EIGEN_VECTORIZE_AVX)
  if constexpr (std::is_same_v<S, double>) {
    if (act == Activation::sigmoid) {
      const auto e = (-z.array().abs()).exp().eval();
      a = (z.array() >= 0).select(1.0 / (1.0 + e), e / (1.0 + e)).matrix();
      return;
    }
  }
#endif
  detail::activate_in_place(act, z, a);
}

template <class S>
class LineLoss {
 public:
  LineLoss(const Network<S>& net, const Matrix<S>& inputs, const Matrix<S>& targets)
      : LineLoss(net, inputs, targets, forward(net, inputs)) {}

  // With the forward pass at θ already computed (it must be forward(net, inputs)).
  LineLoss(const Network<S>& net, const Matrix<S>& inputs, const Matrix<S>& targets, ForwardPass<S> base)
      : net_(net), x_(inputs), y_(targets), base_(std::move(base)) {
    if constexpr (std::is_same_v<S, double>) {  // the base pass with line_activate's sigmoid
      for (std::size_t l = 0; l < net_.layers.size(); ++l) {
        if (l > 0 && net_.layers[l].is_dense()) {
          base_.z[l].noalias() = net_.layers[l].weights * base_.a[l];
          base_.z[l].colwise() += net_.layers[l].biases;
        } else if (l > 0) {
          layer_forward(net_.layers[l], base_.a[l], base_.z[l]);
        }
        line_activate(net_.layers[l].activation, base_.z[l], base_.a[l + 1]);
      }
    }
    base_losses_ = sample_losses(net_, base_, y_);
    const std::size_t L = net_.layers.size();
    sides_.resize(L);
    pools_.resize(L);
    for (std::size_t l = 0; l < L; ++l) {
      if (has_kink(net_.layers[l].activation)) {
        sides_[l].resize(base_.z[l].rows(), base_.z[l].cols());
        for (Index k = 0; k < base_.z[l].size(); ++k) sides_[l].data()[k] = static_cast<std::int8_t>(side_of(base_.z[l].data()[k]));
      }
      if (net_.layers[l].kind == LayerKind::max_pool) pools_[l] = pool_state(net_.layers[l].pool, base_.a[l]);
    }
    scratch_.z.resize(L);
    scratch_.a.resize(L + 1);
  }

  // One-sided stencils start at θ: a pre-activation at exactly 0 there may leave it.
  void tolerate_exact_zeros(bool on) { tolerate_exact_ = on; }

  const Network<S>& network() const { return net_; }
  const ForwardPass<S>& base() const { return base_; }
  const Vector<S>& base_losses() const { return base_losses_; }
  Index batch() const { return x_.cols(); }

  // The samples a perturbation of p touches (empty: the loss does not depend on p at all).
  std::vector<Index> touched(const ParamRef& p) const {
    std::vector<Index> cols;
    if (p.tensor == TensorKind::inputs) {
      cols.push_back(p.col);
      return cols;
    }
    const Matrix<S>& a = base_.a[static_cast<std::size_t>(p.layer)];
    const bool dense = net_.layers[static_cast<std::size_t>(p.layer)].is_dense();
    for (Index n = 0; n < a.cols(); ++n)
      if (!dense || p.tensor == TensorKind::biases || a(p.col, n) != S(0)) cols.push_back(n);
    return cols;
  }

  // Σ_{n ∈ cols} ℓ_n at θ.
  S base_sum(const std::vector<Index>& cols) const {
    S s = S(0);
    for (Index n : cols) s += base_losses_(n);
    return s;
  }

  // Σ_{n ∈ cols} ℓ_n at θ + t·e_p (cols = touched(p)).
  S eval(const ParamRef& p, const S& t, const std::vector<Index>& cols, Crossing* crossing) {
    if (crossing) *crossing = {};
    const std::size_t l = static_cast<std::size_t>(p.layer);
    const std::size_t L = net_.layers.size();
    const Index m = static_cast<Index>(cols.size());
    if (p.tensor == TensorKind::inputs && !net_.layers[0].is_dense()) return eval_image_input(p, t, cols, crossing);
    if (p.tensor == TensorKind::inputs) {
      z_ = base_.z[0].col(p.col);
      z_ += t * net_.layers[0].weights.col(p.row);
      return finish_from(0, z_, cols, crossing);
    }
    if (!net_.layers[l].is_dense()) {  // conv2d: z_l + t ∂z_l/∂θ on every sample, then on from layer l
      const Matrix<S>& dz = direction_of(p);
      z_.resize(dz.rows(), m);
      for (Index k = 0; k < m; ++k) z_.col(k) = base_.z[l].col(cols[k]) + t * dz.col(cols[k]);
      return finish_from(l, z_, cols, crossing);
    }
    // The changed row of z_l (workspaces are members: no allocation per call
    // once their sizes have settled).
    Matrix<S>& zrow = zrow_;
    zrow.resize(1, m);
    for (Index k = 0; k < m; ++k) {
      const S dz = p.tensor == TensorKind::biases ? t : S(t * base_.a[l](p.col, cols[k]));
      zrow(0, k) = base_.z[l](p.row, cols[k]) + dz;
    }
    Matrix<S>& z = z_;
    if (l + 1 == L) {  // output layer: the whole column of z_L, row j replaced
      z.resize(base_.z[l].rows(), m);
      for (Index k = 0; k < m; ++k) z.col(k) = base_.z[l].col(cols[k]);
      z.row(p.row) = zrow;
      check_sides(l, z, cols, p.row, crossing);
      return output_loss(z, cols);
    }
    check_sides(l, zrow, cols, p.row, crossing);
    line_activate(net_.layers[l].activation, zrow, arow_);
    // Rank-one update of z_{l+1}: cached + W_{l+1}(:, j) · Δa_l(j, :).
    z.resize(base_.z[l + 1].rows(), m);
    const auto w = net_.layers[l + 1].weights.col(p.row);
    for (Index k = 0; k < m; ++k) {
      const S da = arow_(0, k) - base_.a[l + 1](p.row, cols[k]);
      z.col(k) = base_.z[l + 1].col(cols[k]) + w * da;
    }
    return finish_from(l + 1, z, cols, crossing);
  }

  // Σ_n ℓ_n (all samples) with z_l replaced by base z_l + dz (dz: units × batch),
  // i.e. the loss along a direction supported on layer l's weights or biases.
  S eval_layer_shift(std::size_t l, const Matrix<S>& dz, Crossing* crossing) {
    if (crossing) *crossing = {};
    z_ = base_.z[l] + dz;
    return finish_from(l, z_, all_columns(), crossing);
  }

  // Σ_n ℓ_n of another network of the same shape (whole-network directions),
  // whose first layer's pre-activations are base z_0 + dz0 (for θ + t v:
  // dz0 = t (V_0 X + v_b0), computed once per direction by the caller).
  S eval_network(const Network<S>& other, const Matrix<S>& dz0, Crossing* crossing) {
    if (crossing) *crossing = {};
    z_ = base_.z[0] + dz0;
    return finish_from(0, z_, all_columns(), crossing, &other);
  }

  // Σ_n ℓ_n (all samples) with the inputs moved by dx (features × batch): the
  // loss along an input direction when the first layer is conv2d or pooling.
  S eval_input_shift(const Matrix<S>& dx, Crossing* crossing) {
    if (crossing) *crossing = {};
    xs_ = x_ + dx;
    const Layer<S>& first = net_.layers[0];
    if (first.kind == LayerKind::max_pool) check_pool(0, xs_, all_columns(), crossing);
    layer_forward(first, xs_, z_);
    return finish_from(0, z_, all_columns(), crossing);
  }

  // The kink (layer, unit, sample) at θ, described: a relu unit's z, a max-pool window's entries.
  Kink kink_at(int layer, Index unit, Index sample) const {
    const auto& lay = net_.layers[static_cast<std::size_t>(layer)];
    if (lay.kind == LayerKind::max_pool) return pool_kink(lay.pool, base_.a[static_cast<std::size_t>(layer)], layer, unit, sample);
    Kink k;
    k.layer = layer;
    k.unit = unit;
    k.sample = sample;
    k.z = to_double(base_.z[static_cast<std::size_t>(layer)](unit, sample));
    return k;
  }

  const std::vector<Index>& all_columns() {
    if (static_cast<Index>(all_.size()) != x_.cols()) {
      all_.resize(static_cast<std::size_t>(x_.cols()));
      for (Index n = 0; n < x_.cols(); ++n) all_[static_cast<std::size_t>(n)] = n;
    }
    return all_;
  }

 private:
  // z = the new z_l on the columns cols; forward to the loss.
  S finish_from(std::size_t l, const Matrix<S>& z_l, const std::vector<Index>& cols, Crossing* crossing,
                const Network<S>* other = nullptr) {
    const Network<S>& net = other ? *other : net_;
    const std::size_t L = net.layers.size();
    check_sides(l, z_l, cols, -1, crossing);
    if (l + 1 == L) return output_loss(z_l, cols, &net);
    Matrix<S>& z = z2_;
    Matrix<S>& a = a_;
    line_activate(net.layers[l].activation, z_l, a);
    for (++l;; ++l) {
      const Layer<S>& layer = net.layers[l];
      if (layer.is_dense()) {
        z.resize(layer.units(), a.cols());
        z.noalias() = layer.weights * a;
        z.colwise() += layer.biases;
      } else {
        if (layer.kind == LayerKind::max_pool) check_pool(l, a, cols, crossing);
        layer_forward(layer, a, z);
      }
      check_sides(l, z, cols, -1, crossing);
      if (l + 1 == L) return output_loss(z, cols, &net);
      line_activate(net.layers[l].activation, z, a);
    }
  }

  S output_loss(const Matrix<S>& z, const std::vector<Index>& cols, const Network<S>* net = nullptr) {
    const Network<S>& n = net ? *net : net_;
    scratch_.z.back() = z;
    line_activate(n.layers.back().activation, z, scratch_.a.back());
    const bool all = static_cast<Index>(cols.size()) == y_.cols();
    if (!all) {
      ycols_.resize(y_.rows(), static_cast<Index>(cols.size()));
      for (std::size_t k = 0; k < cols.size(); ++k) ycols_.col(static_cast<Index>(k)) = y_.col(cols[k]);
    }
    const Vector<S> losses = sample_losses(n, scratch_, all ? y_ : ycols_);
    S s = S(0);
    for (Index k = 0; k < losses.size(); ++k) s += losses(k);
    return s;
  }

  static void note_exact(Crossing& c, std::size_t l, Index unit, Index n) {
    if (!c.exact) {
      c.exact = true;
      c.exact_layer = static_cast<int>(l);
      c.exact_unit = unit;
      c.exact_sample = n;
    }
    ++c.exact_count;
  }
  static void note_crossed(Crossing& c, std::size_t l, Index unit, Index n) {
    if (!c.crossed) {
      c.crossed = true;
      c.layer = static_cast<int>(l);
      c.unit = unit;
      c.sample = n;
    }
    ++c.count;
  }

  // z: rows = units of layer l (or the single row `row` when row >= 0), columns cols.
  void check_sides(std::size_t l, const Matrix<S>& z, const std::vector<Index>& cols, Index row, Crossing* crossing) {
    if (!crossing || sides_[l].size() == 0) return;
    for (Index k = 0; k < z.cols(); ++k)
      for (Index r = 0; r < z.rows(); ++r) {
        const Index unit = row >= 0 ? row : r;
        const Index n = cols[static_cast<std::size_t>(k)];
        const int s0 = sides_[l](unit, n);
        if (s0 == 0 && z(r, k) != base_.z[l](unit, n)) {
          note_exact(*crossing, l, unit, n);
          if (tolerate_exact_) continue;
        }
        if (side_of(z(r, k)) != s0) note_crossed(*crossing, l, unit, n);
      }
  }

  // A max-pool layer's windows at θ: each one's pick (the entry its gradient goes
  // to) per window × sample, and how many other entries tie with it.
  struct PoolState {
    Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic> pick;
    Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic> ties;
  };

  static PoolState pool_state(const PoolGeometry& g, const Matrix<S>& a) {
    PoolState ps;
    const Index windows = g.output_size();
    ps.pick.resize(windows, a.cols());
    ps.ties.setZero(windows, a.cols());
    for (Index n = 0; n < a.cols(); ++n)
      for (Index w = 0; w < windows; ++w) {
        const S* x = a.col(n).data();
        const Index first = pool_window_first(g, w), p = window_argmax(g, x, first);
        ps.pick(w, n) = p;
        for (Index u = 0; u < g.window; ++u)
          for (Index v = 0; v < g.window; ++v) {
            const Index e = first + u * g.width + v;
            if (e != p && re(x[e]) == re(x[p])) ++ps.ties(w, n);
          }
      }
    return ps;
  }

  // Whether a window tied at θ broke its tie: an entry tied with the pick moved
  // apart from it (entries moved alike keep the tie).
  bool tie_broken(const PoolGeometry& g, std::size_t l, Index w, Index n, const S* x) const {
    const S* x0 = base_.a[l].col(n).data();
    const Index first = pool_window_first(g, w), p = pools_[l].pick(w, n);
    for (Index u = 0; u < g.window; ++u)
      for (Index v = 0; v < g.window; ++v) {
        const Index e = first + u * g.width + v;
        if (e != p && re(x0[e]) == re(x0[p]) && x[e] != x[p]) return true;
      }
    return false;
  }

  // a: the recomputed input of max-pool layer l on the columns cols, against θ's
  // picks. A broken tie of k + 1 entries counts as k exact kinks (one pins the
  // derivative down to its two one-sided slopes, more do not).
  void check_pool(std::size_t l, const Matrix<S>& a, const std::vector<Index>& cols, Crossing* crossing) {
    if (!crossing || pools_[l].pick.size() == 0) return;
    const PoolGeometry& g = net_.layers[l].pool;
    const PoolState& ps = pools_[l];
    for (Index k = 0; k < a.cols(); ++k) {
      const Index n = cols[static_cast<std::size_t>(k)];
      const S* x = a.col(k).data();
      for (Index w = 0; w < ps.pick.rows(); ++w) {
        if (ps.ties(w, n) > 0 && tie_broken(g, l, w, n, x)) {
          for (int t = 0; t < ps.ties(w, n); ++t) note_exact(*crossing, l, w, n);
          if (!tolerate_exact_) note_crossed(*crossing, l, w, n);
          continue;
        }
        if (window_argmax(g, x, pool_window_first(g, w)) != ps.pick(w, n)) note_crossed(*crossing, l, w, n);
      }
    }
  }

  static bool same_entry(const ParamRef& a, const ParamRef& b) {
    return a.layer == b.layer && a.tensor == b.tensor && a.row == b.row && a.col == b.col;
  }

  // ∂z_l/∂θ of a conv2d parameter on every sample (cached for the last one asked):
  // weights (o, k): the unfolded input column k in channel o (a conv2d with the
  // one-hot kernel, exact); biases o: 1 on channel o; an input entry of a conv2d
  // first layer: the conv2d of the one-hot image, without bias.
  const Matrix<S>& direction_of(const ParamRef& p) {
    if (has_direction_ && same_entry(p, direction_for_)) return direction_;
    const auto& layer = net_.layers[static_cast<std::size_t>(p.layer)];
    const ConvGeometry& g = layer.conv;
    const Vector<S> no_bias = Vector<S>::Zero(g.out_channels);
    if (p.tensor == TensorKind::weights) {
      Matrix<S> one_hot = Matrix<S>::Zero(g.out_channels, g.weight_cols());
      one_hot(p.row, p.col) = S(1);
      conv2d_forward(g, one_hot, no_bias, base_.a[static_cast<std::size_t>(p.layer)], direction_);
    } else if (p.tensor == TensorKind::biases) {
      direction_.setZero(g.output_size(), x_.cols());
      direction_.middleRows(p.row * g.positions(), g.positions()).setOnes();
    } else {
      Matrix<S> image = Matrix<S>::Zero(g.input_size(), 1);
      image(p.row, 0) = S(1);
      conv2d_forward(g, layer.weights, no_bias, image, direction_);
    }
    direction_for_ = p;
    has_direction_ = true;
    return direction_;
  }

  // An input entry of an image first layer: conv2d moves z_0 by t times the
  // kernel's imprint (exact); pooling pools the moved sample again.
  S eval_image_input(const ParamRef& p, const S& t, const std::vector<Index>& cols, Crossing* crossing) {
    const Layer<S>& first = net_.layers[0];
    if (first.kind == LayerKind::conv2d) {
      const Matrix<S>& dz = direction_of(p);
      z_ = base_.z[0].col(p.col) + t * dz.col(0);
      return finish_from(0, z_, cols, crossing);
    }
    xs_ = x_.col(p.col);
    xs_(p.row, 0) += t;
    if (first.kind == LayerKind::max_pool) check_pool(0, xs_, cols, crossing);
    layer_forward(first, xs_, z_);
    return finish_from(0, z_, cols, crossing);
  }

  const Network<S>& net_;
  const Matrix<S>& x_;
  const Matrix<S>& y_;
  ForwardPass<S> base_;
  Vector<S> base_losses_;
  std::vector<Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic>> sides_;
  std::vector<PoolState> pools_;
  ParamRef direction_for_;
  bool has_direction_ = false;
  Matrix<S> direction_, xs_;
  ForwardPass<S> scratch_;
  std::vector<Index> all_;
  bool tolerate_exact_ = false;
  Matrix<S> zrow_, arow_, z_, z2_, a_, ycols_;  // workspaces
};

}  // namespace gradcheck::detail
