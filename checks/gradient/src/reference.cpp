#include <gradcheck/gradient/reference.hpp>

#include <gradcheck/gradient/detail/exact_sum.hpp>
#include <gradcheck/gradient/detail/internal.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <cmath>
#include <limits>
#include <numeric>

namespace gradcheck {

using detail::Big;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double to_d(const Big& x) { return static_cast<double>(x); }

// relu'(z) / leaky_relu'(z) on the side the 50-digit z is on, and on the other.
double slope_on_side(Activation act, bool active) {
  if (active) return 1.0;
  return act == Activation::leaky_relu ? leaky_relu_slope : 0.0;
}

// Which entries to cross-check: all of a small network; otherwise per tensor
// the largest |g| and random others.
std::vector<std::vector<Index>> cross_check_plan(const std::vector<ReferenceTensor>& tensors, Index parameters,
                                                 const ReferenceOptions& opt) {
  std::vector<std::vector<Index>> plan(tensors.size());
  std::mt19937_64 rng(opt.seed * 0x9e3779b97f4a7c15ULL + 17);
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const Index n = tensors[k].value.size();
    auto& p = plan[k];
    if (parameters <= opt.cross_check_all_up_to || n <= opt.cross_check_per_tensor) {
      p.resize(static_cast<std::size_t>(n));
      std::iota(p.begin(), p.end(), Index(0));
      continue;
    }
    if (opt.cross_check_per_tensor <= 0) continue;
    Index largest = 0;
    const Matrix<double> mags = tensors[k].value.cwiseAbs();
    for (Index i = 1; i < n; ++i)
      if (mags.data()[i] > mags.data()[largest]) largest = i;
    p.push_back(largest);
    std::uniform_int_distribution<Index> pick(0, n - 1);
    while (static_cast<Index>(p.size()) < opt.cross_check_per_tensor) {
      const Index i = pick(rng);
      if (std::find(p.begin(), p.end(), i) == p.end()) p.push_back(i);
    }
  }
  return plan;
}

detail::ParamRef param_of(const ReferenceTensor& t, Index flat) {
  detail::ParamRef p;
  p.layer = t.layer;
  p.tensor = t.tensor;
  p.row = flat % t.value.rows();
  p.col = flat / t.value.rows();
  return p;
}

// An output's round-off: that of its pre-activation times |act'(z)|, the
// engine's own derivative; for softmax δa_k = a_k (δz_k − Σ_j a_j δz_j),
// bounded by a_k (ε_k + max_j ε_j).
Matrix<double> outputs_roundoff(const Case& c, const ForwardPass<Big>& fp, const Matrix<double>& outputs,
                                const Matrix<double>& dz) {
  const Activation act = c.network.layers.back().activation;
  if (act == Activation::softmax) return outputs.cwiseProduct(dz + dz.colwise().maxCoeff().replicate(dz.rows(), 1));
  const Matrix<double> z = fp.z.back().unaryExpr([](const Big& v) { return to_d(v); });
  Matrix<double> out = dz;
  detail::multiply_by_derivative(act, z, outputs, out);
  return out.cwiseAbs();
}

// A tensor of the reference from its 50-digit gradient: the rounded value and its rounding error, the round-off of
// a correct double computation, no kink found yet.
ReferenceTensor reference_tensor(const detail::TensorId& id, const Matrix<Big>& exact, const Matrix<double>& roundoff) {
  ReferenceTensor t;
  t.layer = id.layer;
  t.tensor = id.tensor;
  t.value = exact.unaryExpr([](const Big& v) { return to_d(v); });
  t.error = (exact - t.value.cast<Big>()).unaryExpr([](const Big& v) { return std::abs(to_d(v)); });
  t.roundoff = roundoff;
  t.kink = Eigen::MatrixXi::Constant(id.rows, id.cols, -1);
  t.kinks_involved = Eigen::MatrixXi::Zero(id.rows, id.cols);
  t.other_side = Matrix<double>::Constant(id.rows, id.cols, kNaN);
  t.at_exact_kink = Matrix<char>::Zero(id.rows, id.cols);
  t.forward_slope = Matrix<double>::Constant(id.rows, id.cols, kNaN);
  t.backward_slope = Matrix<double>::Constant(id.rows, id.cols, kNaN);
  t.cross_checked = Matrix<char>::Zero(id.rows, id.cols);
  t.max_abs = 0;
  for (Index i = 0; i < t.value.size(); ++i)
    if (std::isfinite(t.value.data()[i])) t.max_abs = std::max(t.max_abs, std::abs(t.value.data()[i]));
  return t;
}

