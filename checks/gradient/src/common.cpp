#include <gradcheck/gradient/detail/internal.hpp>

#include <cmath>
#include <cstdio>

namespace gradcheck::detail {

namespace {

// Whether an override re-routes a window of max-pool layer `layer`.
bool reroutes(const std::vector<SlopeOverride>& overrides, std::size_t layer) {
  for (const auto& o : overrides)
    if (o.winner >= 0 && static_cast<std::size_t>(o.layer) == layer) return true;
  return false;
}

// In da (dL/d the input of max-pool layer `layer`), moves each overridden
// window's gradient from the engine's pick to the chosen entry; `changed`
// collects the (feature, sample) entries touched.
template <class S>
void reroute(const Network<S>& net, const ForwardPass<S>& fp, const Gradients<S>& g, std::size_t layer,
             const std::vector<SlopeOverride>& overrides, Matrix<S>& da, std::vector<std::pair<Index, Index>>& changed) {
  const PoolGeometry& pool = net.layers[layer].pool;
  for (const auto& o : overrides) {
    if (o.winner < 0 || static_cast<std::size_t>(o.layer) != layer) continue;
    const Index pick = window_argmax(pool, fp.a[layer].col(o.sample).data(), pool_window_first(pool, o.unit));
    const S d = g.deltas[layer](o.unit, o.sample);
    da(pick, o.sample) -= d;
    da(o.winner, o.sample) += d;
    changed.emplace_back(pick, o.sample);
    changed.emplace_back(o.winner, o.sample);
  }
}

}  // namespace

template <class S>
void backward_with_slopes(const Network<S>& net, const ForwardPass<S>& fp, const Matrix<S>& targets,
                          Gradients<S>& g, bool input_gradient, const std::vector<SlopeOverride>& overrides) {
  const std::size_t L = net.layers.size();
  const S scale = S(1) / batch_divisor<S>(net.reduction, fp.batch_size());
  backward(net, fp, targets, g, input_gradient, /*weight_gradients=*/true,
           [&](std::size_t l, const Matrix<S>* dl_da, Matrix<S>& delta) {
             Matrix<S> routed;
             if (dl_da && l + 1 < L && reroutes(overrides, l + 1)) {  // the max-pool layer above sends elsewhere
               routed = *dl_da;
               std::vector<std::pair<Index, Index>> changed;
               reroute(net, fp, g, l + 1, overrides, routed, changed);
               for (const auto& [i, n] : changed)
                 delta(i, n) = S(routed(i, n) * activation_derivative(net.layers[l].activation, fp.z[l](i, n)));
               dl_da = &routed;
             }
             for (const auto& o : overrides) {
               if (static_cast<std::size_t>(o.layer) != l || o.winner >= 0) continue;
               if (dl_da) {
                 delta(o.unit, o.sample) = S((*dl_da)(o.unit, o.sample) * S(o.slope));
               } else {  // a kinked output layer only occurs with the quadratic loss: dℓ/da = a − y
                 delta(o.unit, o.sample) =
                     S(S(fp.a[L](o.unit, o.sample) - targets(o.unit, o.sample)) * S(o.slope) * scale);
               }
             }
           });
  if (input_gradient && reroutes(overrides, 0)) {  // a max-pool first layer: dL/d(inputs) is routed directly
    std::vector<std::pair<Index, Index>> changed;
    reroute(net, fp, g, 0, overrides, g.inputs, changed);
  }
}

template void backward_with_slopes<double>(const Network<double>&, const ForwardPass<double>&, const Matrix<double>&,
                                           Gradients<double>&, bool, const std::vector<SlopeOverride>&);
template void backward_with_slopes<long double>(const Network<long double>&, const ForwardPass<long double>&,
                                                const Matrix<long double>&, Gradients<long double>&, bool,
                                                const std::vector<SlopeOverride>&);
template void backward_with_slopes<Big>(const Network<Big>&, const ForwardPass<Big>&, const Matrix<Big>&,
                                        Gradients<Big>&, bool, const std::vector<SlopeOverride>&);

namespace {

// The conditioning runs in double (see conditioning()); LD names that choice.
using LD = double;

// Differentiate the same branch as at θ: a pre-activation that the
// perturbation pushed across a kink keeps θ's slope (the kink itself is
// handled separately; here it would swamp the round-off estimate).
std::vector<SlopeOverride> same_branches(const Network<LD>& net, const ForwardPass<LD>& fp, const ForwardPass<LD>& pf) {
  std::vector<SlopeOverride> keep;
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    const Activation act = net.layers[l].activation;
    if (net.layers[l].kind == LayerKind::max_pool) {  // a window whose largest entry changed keeps θ's
      const PoolGeometry& pool = net.layers[l].pool;
      for (Index n = 0; n < fp.a[l].cols(); ++n)
        for (Index w = 0; w < pool.output_size(); ++w) {
          const Index first = pool_window_first(pool, w);
          const Index at_theta = window_argmax(pool, fp.a[l].col(n).data(), first);
          if (window_argmax(pool, pf.a[l].col(n).data(), first) != at_theta)
            keep.push_back({static_cast<int>(l), w, n, 0.0, at_theta});
        }
    }
    if (!has_kink(act)) continue;
    for (Index n = 0; n < fp.z[l].cols(); ++n)
      for (Index j = 0; j < fp.z[l].rows(); ++j)
        if ((fp.z[l](j, n) > 0) != (pf.z[l](j, n) > 0))
          keep.push_back({static_cast<int>(l), j, n,
                          fp.z[l](j, n) > 0 ? 1.0 : (act == Activation::leaky_relu ? leaky_relu_slope : 0.0)});
  }
  return keep;
}

// Each perturbed gradient differs from g by a random combination of the
// sensitivities; the largest of 4 such samples, ×3, stays above the error
// of the double computation (a sample of the same kind) except when all 4
// come out far below their spread: probability ~(0.1)^4 for a 10× miss.
// Here: the largest change of 4 samples, per entry and per pre-activation.
void perturbation_samples(const Network<LD>& net, const Matrix<LD>& x, const Matrix<LD>& y, const ForwardPass<LD>& fp,
                          const Gradients<LD>& g, const std::vector<TensorId>& ids, bool inputs, std::uint64_t seed,
                          Conditioning& out) {
  const std::size_t L = net.layers.size();
  constexpr int kSamples = 4;
  std::mt19937_64 rng(seed ^ 0x5eedc0de5eedc0deULL);
  const LD rho = LD(0x1p-30);
  const double back = 4 * unit_roundoff / 0x1p-30;
  auto jiggle = [&](auto& m) {
    for (Index k = 0; k < m.size(); ++k) m.data()[k] *= (rng() & 1) ? LD(1) + rho : LD(1) - rho;
  };
  for (int s = 0; s < kSamples; ++s) {
    Network<LD> pn = net;
    Matrix<LD> px = x;
    for (auto& layer : pn.layers) {
      jiggle(layer.weights);
      jiggle(layer.biases);
    }
    jiggle(px);
    ForwardPass<LD> pf;
    forward(pn, px, pf);
    Gradients<LD> pg;
    backward_with_slopes(pn, pf, y, pg, inputs, same_branches(net, fp, pf));
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const Matrix<LD> d = (gradient_of(pg, ids[k]) - gradient_of(g, ids[k])).cwiseAbs() * back;
      out.roundoff[k] = out.roundoff[k].cwiseMax(d.cast<double>());
    }
    for (std::size_t l = 0; l < L; ++l)
      out.dz[l] = out.dz[l].cwiseMax(((pf.z[l] - fp.z[l]).cwiseAbs() * back).template cast<double>());
  }
}

