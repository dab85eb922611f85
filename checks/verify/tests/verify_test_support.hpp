#pragma once
// Builders for the verify and signature tests: deterministic cases and the
// replies a correct implementation (the engine) would send.
#include <gradcheck/verify/verify.hpp>
#include <gradcheck/engine/network.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace gradcheck::testing {

// A case with the given widths (inputs, then each layer's units), weights,
// biases and inputs drawn uniformly from [−1, 1] by a fixed generator (the
// same numbers on every run), targets valid for the loss.
inline Case make_case(const std::vector<int>& widths, const std::vector<Activation>& acts, Loss loss,
                      Reduction reduction, int batch, std::uint64_t seed) {
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  auto uniform = [&s] {  // splitmix64 → [−1, 1)
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0;
  };
  Case c;
  c.network.loss = loss;
  c.network.reduction = reduction;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    Layer<double> layer;
    layer.activation = acts[l];
    layer.weights.resize(widths[l + 1], widths[l]);
    layer.biases.resize(widths[l + 1]);
    for (Index i = 0; i < layer.weights.size(); ++i) layer.weights.data()[i] = uniform();
    for (Index i = 0; i < layer.biases.size(); ++i) layer.biases(i) = uniform();
    c.network.layers.push_back(std::move(layer));
  }
  c.inputs.resize(widths.front(), batch);
  for (Index i = 0; i < c.inputs.size(); ++i) c.inputs.data()[i] = uniform();
  const Index K = widths.back();
  c.targets.resize(K, batch);
  for (Index j = 0; j < batch; ++j)
    for (Index k = 0; k < K; ++k) {
      switch (loss) {
        case Loss::quadratic: c.targets(k, j) = uniform(); break;
        case Loss::cross_entropy: c.targets(k, j) = k == j % K ? 1.0 : 0.0; break;
        case Loss::binary_cross_entropy: c.targets(k, j) = 0.5 + 0.5 * uniform(); break;
      }
    }
  return c;
}

// The reply that sends these gradients (no forward values).
inline Reply reply_of(const Gradients<double>& g) {
  Reply r;
  for (std::size_t l = 0; l < g.weights.size(); ++l) r.layers.push_back({g.weights[l], g.biases[l]});
  return r;
}

// What a correct double-precision implementation sends: the engine's gradients.
inline Reply engine_reply(const Case& c, bool with_forward = false) {
  const auto fp = forward(c.network, c.inputs);
  Gradients<double> g;
  backward(c.network, fp, c.targets, g);
  Reply r = reply_of(g);
  if (with_forward) {
    r.outputs = fp.output();
    r.loss = loss(c.network, fp, c.targets);
  }
  return r;
}

inline const Signature* find_signature(const VerifyResult& v, BugKind k) {
  for (const Signature& s : v.signatures)
    if (s.kind == k) return &s;
  return nullptr;
}

// The kinds of the divergence signatures (severity error), as a set.
inline std::set<BugKind> divergence_kinds(const VerifyResult& v) {
  std::set<BugKind> s;
  for (const Signature& x : v.signatures)
    if (x.severity == Severity::error) s.insert(x.kind);
  return s;
}

// The value of a signature's evidence by its label (NaN when absent).
inline double evidence(const Signature& s, const std::string& label) {
  for (const Evidence& e : s.evidence)
    if (e.label == label) return e.value;
  return std::nan("");
}

inline std::vector<BugKind> kinds(const VerifyResult& v) {
  std::vector<BugKind> out;
  for (const Signature& s : v.signatures) out.push_back(s.kind);
  return out;
}

inline std::string describe(const VerifyResult& v) {
  std::string s = std::string("status ") + to_string(v.status) + ", fault " + to_string(v.fault) + "\n";
  for (const Signature& x : v.signatures) s += std::string("  ") + to_string(x.kind) + ": " + x.message + "\n";
  return s;
}

// Whether some changed entry matters at float32 resolution: verify calls a
// difference that cannot move the loss by ε₃₂·|L| (|Δg|·max(|θ|, 1) ≤ ε₃₂·|L|)
// precision, not a bug (docs/verify.md), so a mutation whose every change is
// that small does not show.
inline bool visible_at_float32(const Case& c, const Reply& bad, const Reply& good) {
  const double L = std::abs(loss(c.network, forward(c.network, c.inputs), c.targets));
  const double eps32 = 1.1920928955078125e-07;
  for (std::size_t l = 0; l < c.network.layers.size(); ++l) {
    const auto& layer = c.network.layers[l];
    for (Index i = 0; i < layer.weights.size(); ++i)
      if (std::abs(bad.layers[l].weights.data()[i] - good.layers[l].weights.data()[i]) *
              std::max(std::abs(layer.weights.data()[i]), 1.0) >
          eps32 * L)
        return true;
    for (Index i = 0; i < layer.biases.size(); ++i)
      if (std::abs(bad.layers[l].biases(i) - good.layers[l].biases(i)) * std::max(std::abs(layer.biases(i)), 1.0) >
          eps32 * L)
        return true;
  }
  return false;
}


// Largest normwise distance between the mutated and the correct gradients.
inline double change(const Reply& a, const Reply& b) {
  double d = 0;
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    const auto dist = [](const auto& x, const auto& y) {
      const double s = std::max(x.norm(), y.norm());
      return s == 0 ? 0.0 : (x - y).norm() / s;
    };
    d = std::max({d, dist(a.layers[l].weights, b.layers[l].weights), dist(a.layers[l].biases, b.layers[l].biases)});
  }
  return d;
}

// Networks that exercise every mutation: activations, losses, reductions and
// batches (batch 3 and 4 keep ×N apart from ×2).
inline std::vector<Case> catalogue() {
  using A = Activation;
  return {
      make_case({3, 4, 2}, {A::sigmoid, A::sigmoid}, Loss::quadratic, Reduction::mean, 1, 1),
      make_case({3, 5, 4, 2}, {A::tanh, A::sigmoid, A::sigmoid}, Loss::quadratic, Reduction::mean, 3, 2),
      make_case({4, 5, 3}, {A::tanh, A::softmax}, Loss::cross_entropy, Reduction::mean, 3, 3),
      make_case({3, 4, 2}, {A::sigmoid, A::sigmoid}, Loss::binary_cross_entropy, Reduction::sum, 1, 4),
      make_case({2, 6, 5, 3}, {A::leaky_relu, A::tanh, A::softmax}, Loss::cross_entropy, Reduction::mean, 4, 5),
      make_case({3, 4, 1}, {A::tanh, A::identity}, Loss::quadratic, Reduction::sum, 2, 6),
      make_case({5, 3, 3, 2}, {A::relu, A::sigmoid, A::tanh}, Loss::quadratic, Reduction::mean, 4, 7),
  };
}

}  // namespace gradcheck::testing