// Max-pool windows of layer l whose two largest entries tie, or lie within the
// round-off of a double computation of them (dz of the layer below through its
// activation, plus the rounding of the activation's value: a sigmoid of 40 is
// 1 − 4e-18, which double rounds to 1, tying it with every other saturated
// entry; the inputs themselves are exact): which one is the largest is then not
// decided.
void undecided_windows(const Network<Big>& net, const ForwardPass<Big>& fp, const std::vector<Matrix<double>>& dz,
                       std::size_t l, std::vector<Kink>& kinks) {
  const PoolGeometry& pool = net.layers[l].pool;
  if (pool.window < 2) return;
  const auto slope = [&](Index feature, Index n) {
    return std::abs(to_d(activation_derivative(net.layers[l - 1].activation, fp.z[l - 1](feature, n))));
  };
  const auto roundoff = [&](Index feature, Index n) {
    if (l == 0) return 0.0;
    return dz[l - 1](feature, n) * slope(feature, n) + 2 * detail::unit_roundoff * std::abs(to_d(fp.a[l](feature, n)));
  };
  // Which entry takes the window's share changes no gradient when neither passes
  // it on (relu units that are off, the common tie of a relu network: zeros).
  const auto inert = [&](Index a, Index b, Index n) { return l > 0 && slope(a, n) == 0 && slope(b, n) == 0; };
  for (Index n = 0; n < fp.a[l].cols(); ++n)
    for (Index w = 0; w < pool.output_size(); ++w) {
      const Big* x = fp.a[l].col(n).data();
      const Index first = detail::pool_window_first(pool, w);
      const Index p = detail::window_argmax(pool, x, first);
      // One kink per entry that could be the largest instead: saturated units can
      // put several entries of a window within round-off of its maximum.
      for (Index u = 0; u < pool.window; ++u)
        for (Index v = 0; v < pool.window; ++v) {
          const Index e = first + u * pool.width + v;
          if (e == p) continue;
          const Big gap = x[p] - x[e];
          const bool tie = gap == 0;
          if (!tie && to_d(gap) > roundoff(p, n) + roundoff(e, n)) continue;
          if (inert(p, e, n)) continue;
          Kink k = detail::pool_kink(pool, fp.a[l], static_cast<int>(l), w, n, e);
          k.exact = tie;
          kinks.push_back(k);
        }
    }
}

// Undecided kinks: z exactly 0, or within the round-off of a double z; max-pool
// windows tied or within round-off of a tie.
std::vector<Kink> undecided_kinks(const Network<Big>& net, const ForwardPass<Big>& fp,
                                  const std::vector<Matrix<double>>& dz) {
  std::vector<Kink> kinks;
  const std::size_t L = net.layers.size();
  for (std::size_t l = 0; l < L; ++l) {
    if (net.layers[l].kind == LayerKind::max_pool) undecided_windows(net, fp, dz, l, kinks);
    if (!has_kink(net.layers[l].activation)) continue;
    for (Index n = 0; n < fp.z[l].cols(); ++n)
      for (Index j = 0; j < fp.z[l].rows(); ++j) {
        const double z = to_d(fp.z[l](j, n));
        const bool is_exact = fp.z[l](j, n) == 0;
        if (!is_exact && std::abs(z) > dz[l](j, n)) continue;
        Kink k;
        k.layer = static_cast<int>(l);
        k.unit = j;
        k.sample = n;
        k.z = z;
        k.exact = is_exact;
        kinks.push_back(k);
      }
  }
  return kinks;
}

