#pragma once
// textbook_reply<T>(c, bug): the reply of a correct dense-network
// implementation written the way a textbook writes it, computing in the scalar
// T (double, float, or emulated_float.hpp's BFloat16 / Float16) — the
// implementation under test for the low-precision property tests, not the
// engine (whose formulas are the stable ones) and not Eigen.
//
// Contract:
//   - Every number of the case (weights, biases, inputs, targets) is converted
//     to T first; from there on every operation is an operation of T, in plain
//     loops over std::vector<T>, each result rounded to T.
//   - Forward: z = W a + b, the terms of W a added one at a time in order, then
//     b; identity, sigmoid 1/(1 + exp(−z)), tanh, relu (z > 0 ? z : 0),
//     leaky_relu (z > 0 ? z : 0.01 z), softmax exp(z − max z) / Σ over a column.
//   - Loss from a, per sample: quadratic ½Σ(a − y)², cross_entropy −Σ y ln a,
//     binary_cross_entropy −Σ [y ln a + (1 − y) ln(1 − a)]; a term whose
//     coefficient (y or 1 − y, computed in T) is exactly 0 is skipped. The
//     samples' losses are added; mean divides the total by N.
//   - Output delta: softmax + cross_entropy fused, a·Σy − y (the engine's form,
//     a − y when the targets sum to 1); sigmoid + binary_cross_entropy fused,
//     a − y; every other pair dL/da (quadratic a − y, cross_entropy −y/a,
//     binary_cross_entropy (1 − y)/(1 − a) − y/a, zero-coefficient terms
//     skipped) times the textbook derivative: σ' = a(1 − a), tanh' = 1 − a²,
//     relu' = z > 0 ? 1 : 0, leaky_relu' = z > 0 ? 1 : 0.01, softmax's
//     Jacobian product a ⊙ (d − a·d). Under mean the delta is divided by N.
//   - Backward: δ_{l−1} = (W_lᵀ δ_l) ⊙ act'(z_{l−1}) with the same textbook
//     derivatives; dW = Σ_samples δ aᵀ and db = Σ_samples δ, added one term at a
//     time.
//   - The reply carries every layer's dL/dW and dL/db, the outputs and the
//     loss, converted to double; error is never set. Nothing guards the
//     textbook formulas at saturation: where a rounds to 0 or 1, ln a,
//     ln(1 − a), −y/a and (1 − y)/(1 − a) are infinite and the reply holds
//     ±inf or NaN, recorded in non_finite_tokens / non_finite_count as
//     parse_reply records a program's bare NaN and Infinity.
//   - With a bug, the gradients are those of that bug written into the same
//     code, injected where checks/verify/src/mutations.cpp injects it into the
//     engine, so that textbook_reply<double>(c, m) agrees with
//     mutated_gradients(c, m) to rounding (the outputs and loss stay correct):
//       sign-flip, doubled, halved        every gradient × the factor
//       summed-under-mean                 every gradient × N, under mean only
//       bias-zero                         every dL/db = 0
//       derivative-at-a                   σ'(a) = s(1 − s) with s = σ(a),
//                                         tanh'(a) = 1 − tanh(a)², on hidden
//                                         sigmoid/tanh layers, and on the
//                                         output under quadratic loss
//       z-instead-of-a                    dW_l = δ_l z_{l−1}ᵀ for l > 0
//       output-missing-derivative         δ_L = a − y (quadratic loss)
//       softmax-derivative-on-fused-delta the softmax Jacobian applied to the
//                                         fused a·Σy − y (softmax + CE)
//
//   const Reply r32 = textbook_reply<float>(c);
//   const Reply bad = textbook_reply<BFloat16>(c, mutation::z_instead_of_a);

