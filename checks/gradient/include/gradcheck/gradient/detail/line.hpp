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
// crossing, reported with the first (layer, unit, sample) that moved.
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
        if (l > 0) {
          base_.z[l].noalias() = net_.layers[l].weights * base_.a[l];
          base_.z[l].colwise() += net_.layers[l].biases;
        }
        line_activate(net_.layers[l].activation, base_.z[l], base_.a[l + 1]);
      }
    }
    base_losses_ = sample_losses(net_, base_, y_);
    const std::size_t L = net_.layers.size();
    sides_.resize(L);
    for (std::size_t l = 0; l < L; ++l)
      if (has_kink(net_.layers[l].activation)) {
        sides_[l].resize(base_.z[l].rows(), base_.z[l].cols());
        for (Index k = 0; k < base_.z[l].size(); ++k) sides_[l].data()[k] = static_cast<std::int8_t>(side_of(base_.z[l].data()[k]));
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
    for (Index n = 0; n < a.cols(); ++n)
      if (p.tensor == TensorKind::biases || a(p.col, n) != S(0)) cols.push_back(n);
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
    if (p.tensor == TensorKind::inputs) {
      z_ = base_.z[0].col(p.col);
      z_ += t * net_.layers[0].weights.col(p.row);
      return finish_from(0, z_, cols, crossing);
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
      z.resize(net.layers[l].units(), a.cols());
      z.noalias() = net.layers[l].weights * a;
      z.colwise() += net.layers[l].biases;
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

  // z: rows = units of layer l (or the single row `row` when row >= 0), columns cols.
  void check_sides(std::size_t l, const Matrix<S>& z, const std::vector<Index>& cols, Index row, Crossing* crossing) {
    if (!crossing || sides_[l].size() == 0) return;
    for (Index k = 0; k < z.cols(); ++k)
      for (Index r = 0; r < z.rows(); ++r) {
        const Index unit = row >= 0 ? row : r;
        const Index n = cols[static_cast<std::size_t>(k)];
        const int s0 = sides_[l](unit, n);
        if (s0 == 0 && z(r, k) != base_.z[l](unit, n)) {
          if (!crossing->exact) {
            crossing->exact = true;
            crossing->exact_layer = static_cast<int>(l);
            crossing->exact_unit = unit;
            crossing->exact_sample = n;
          }
          ++crossing->exact_count;
          if (tolerate_exact_) continue;
        }
        if (side_of(z(r, k)) != s0) {
          if (!crossing->crossed) {
            crossing->crossed = true;
            crossing->layer = static_cast<int>(l);
            crossing->unit = unit;
            crossing->sample = n;
          }
          ++crossing->count;
        }
      }
  }

  const Network<S>& net_;
  const Matrix<S>& x_;
  const Matrix<S>& y_;
  ForwardPass<S> base_;
  Vector<S> base_losses_;
  std::vector<Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic>> sides_;
  ForwardPass<S> scratch_;
  std::vector<Index> all_;
  bool tolerate_exact_ = false;
  Matrix<S> zrow_, arow_, z_, z2_, a_, ycols_;  // workspaces
};

}  // namespace gradcheck::detail