// For each kink, the gradient with that unit's derivative on the other side; the
// entries it changes (beyond the rule's tolerance) are kink-sensitive.
void mark_kink_sensitive(const Network<Big>& net, const ForwardPass<Big>& fp, const Matrix<Big>& y,
                         const std::vector<detail::TensorId>& ids, bool inputs, Reference& ref) {
  const Tolerances tol;
  for (std::size_t ki = 0; ki < ref.kinks.size(); ++ki) {
    const Kink& k = ref.kinks[ki];
    detail::SlopeOverride other_side{k.layer, k.unit, k.sample, 0.0, k.second};  // max pool: to the other entry
    if (k.kind == KinkKind::relu) {
      const Activation act = net.layers[static_cast<std::size_t>(k.layer)].activation;
      const bool active = fp.z[static_cast<std::size_t>(k.layer)](k.unit, k.sample) > 0;
      other_side = {k.layer, k.unit, k.sample, slope_on_side(act, !active)};
    }
    Gradients<Big> gk;
    detail::backward_with_slopes(net, fp, y, gk, inputs, {other_side});
    for (std::size_t t = 0; t < ids.size(); ++t) {
      ReferenceTensor& rt = ref.tensors[t];
      const Matrix<Big> other = detail::gradient_of(gk, ids[t]);
      const double floor = tensor_floor(rt.max_abs, tol);
      for (Index i = 0; i < other.size(); ++i) {
        const double o = to_d(other.data()[i]);
        const Comparison cmp = compare(o, rt.value.data()[i], rt.error.data()[i], rt.roundoff.data()[i], floor, tol);
        if (cmp.verdict == Verdict::agree) continue;
        if (rt.kink.data()[i] < 0) {
          rt.kink.data()[i] = static_cast<int>(ki);
          rt.other_side.data()[i] = o;
        }
        ++rt.kinks_involved.data()[i];
        if (k.exact) rt.at_exact_kink.data()[i] = 1;
      }
    }
  }
}

// One-sided slopes at exact kinks: 50-digit forward and backward differences
// with a step (1e-25) far below every other scale of the case.
void one_sided_slopes(const Case& c, detail::LineLoss<Big>& line, const Big& unreduce, Reference& ref) {
  line.tolerate_exact_zeros(true);
  for (auto& rt : ref.tensors)
    for (Index i = 0; i < rt.value.size(); ++i) {
      if (!rt.at_exact_kink.data()[i]) continue;
      const detail::ParamRef p = param_of(rt, i);
      const auto cols = line.touched(p);
      const Big f0 = line.base_sum(cols);
      const Big h = Big("1e-25") * std::max(1.0, std::abs(detail::parameter_value(c, p)));
      const Big fp_ = line.eval(p, h, cols, nullptr), fm = line.eval(p, Big(-h), cols, nullptr);
      rt.forward_slope.data()[i] = to_d((fp_ - f0) / h / unreduce);
      rt.backward_slope.data()[i] = to_d((f0 - fm) / h / unreduce);
    }
  line.tolerate_exact_zeros(false);
}

// The 50-digit central difference of entry p and its error bound (both 0 when the loss does not depend on p);
// false when p is within 1e-20 of a kink: undecided, not cross-checked.
bool central_50(const Case& c, detail::LineLoss<Big>& line, const ForwardPass<Big>& fp, const Big& unreduce,
                const detail::ParamRef& p, Big& numeric, Big& err) {
  const auto cols = line.touched(p);
  if (cols.empty()) return true;
  const Big h = Big("1e-20") * std::max(1.0, std::abs(detail::parameter_value(c, p)));
  detail::Crossing cp, cm;
  const Big fp_ = line.eval(p, h, cols, &cp), fm = line.eval(p, Big(-h), cols, &cm);
  if (cp.crossed || cm.crossed) return false;
  // Round-off of a 50-digit loss: ~1e-50 of its intermediate magnitudes
  // (the loss, the log of sums ≥ 1, the logits), taken as |ℓ| + 1 + |z_L|.
  Big scale = 0;
  for (Index n : cols) {
    scale += abs(line.base_losses()(n)) + 1;
    for (Index k = 0; k < fp.z.back().rows(); ++k) scale += abs(fp.z.back()(k, n));
  }
  numeric = (fp_ - fm) / (2 * h) / unreduce;
  err = (Big("1e-48") * scale / h + Big("1e-30") * abs(numeric)) / unreduce;
  return true;
}