// The summation lengths a layer adds to δ's rounding on its way down: forward
// (z sums) and backward (dL/da sums). A dense layer's inputs and units.
double summed_widths(const Layer<LD>& layer) {
  if (layer.is_dense()) return static_cast<double>(layer.inputs() + layer.units());
  if (layer.kind == LayerKind::conv2d)
    return static_cast<double>(layer.conv.weight_cols() + layer.conv.out_channels * layer.conv.kernel_h * layer.conv.kernel_w);
  return summed_terms(layer) + static_cast<double>(layer.pool.window * layer.pool.window);
}

// The final sums Σ_n δ a (or Σ_n δ, or Σ_j W δ) carry, besides their own
// rounding (N·u), the rounding of their terms, which the perturbations miss
// where the terms of different samples cancel (their perturbations are
// correlated, their rounding errors are not). δ_l is rounded at every layer
// from the output down to l: a first-order bound grows with the widths
// crossed, hence N + 4 + 2·Σ_{k ≥ l} (inputs_k + units_k) ulps of Σ|terms|.
void add_sum_rounding(const Case& c, const Network<LD>& net, const ForwardPass<LD>& fp, const Gradients<LD>& g,
                      const std::vector<TensorId>& ids, Conditioning& out) {
  const std::size_t L = net.layers.size();
  const double u = unit_roundoff;
  const double n = static_cast<double>(c.inputs.cols());
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const auto& t = ids[k];
    const std::size_t l = static_cast<std::size_t>(t.layer);
    double widths = 0;
    for (std::size_t m = l; m < L; ++m) widths += summed_widths(net.layers[m]);
    Matrix<LD> bound;
    double terms = n;  // of the sum over the batch (and over a conv2d layer's positions)
    if (!net.layers[t.tensor == TensorKind::inputs ? 0 : l].is_dense()) {
      const auto& layer = net.layers[t.tensor == TensorKind::inputs ? 0 : l];
      const Matrix<LD> d = g.deltas[l].cwiseAbs();
      Matrix<LD> dW;
      Vector<LD> db;
      if (t.tensor == TensorKind::inputs) layer_input_gradient(abs_layer(layer), fp.a[0], d, bound);
      else layer_parameter_gradients(layer, Matrix<LD>(fp.a[l].cwiseAbs()), d, dW, db);
      if (t.tensor == TensorKind::weights) bound = dW;
      if (t.tensor == TensorKind::biases) bound = db;
      if (layer.kind == LayerKind::conv2d && t.tensor != TensorKind::inputs) terms *= double(layer.conv.positions());
    } else if (t.tensor == TensorKind::weights) {
      bound = g.deltas[l].cwiseAbs() * fp.a[l].cwiseAbs().transpose();
    } else if (t.tensor == TensorKind::biases) {
      bound = g.deltas[l].cwiseAbs().rowwise().sum();
    } else {
      bound = net.layers[0].weights.cwiseAbs().transpose() * g.deltas[0].cwiseAbs();
    }
    out.roundoff[k] = 3 * out.roundoff[k] + (terms + 4 + 2 * widths) * u * bound.cast<double>();
  }
}