#include <gradcheck/engine/case.hpp>
#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/verify/mutations.hpp>

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace gradcheck::testing {

namespace textbook {

// rows × cols of T, column-major: one column per sample, as the case's batches.
template <class T>
struct Grid {
  Index rows = 0, cols = 0;
  std::vector<T> v;

  Grid() = default;
  Grid(Index r, Index c) : rows(r), cols(c), v(static_cast<std::size_t>(r * c), T(0)) {}
  T& operator()(Index i, Index j) { return v[static_cast<std::size_t>(i + j * rows)]; }
  const T& operator()(Index i, Index j) const { return v[static_cast<std::size_t>(i + j * rows)]; }
};

template <class T, class Source>
Grid<T> to_grid(const Source& m) {
  Grid<T> g(m.rows(), m.cols());
  for (Index j = 0; j < m.cols(); ++j)
    for (Index i = 0; i < m.rows(); ++i) g(i, j) = T(m(i, j));
  return g;
}

template <class T>
Matrix<double> to_matrix(const Grid<T>& g) {
  Matrix<double> m(g.rows, g.cols);
  for (Index j = 0; j < g.cols; ++j)
    for (Index i = 0; i < g.rows; ++i) m(i, j) = static_cast<double>(g(i, j));
  return m;
}

template <class T>
struct Net {
  std::vector<Activation> activations;
  std::vector<Grid<T>> weights, biases;  // biases: units × 1
  Loss loss = Loss::quadratic;
  Reduction reduction = Reduction::mean;
};

template <class T>
Net<T> to_net(const Network<double>& net) {
  Net<T> n;
  n.loss = net.loss;
  n.reduction = net.reduction;
  for (const Layer<double>& l : net.layers) {
    n.activations.push_back(l.activation);
    n.weights.push_back(to_grid<T>(l.weights));
    n.biases.push_back(to_grid<T>(l.biases));
  }
  return n;
}

template <class T>
T sigmoid(T z) {
  using std::exp;
  return T(1) / (T(1) + exp(-z));
}

template <class T>
T activate(Activation act, T z) {
  using std::tanh;
  switch (act) {
    case Activation::identity: return z;
    case Activation::sigmoid: return sigmoid(z);
    case Activation::tanh: return tanh(z);
    case Activation::relu: return z > T(0) ? z : T(0);
    case Activation::leaky_relu: return z > T(0) ? z : T(leaky_relu_slope) * z;
    case Activation::softmax: break;  // not elementwise: softmax_columns
  }
  return z;
}

template <class T>
void softmax_columns(const Grid<T>& z, Grid<T>& a) {
  using std::exp;
  for (Index j = 0; j < z.cols; ++j) {
    T zmax = z(0, j);
    for (Index k = 1; k < z.rows; ++k)
      if (z(k, j) > zmax) zmax = z(k, j);
    T total(0);
    for (Index k = 0; k < z.rows; ++k) total += a(k, j) = exp(z(k, j) - zmax);
    for (Index k = 0; k < z.rows; ++k) a(k, j) = a(k, j) / total;
  }
}

// act'(z) of an elementwise activation, from a = act(z) where the textbook does.
template <class T>
T derivative(Activation act, T z, T a) {
  switch (act) {
    case Activation::sigmoid: return a * (T(1) - a);
    case Activation::tanh: return T(1) - a * a;
    case Activation::relu: return z > T(0) ? T(1) : T(0);
    case Activation::leaky_relu: return z > T(0) ? T(1) : T(leaky_relu_slope);
    default: return T(1);  // identity (softmax: softmax_jacobian_product)
  }
}

// The derivative-at-a bug: act' applied to a as if it were z.
template <class T>
T derivative_at_output_value(Activation act, T a) {
  using std::tanh;
  if (act == Activation::sigmoid) {
    const T s = sigmoid(a);
    return s * (T(1) - s);
  }
  const T t = tanh(a);
  return T(1) - t * t;
}

inline bool smooth_saturating(Activation a) { return a == Activation::sigmoid || a == Activation::tanh; }

template <class T>
struct Pass {
  std::vector<Grid<T>> z;  // z[l]: layer l's pre-activations
  std::vector<Grid<T>> a;  // a[0]: the input; a[l + 1] = act_l(z[l])
};

template <class T>
Pass<T> forward(const Net<T>& net, const Grid<T>& x) {
  Pass<T> p;
  p.a.push_back(x);
  for (std::size_t l = 0; l < net.weights.size(); ++l) {
    const Grid<T>& W = net.weights[l];
    const Grid<T>& in = p.a[l];
    Grid<T> z(W.rows, in.cols), a(W.rows, in.cols);
    for (Index n = 0; n < in.cols; ++n)
      for (Index j = 0; j < W.rows; ++j) {
        T s(0);
        for (Index i = 0; i < W.cols; ++i) s += W(j, i) * in(i, n);
        z(j, n) = s + net.biases[l](j, 0);
      }
    if (net.activations[l] == Activation::softmax)
      softmax_columns(z, a);
    else
      for (std::size_t i = 0; i < z.v.size(); ++i) a.v[i] = activate(net.activations[l], z.v[i]);
    p.z.push_back(std::move(z));
    p.a.push_back(std::move(a));
  }
  return p;
}

template <class T>
T sample_loss(Loss loss, const Grid<T>& a, const Grid<T>& y, Index n) {
  using std::log;
  T s(0);
  for (Index k = 0; k < a.rows; ++k) {
    const T ak = a(k, n), yk = y(k, n);
    if (loss == Loss::quadratic) {
      const T d = ak - yk;
      s += d * d;
      continue;
    }
    if (yk != T(0)) s -= yk * log(ak);
    const T rest = T(1) - yk;
    if (loss == Loss::binary_cross_entropy && rest != T(0)) s -= rest * log(T(1) - ak);
  }
  return loss == Loss::quadratic ? s / T(2) : s;
}

template <class T>
T total_loss(const Net<T>& net, const Grid<T>& a, const Grid<T>& y) {
  T total(0);
  for (Index n = 0; n < a.cols; ++n) total += sample_loss(net.loss, a, y, n);
  return net.reduction == Reduction::mean ? total / T(a.cols) : total;
}

// dL/da of one output entry, for the pairs the textbook does not fuse.
template <class T>
T loss_derivative(Loss loss, T a, T y) {
  switch (loss) {
    case Loss::quadratic: return a - y;
    case Loss::cross_entropy: return y != T(0) ? -y / a : T(0);
    case Loss::binary_cross_entropy: {
      const T rest = T(1) - y;
      T d(0);
      if (rest != T(0)) d = rest / (T(1) - a);
      if (y != T(0)) d = d - y / a;
      return d;
    }
  }
  return T(0);
}

// d ← a ⊙ (d − a·d) in every column: the softmax Jacobian applied to d.
template <class T>
void softmax_jacobian_product(const Grid<T>& a, Grid<T>& d) {
  for (Index n = 0; n < a.cols; ++n) {
    T dot(0);
    for (Index k = 0; k < a.rows; ++k) dot += a(k, n) * d(k, n);
    for (Index k = 0; k < a.rows; ++k) d(k, n) = a(k, n) * (d(k, n) - dot);
  }
}

// act' as a derivative-formula bug computes it; nullopt where it leaves act' alone.
template <class T>
std::optional<T> formula_bug(std::optional<Mutation> bug, Activation act, const T& z, bool hidden) {
  if (!bug || bug->kind != BugKind::derivative_formula) return std::nullopt;
  if (bug->form == 2 && hidden) return T(1);
  if (bug->form == 1 && act == Activation::leaky_relu && !(z > T(0))) return T(0);
  if (bug->form == 3 && act == Activation::sigmoid) return z * (T(1) - z);
  if (bug->form == 3 && act == Activation::tanh) return T(1) - z * z;
  return std::nullopt;
}

template <class T>
Grid<T> output_delta(const Net<T>& net, const Pass<T>& p, const Grid<T>& y, std::optional<Mutation> bug) {
  const Activation out = net.activations.back();
  const Grid<T>& a = p.a.back();
  const Grid<T>& z = p.z.back();
  const bool quadratic = net.loss == Loss::quadratic;
  const bool missing = bug && bug->kind == BugKind::output_missing_derivative && quadratic;
  const bool at_a = bug && bug->kind == BugKind::derivative_at_output_value && quadratic && smooth_saturating(out);
  Grid<T> d(a.rows, a.cols);
  if (!missing && !at_a && net.loss == Loss::cross_entropy && out == Activation::softmax) {
    for (Index n = 0; n < a.cols; ++n) {
      T ysum(0);
      for (Index k = 0; k < a.rows; ++k) ysum += y(k, n);
      for (Index k = 0; k < a.rows; ++k) d(k, n) = a(k, n) * ysum - y(k, n);
    }
    if (bug && bug->kind == BugKind::softmax_derivative_on_fused) softmax_jacobian_product(a, d);
  } else if (!missing && !at_a && net.loss == Loss::binary_cross_entropy && out == Activation::sigmoid) {
    for (std::size_t i = 0; i < d.v.size(); ++i) d.v[i] = a.v[i] - y.v[i];
  } else {
    for (std::size_t i = 0; i < d.v.size(); ++i) d.v[i] = loss_derivative(net.loss, a.v[i], y.v[i]);
    if (missing) {
      // dL/da is the delta: the activation's derivative is never applied.
    } else if (at_a) {
      for (std::size_t i = 0; i < d.v.size(); ++i) d.v[i] = d.v[i] * derivative_at_output_value(out, a.v[i]);
    } else if (out == Activation::softmax && bug && *bug == mutation::softmax_diagonal) {
      for (std::size_t i = 0; i < d.v.size(); ++i) d.v[i] = d.v[i] * a.v[i] * (T(1) - a.v[i]);
    } else if (out == Activation::softmax) {
      softmax_jacobian_product(a, d);
    } else {
      for (std::size_t i = 0; i < d.v.size(); ++i) {
        const auto wrong = quadratic ? formula_bug(bug, out, z.v[i], false) : std::nullopt;
        d.v[i] = d.v[i] * wrong.value_or(derivative(out, z.v[i], a.v[i]));
      }
    }
  }
  if (net.reduction == Reduction::mean)
    for (T& v : d.v) v = v / T(a.cols);
  return d;
}

// δ_{l−1} = (W_lᵀ δ_l) ⊙ act'(z_{l−1}).
template <class T>
Grid<T> delta_below(const Net<T>& net, const Pass<T>& p, std::size_t l, const Grid<T>& delta,
                    std::optional<Mutation> bug) {
  const Grid<T>& W = net.weights[l];
  const Activation act = net.activations[l - 1];
  const bool at_a = bug && bug->kind == BugKind::derivative_at_output_value && smooth_saturating(act);
  const bool transposed = bug && bug->kind == BugKind::transposed_step && W.rows == W.cols;
  Grid<T> prev(W.cols, delta.cols);
  for (Index n = 0; n < delta.cols; ++n)
    for (Index i = 0; i < W.cols; ++i) {
      T s(0);
      for (Index j = 0; j < W.rows; ++j) s += (transposed ? W(i, j) : W(j, i)) * delta(j, n);
      const T zv = p.z[l - 1](i, n), av = p.a[l](i, n);
      const T right = at_a ? derivative_at_output_value(act, av) : derivative(act, zv, av);
      prev(i, n) = s * formula_bug(bug, act, zv, true).value_or(right);
    }
  return prev;
}

// dW = Σ_n δ inᵀ, db = Σ_n δ.
template <class T>
LayerGradient layer_gradient(const Grid<T>& delta, const Grid<T>& in) {
  Grid<T> dW(delta.rows, in.rows), db(delta.rows, 1);
  for (Index j = 0; j < delta.rows; ++j) {
    for (Index i = 0; i < in.rows; ++i) {
      T s(0);
      for (Index n = 0; n < delta.cols; ++n) s += delta(j, n) * in(i, n);
      dW(j, i) = s;
    }
    T s(0);
    for (Index n = 0; n < delta.cols; ++n) s += delta(j, n);
    db(j, 0) = s;
  }
  return {to_matrix(dW), to_matrix(db).col(0)};
}

// The scale bugs (sign-flip, doubled, halved, summed-under-mean), applied to the
// finished gradients as mutated_gradients does; 1 for every other bug.
template <class T>
T bug_scale(const Net<T>& net, Index batch, std::optional<Mutation> bug) {
  if (!bug || (bug->kind != BugKind::sign_flip && bug->kind != BugKind::constant_scale)) return T(1);
  if (bug->factor != 0) return T(bug->factor);
  return net.reduction == Reduction::mean ? T(batch) : T(1);
}

template <class T, class M>
void scale(M& m, T s) {
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<double>(T(m.data()[i]) * s);
}

// Records the reply's non-finite values as parse_reply records them from the
// program's JSON: their paths in reading order (layers, loss, outputs with one
// row per sample), the first max_recorded_non_finite of them, and the count.
inline void record_non_finite(Reply& r) {
  auto note = [&r](double v, const std::string& path) {
    if (std::isfinite(v)) return;
    if (r.non_finite_tokens.size() < max_recorded_non_finite) r.non_finite_tokens.push_back(path);
    ++r.non_finite_count;
  };
  auto at = [](const std::string& base, Index i) { return base + "[" + std::to_string(i) + "]"; };
  for (std::size_t l = 0; l < r.layers.size(); ++l) {
    const std::string layer = "layers[" + std::to_string(l) + "]";
    const LayerGradient& g = r.layers[l];
    for (Index j = 0; j < g.weights.rows(); ++j)
      for (Index i = 0; i < g.weights.cols(); ++i) note(g.weights(j, i), at(at(layer + ".weights", j), i));
    for (Index j = 0; j < g.biases.size(); ++j) note(g.biases(j), at(layer + ".biases", j));
  }
  if (r.loss) note(*r.loss, "loss");
  if (r.outputs)
    for (Index n = 0; n < r.outputs->cols(); ++n)
      for (Index k = 0; k < r.outputs->rows(); ++k) note((*r.outputs)(k, n), at(at("outputs", n), k));
}

}  // namespace textbook

template <class T>
Reply textbook_reply(const Case& c, std::optional<Mutation> bug = {}) {
  using namespace textbook;
  const Net<T> net = to_net<T>(c.network);
  const Grid<T> y = to_grid<T>(c.targets);
  const Pass<T> p = forward(net, to_grid<T>(c.inputs));
  const std::size_t L = net.weights.size();

  Reply r;
  r.outputs = to_matrix(p.a.back());
  r.loss = static_cast<double>(total_loss(net, p.a.back(), y));
  r.layers.resize(L);
  Grid<T> paired = y;  // the targets as the backward pairs them with the samples
  if (bug && bug->kind == BugKind::targets_misaligned)
    for (Index n = 0; n < y.cols; ++n)
      for (Index k = 0; k < y.rows; ++k) paired(k, n) = y(k, (n + 1) % y.cols);
  Grid<T> delta = output_delta(net, p, paired, bug);
  for (std::size_t l = L; l-- > 0;) {
    const bool z_for_a = bug && bug->kind == BugKind::z_instead_of_a && l > 0;
    r.layers[l] = layer_gradient(delta, z_for_a ? p.z[l - 1] : p.a[l]);
    if (l > 0) delta = delta_below(net, p, l, delta, bug);
  }
  const T s = bug_scale(net, c.inputs.cols(), bug);
  for (LayerGradient& g : r.layers) {
    if (s != T(1)) {
      scale(g.weights, s);
      scale(g.biases, s);
    }
    if (bug && bug->kind == BugKind::bias_zero) g.biases.setZero();
  }
  record_non_finite(r);
  return r;
}

}  // namespace gradcheck::testing