CheckFinding reference_disagreement(const ReferenceTensor& rt, Index i, const detail::ParamRef& p, const Big& numeric) {
  CheckFinding f;
  f.kind = FindingKind::reference_disagreement;
  f.layer = rt.layer;
  f.tensor = rt.tensor;
  f.message = std::string("the 50-digit backward gives ") + format_number(rt.value.data()[i]) + " for " +
              to_string(rt.tensor) + " of layer " + std::to_string(rt.layer) + " entry (" + std::to_string(p.row) +
              ", " + std::to_string(p.col) + "), 50-digit central differences give " +
              format_number(to_d(numeric));
  return f;
}

// One planned cross-check entry and what its 50-digit central difference gave.
struct CrossJob {
  std::size_t tensor = 0;
  Index index = 0;
  bool decided = false;  // central_50's answer: false within 1e-20 of a kink
  Big numeric = 0, err = 0;
};

std::vector<CrossJob> cross_check_jobs(const std::vector<std::vector<Index>>& plan) {
  std::vector<CrossJob> jobs;
  for (std::size_t t = 0; t < plan.size(); ++t)
    for (Index i : plan[t]) {
      CrossJob j;
      j.tensor = t;
      j.index = i;
      jobs.push_back(j);
    }
  return jobs;
}

// The jobs' 50-digit central differences (exp and log in 50 digits: most of the
// cross-check's time), over two workers when there are enough: the second with
// its own LineLoss, a copy of the 50-digit network, inputs and forward pass.
void central_differences(const Case& c, const detail::Evaluated<Big>& e, detail::LineLoss<Big>& line,
                         const Big& unreduce, const std::vector<ReferenceTensor>& tensors, std::vector<CrossJob>& jobs) {
  const unsigned threads = jobs.size() >= 4 ? std::min(2u, detail::thread_count(0)) : 1u;
  std::unique_ptr<detail::LineLoss<Big>> second;
  if (threads > 1) second = std::make_unique<detail::LineLoss<Big>>(e.net, e.x, e.y, e.fp);
  detail::parallel_for(
      jobs.size(), threads,
      [&](std::size_t j, unsigned worker) {
        CrossJob& job = jobs[j];
        job.decided = central_50(c, worker == 0 ? line : *second, e.fp, unreduce,
                                 param_of(tensors[job.tensor], job.index), job.numeric, job.err);
      },
      1);
}

// The cross-check: 50-digit central differences, h = 1e-20 · max(|θ|, 1).
// Truncation (h² f'''/6) is ~1e-40 relative; round-off ~1e-50 · Σ|ℓ| / h.
// Findings come in the plan's order, however the work was shared.
void cross_check(const Case& c, const ReferenceOptions& opt, detail::LineLoss<Big>& line,
                 const detail::Evaluated<Big>& e, const Big& unreduce, const std::vector<Matrix<Big>>& exact,
                 Reference& ref) {
  const Tolerances tol;
  const bool inputs = opt.input_gradients;
  std::vector<CrossJob> jobs = cross_check_jobs(
      cross_check_plan(ref.tensors, c.network.parameter_count() + (inputs ? c.inputs.size() : 0), opt));
  central_differences(c, e, line, unreduce, ref.tensors, jobs);
  for (const CrossJob& job : jobs) {
    if (!job.decided) continue;
    ReferenceTensor& rt = ref.tensors[job.tensor];
    const Index i = job.index;
    const double floor = tensor_floor(rt.max_abs, tol);
    rt.cross_checked.data()[i] = 1;
    ++ref.cross_checked;
    const Big diff = abs(exact[job.tensor].data()[i] - job.numeric);
    const double d = to_d(diff);
    rt.error.data()[i] += d;
    const double rel = d / std::max(std::abs(rt.value.data()[i]), floor);
    ref.worst_cross_check = std::max(ref.worst_cross_check, rel);
    // 1e-24 relative: eight decades below double rounding, so only a
    // disagreement that could matter at double precision is reported.
    if (diff > 4 * job.err + Big("1e-24") * Big(std::max(std::abs(rt.value.data()[i]), floor)))
      ref.findings.push_back(reference_disagreement(rt, i, param_of(rt, i), job.numeric));
  }
}