// The output delta's own rounding: its formula combines terms of size
// |a|, |y| (e.g. a_j(Σy + 1 − y_j) − y_j − ... for softmax + BCE), so it is
// off by a few u of those terms however small the delta itself.
Matrix<LD> output_delta_rounding(const Network<LD>& net, const Matrix<LD>& y, const ForwardPass<LD>& fp) {
  const Matrix<LD>& a = fp.a[net.layers.size()];
  const Index K = a.rows();
  Matrix<LD> err(K, a.cols());
  for (Index col = 0; col < a.cols(); ++col) {
    const LD ysum = y.col(col).cwiseAbs().sum(), asum = a.col(col).cwiseAbs().sum();
    for (Index j = 0; j < K; ++j) {
      const LD aj = std::abs(a(j, col)), yj = std::abs(y(j, col));
      err(j, col) = net.loss == Loss::quadratic ? aj + yj : 2 * (aj * (1 + ysum) + yj + asum);
    }
  }
  const LD scale = LD(1) / batch_divisor<LD>(net.reduction, a.cols());
  err *= LD(4) * LD(unit_roundoff) * scale;
  return err;
}

// |act'(z_l)| entrywise (1 for softmax, whose rounding the output delta already bounds).
Matrix<LD> slope_abs(const Network<LD>& net, const ForwardPass<LD>& fp, std::size_t l) {
  Matrix<LD> ones = Matrix<LD>::Ones(fp.z[l].rows(), fp.z[l].cols());
  if (net.layers[l].activation == Activation::softmax) return ones;
  detail::multiply_by_derivative(net.layers[l].activation, fp.z[l], fp.a[l + 1], ones);
  return Matrix<LD>(ones.cwiseAbs());
}