// [left right]: the columns of both, side by side.
Matrix<Big> side_by_side(const Matrix<Big>& left, const Matrix<Big>& right) {
  Matrix<Big> m(left.rows(), left.cols() + right.cols());
  m.leftCols(left.cols()) = left;
  m.rightCols(right.cols()) = right;
  return m;
}

// The parts' passes as one: columns side by side, parameter gradients added,
// gradients times `scale` (1/n for a mean). One part: its own, scaled.
void join_parts(std::array<ForwardPass<Big>, 2>& fp, std::array<Gradients<Big>, 2>& g, unsigned parts,
                const Big& scale, bool inputs, detail::Evaluated<Big>& e) {
  if (parts == 1) {
    e.fp = std::move(fp[0]);
    e.g = std::move(g[0]);
    for (auto& w : e.g.weights) w *= scale;
    for (auto& b : e.g.biases) b *= scale;
    for (auto& d : e.g.deltas) d *= scale;
    if (inputs) e.g.inputs *= scale;
    return;
  }
  for (std::size_t l = 0; l < fp[0].z.size(); ++l) e.fp.z.push_back(side_by_side(fp[0].z[l], fp[1].z[l]));
  for (std::size_t l = 0; l < fp[0].a.size(); ++l) e.fp.a.push_back(side_by_side(fp[0].a[l], fp[1].a[l]));
  for (std::size_t l = 0; l < g[0].weights.size(); ++l) {
    e.g.weights.push_back((g[0].weights[l] + g[1].weights[l]) * scale);
    e.g.biases.push_back((g[0].biases[l] + g[1].biases[l]) * scale);
    e.g.deltas.push_back(side_by_side(g[0].deltas[l], g[1].deltas[l]) * scale);
  }
  if (inputs) e.g.inputs = side_by_side(g[0].inputs, g[1].inputs) * scale;
}

// Whether the 50-digit passes are worth two threads: by default about 10 ms
// of work (a 50-digit multiply-add costs about 0.2 µs) against a thread's start.
bool worth_halves(const Case& c, const ReferenceOptions& opt) {
  Index parameters = 0;
  for (const auto& layer : c.network.layers) parameters += layer.weights.size() + layer.biases.size();
  return c.inputs.cols() >= 2 && parameters * c.inputs.cols() >= opt.halves_from && detail::thread_count(0) >= 2;
}

// One part's (a range of samples') 50-digit passes, the batch sums unreduced.
// With z0 given (the exact first dense layer), the forward starts from it and
// the backward leaves layer 0's dW and dL/d(inputs) to the caller.
void evaluate_part(const Network<Big>& net, const Matrix<Big>& x, const Matrix<Big>& y, const Matrix<Big>* z0,
                   bool inputs, ForwardPass<Big>& fp, Gradients<Big>& g) {
  if (!z0) {
    forward(net, x, fp);
    backward(net, fp, y, g, inputs);
    return;
  }
  fp.a = {x};
  fp.z = {*z0};
  fp.a.emplace_back();
  detail::activate_in_place(net.layers[0].activation, fp.z[0], fp.a[1]);
  forward_from(net, 1, fp);
  backward(net, fp, y, g, false, false);  // biases and conv2d dW filled; dense dW left to here:
  for (std::size_t l = 1; l < net.layers.size(); ++l)
    if (net.layers[l].is_dense()) g.weights[l] = g.deltas[l] * fp.a[l].transpose();
}