// The output delta's rounding carried down the network as an absolute error through |W|ᵀ and |act'|.
void add_output_delta_rounding(const Network<LD>& net, const Matrix<LD>& y, const ForwardPass<LD>& fp,
                               const std::vector<TensorId>& ids, Conditioning& out) {
  const std::size_t L = net.layers.size();
  Matrix<LD> err = output_delta_rounding(net, y, fp);
  if (net.loss == Loss::quadratic) err = err.cwiseProduct(slope_abs(net, fp, L - 1));
  for (std::size_t l = L; l-- > 0;) {
    const auto& layer = net.layers[l];
    if (!layer.is_dense()) {  // the same bounds through conv2d and pooling
      Matrix<LD> dW, da;
      Vector<LD> db;
      layer_parameter_gradients(layer, Matrix<LD>(fp.a[l].cwiseAbs()), err, dW, db);
      for (std::size_t k = 0; k < ids.size(); ++k) {
        if (static_cast<std::size_t>(ids[k].layer) != l && ids[k].tensor != TensorKind::inputs) continue;
        if (ids[k].tensor == TensorKind::weights) out.roundoff[k] += dW.template cast<double>();
        else if (ids[k].tensor == TensorKind::biases) out.roundoff[k] += Matrix<LD>(db).template cast<double>();
      }
      layer_input_gradient(abs_layer(layer), fp.a[l], err, da);
      for (std::size_t k = 0; k < ids.size(); ++k)
        if (l == 0 && ids[k].tensor == TensorKind::inputs) out.roundoff[k] += da.template cast<double>();
      if (l > 0) err = da.cwiseProduct(slope_abs(net, fp, l - 1));
      continue;
    }
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (static_cast<std::size_t>(ids[k].layer) != l && ids[k].tensor != TensorKind::inputs) continue;
      if (ids[k].tensor == TensorKind::weights)
        out.roundoff[k] += (err * fp.a[l].cwiseAbs().transpose()).template cast<double>();
      else if (ids[k].tensor == TensorKind::biases)
        out.roundoff[k] += Matrix<LD>(err.rowwise().sum()).template cast<double>();
      else if (l == 0)
        out.roundoff[k] += (net.layers[0].weights.cwiseAbs().transpose() * err).template cast<double>();
    }
    if (l > 0) err = (net.layers[l].weights.cwiseAbs().transpose() * err).cwiseProduct(slope_abs(net, fp, l - 1));
  }
}


// |W||a| + |b| of a dense layer, and what a conv2d or pooling layer adds up on
// |a| likewise: the magnitudes a computation of z rounds.
Matrix<LD> magnitudes_of_z(const Layer<LD>& layer, const Matrix<LD>& a) {
  Matrix<LD> zabs;
  if (layer.is_dense()) {
    zabs = layer.weights.cwiseAbs() * a.cwiseAbs();
    zabs.colwise() += layer.biases.cwiseAbs();
  } else {
    layer_forward(abs_layer(layer), Matrix<LD>(a.cwiseAbs()), zabs);
  }
  return zabs;
}

// A pooling layer has no parameter to perturb, so the perturbations miss the
// rounding its input already carries (a saturated tanh's value is rounded to 1
// whatever its weights do): an average of such values that cancels is off by
// about u of their sizes, dz of the pooling layer. The next layer's dL/dW and
// dL/db reads that average: its error through |δ|.
void add_pooled_rounding(const Network<LD>& net, const Gradients<LD>& g, const std::vector<TensorId>& ids,
                         Conditioning& out) {
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const std::size_t l = static_cast<std::size_t>(ids[k].layer);
    if (ids[k].tensor != TensorKind::weights || l == 0 || !is_pooling(net.layers[l - 1].kind)) continue;
    const Matrix<LD> ea = out.dz[l - 1].template cast<LD>();
    Matrix<LD> dW;
    Vector<LD> db;
    layer_parameter_gradients(net.layers[l], ea, Matrix<LD>(g.deltas[l].cwiseAbs()), dW, db);
    out.roundoff[k] += dW.template cast<double>();
  }
}

}  // namespace