// The 50-digit forward and backward passes of the case, over `parts` threads
// (1 or 2), each on its share of the samples with the sums left unreduced, then
// joined: columns side by side, parameter gradients added, all divided by the
// batch for a mean. A dense first layer's products are of doubles: z0 = W0 x + b0,
// dW0 = δ0 xᵀ and dL/dx = W0ᵀ δ0 come exact and are rounded once
// (detail::exact_product), with no 50-digit multiply; the rest is the engine's
// backward in 50 digits. Between one part and two, what is summed over the batch
// is summed in another order: equal to about 1e-49.
detail::Evaluated<Big> evaluate_reference(const Case& c, bool inputs, unsigned parts) {
  detail::Evaluated<Big> e{c.network.cast<Big>(), c.inputs.cast<Big>(), c.targets.cast<Big>(), {}, {}};
  const auto& first_layer = c.network.layers[0];
  const bool exact = first_layer.is_dense();
  Matrix<Big> z0;
  if (exact) z0 = detail::exact_product(first_layer.weights, &c.inputs, nullptr, &first_layer.biases, parts);
  const Index n = e.x.cols(), first = parts == 1 ? n : n / 2;
  const Reduction reduction = e.net.reduction;
  e.net.reduction = Reduction::sum;
  std::array<ForwardPass<Big>, 2> fp;
  std::array<Gradients<Big>, 2> g;
  detail::parallel_for(
      parts, parts,
      [&](std::size_t h, unsigned) {
        const Index begin = h == 0 ? 0 : first, cols = h == 0 ? first : n - first;
        const Matrix<Big> z0_part = exact ? Matrix<Big>(z0.middleCols(begin, cols)) : Matrix<Big>();
        evaluate_part(e.net, e.x.middleCols(begin, cols), e.y.middleCols(begin, cols), exact ? &z0_part : nullptr,
                      inputs, fp[h], g[h]);
      },
      1);
  e.net.reduction = reduction;
  const Big scale = reduction == Reduction::mean ? Big(Big(1) / Big(n)) : Big(1);
  join_parts(fp, g, parts, scale, inputs && !exact, e);
  if (exact) {
    const Matrix<Big> delta_t = e.g.deltas[0].transpose();
    e.g.weights[0] = detail::exact_product(c.inputs, nullptr, &delta_t, nullptr, parts).transpose();
    if (inputs) {
      const Matrix<double> wt = first_layer.weights.transpose();
      e.g.inputs = detail::exact_product(wt, nullptr, &e.g.deltas[0], nullptr, parts);
    }
  }
  return e;
}

}  // namespace

Reference reference_gradients(const Case& c, const ReferenceOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  detail::validate_case(c);
  Reference ref;
  const bool inputs = opt.input_gradients;
  const detail::Evaluated<Big> e = evaluate_reference(c, inputs, worth_halves(c, opt) ? 2 : 1);
  const Network<Big>& net = e.net;
  const Matrix<Big>& x = e.x;
  const Matrix<Big>& y = e.y;
  const ForwardPass<Big>& fp = e.fp;
  const Gradients<Big>& g = e.g;
  ref.loss = to_d(loss(net, fp, y));
  ref.outputs = fp.output().unaryExpr([](const Big& v) { return to_d(v); });
  ref.output_delta = g.deltas.back().unaryExpr([](const Big& v) { return to_d(v); });

  const auto ids = detail::tensors_of(c.network, c.inputs.cols(), inputs);
  const detail::Conditioning cond = detail::conditioning(c, inputs, opt.seed);
  ref.outputs_roundoff = outputs_roundoff(c, fp, ref.outputs, cond.dz.back());
  std::vector<Matrix<Big>> exact;  // the 50-digit gradient per tensor
  for (std::size_t k = 0; k < ids.size(); ++k) {
    exact.push_back(detail::gradient_of(g, ids[k]));
    ref.tensors.push_back(reference_tensor(ids[k], exact[k], cond.roundoff[k]));
  }
  ref.kinks = undecided_kinks(net, fp, cond.dz);
  mark_kink_sensitive(net, fp, y, ids, inputs, ref);

  detail::LineLoss<Big> line(net, x, y, fp);
  const Big unreduce = batch_divisor<Big>(c.network.reduction, c.inputs.cols());
  one_sided_slopes(c, line, unreduce, ref);
  cross_check(c, opt, line, e, unreduce, exact, ref);
  ref.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ref;
}

}  // namespace gradcheck