Conditioning conditioning(const Case& c, bool inputs, std::uint64_t seed) {
  // In double with a perturbation of 2^-30 relative (far above double's own
  // rounding, small enough to stay first-order), scaled back to 4 ulps: the
  // same first-order sensitivity as a 4-ulp perturbation in wider arithmetic,
  // at the price of double's vectorised products.
  const Evaluated<LD> e = evaluate_as<LD>(c, inputs);
  const Network<LD>& net = e.net;
  const Matrix<LD>& x = e.x;
  const Matrix<LD>& y = e.y;
  const ForwardPass<LD>& fp = e.fp;
  const Gradients<LD>& g = e.g;
  const auto ids = tensors_of(c.network, c.inputs.cols(), inputs);
  const std::size_t L = net.layers.size();

  Conditioning out;
  for (const auto& t : ids) out.roundoff.push_back(Matrix<double>::Zero(t.rows, t.cols));
  for (std::size_t l = 0; l < L; ++l) out.dz.push_back(Matrix<double>::Zero(fp.z[l].rows(), fp.z[l].cols()));
  perturbation_samples(net, x, y, fp, g, ids, inputs, seed, out);
  add_sum_rounding(c, net, fp, g, ids, out);
  add_output_delta_rounding(net, y, fp, ids, out);
  const double u = unit_roundoff;
  for (std::size_t l = 0; l < L; ++l) {
    const Matrix<LD> zabs = magnitudes_of_z(net.layers[l], fp.a[l]);
    const double fan_in = summed_terms(net.layers[l]);
    out.dz[l] = 4 * out.dz[l] + (fan_in + 2) * u * zabs.cast<double>();
  }
  add_pooled_rounding(net, g, ids, out);
  return out;
}

Vector<double> loss_noise(const Case& c, const ForwardPass<double>& fp, const Gradients<double>& g) {
  const Network<double>& net = c.network;
  const Index N = c.inputs.cols();
  const double unreduce = batch_divisor(net.reduction, N);
  Vector<double> noise = sample_losses(net, fp, c.targets).cwiseAbs();
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    const Matrix<double> zabs = magnitudes_of_z(net.layers[l], fp.a[l]);
    noise += unreduce * (g.deltas[l].cwiseAbs().cwiseProduct(zabs)).colwise().sum().transpose();
  }
  // The rounding of the outputs themselves: |a − y|·|a| per output for the
  // quadratic loss; for the cross-entropies the log of a sum ≥ 1 (log-sum-exp,
  // softplus) is off by ~u absolutely however small the loss is.
  const Matrix<double>& a = fp.a.back();
  for (Index n = 0; n < N; ++n) {
    if (net.loss == Loss::quadratic)
      noise(n) += 2 * ((a.col(n) - c.targets.col(n)).cwiseAbs().cwiseProduct(a.col(n).cwiseAbs())).sum();
    else
      noise(n) += 2 * static_cast<double>(a.rows()) * (1 + c.targets.col(n).cwiseAbs().sum());
  }
  return unit_roundoff * noise;
}

std::string kink_name(const Kink& k) {
  if (k.kind == KinkKind::relu)
    return "layer " + std::to_string(k.layer) + " unit " + std::to_string(k.unit) + " (sample " +
           std::to_string(k.sample) + ")";
  const auto at = [&](Index y, Index x) {
    return "(" + std::to_string(k.channel) + ", " + std::to_string(y) + ", " + std::to_string(x) + ")";
  };
  std::string s = "max-pool layer " + std::to_string(k.layer) + " window (channel " + std::to_string(k.channel) +
                  ", y " + std::to_string(k.out_y) + ", x " + std::to_string(k.out_x) + ") of sample " +
                  std::to_string(k.sample) + ": largest entry " + at(k.first_y, k.first_x) + " = " +
                  format_number(k.first_value);
  if (k.second >= 0) s += ", next " + at(k.second_y, k.second_x) + " = " + format_number(k.second_value);
  return s;
}

std::string kink_value(const Kink& k) {
  return (k.kind == KinkKind::relu ? "z = " : "gap ") + format_number(k.z);
}

std::string exact_kink_text(const Kink& k) {
  if (k.kind == KinkKind::relu)
    return "z = 0 exactly at the kink of " + kink_name(k) +
           ": the derivative is undefined; relu'(0) = 0 (leaky: 0.01; the engine's convention)";
  return "a tie in " + kink_name(k) +
         ": the derivative is undefined; the first largest entry in row-major order takes the window's gradient "
         "(the engine's convention)";
}

}  // namespace gradcheck::detail
