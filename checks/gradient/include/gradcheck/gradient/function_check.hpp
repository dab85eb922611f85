#pragma once
// check_gradient: the gradient of any function f: ℝⁿ → ℝ against numerical
// derivatives — torch.autograd.gradcheck for arbitrary C++ code, with the
// comparison rule of compare.hpp and one result row per entry of x
// (TensorKind::x, layer 0, row = index).
//
//   f     callable on const Vector<S>& returning S. A plain double function is
//         enough for central differences and Ridders; a generic callable
//         (a template or a generic lambda) also works in std::complex<double>
//         (complex step) and cpp_bin_float_50 (50-digit differences).
//   grad  callable on const Vector<double>& returning Vector<double> (the gradient under test).
//
// How to use:
//   auto f = [](const auto& v) { using std::pow; return pow(1 - v(0), 2) + 100 * pow(v(1) - v(0) * v(0), 2); };
//   auto grad = [](const Vector<double>& v) { ... };
//   const CheckResult r = check_gradient(f, grad, x);                      // Ridders
//   FunctionCheckOptions o; o.method = Method::complex_step;
//   const CheckResult c = check_gradient(f, grad, x, o);                   // needs the generic f
// In GoogleTest: EXPECT_GRADIENT_MATCHES(f, grad, x) (gradcheck/gradient/gtest.hpp).

#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/gradient/finite_difference.hpp>
#include <gradcheck/gradient/result.hpp>
#include <gradcheck/engine/scalar.hpp>

#include <chrono>
#include <cmath>
#include <complex>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace gradcheck {

struct FunctionCheckOptions {
  Method method = Method::ridders;
  // h = relative_step · max(|x_i|, 1); 0: the method's default (central ∛ε ≈ 6.06e-6,
  // ridders 1e-3 initial, complex_step 1e-20, multiprecision 1e-20 in 50 digits).
  double relative_step = 0;
  Tolerances tolerances;
  // ε_a for every entry: the absolute round-off of `grad`, when you know it (0: unknown).
  double analytic_roundoff = 0;
  // ε_f: the absolute round-off of one evaluation of f in double; 0 takes 8·u·|f(x)|.
  double function_roundoff = 0;
};

namespace detail {

// A callable with one fixed call signature (function pointer, std::function,
// non-generic lambda). Eigen's converting constructors make such a callable
// look invocable with Vector<complex> to std::is_invocable, so the complex-step
// and 50-digit methods ask for a generic callable (a template operator() or a
// generic lambda) instead.
template <class F, class = void>
struct has_fixed_signature : std::bool_constant<std::is_pointer_v<F> || std::is_function_v<F>> {};
template <class F>
struct has_fixed_signature<F, std::void_t<decltype(&F::operator())>> : std::true_type {};

template <class F, class V>
inline constexpr bool generic_callable_with =
    !has_fixed_signature<std::decay_t<F>>::value && std::is_invocable_v<F&, const V&>;

inline double function_step(Method m) {
  switch (m) {
    case Method::central: return 6.0554544523933395e-06;
    case Method::ridders: return 1e-3;
    default: return 1e-20;
  }
}

// ∂f/∂x_i by complex step: needs f generic over Vector<std::complex<double>> (F as check_gradient deduced it).
template <class F>
Derivative complex_step_derivative(F& f, const Vector<double>& x, Index i, double h) {
  constexpr double u = 0x1p-53;
  using C = std::complex<double>;
  Derivative d;
  if constexpr (generic_callable_with<F, Vector<C>>) {
    Vector<C> y = x.cast<C>();
    y(i) += C(0.0, h);
    d.value = C(f(y)).imag() / h;
    d.error = 8 * u * std::abs(d.value);
    d.ok = std::isfinite(d.value);
  } else {
    throw std::invalid_argument(
        "check_gradient: complex-step needs a generic f (a template or generic lambda) callable on "
        "Vector<std::complex<double>>");
  }
  return d;
}

// ∂f/∂x_i by 50-digit central differences at h and 2h (Richardson's difference as the error); needs f generic over
// Vector<cpp_bin_float_50>.
template <class F>
Derivative multiprecision_derivative(F& f, const Vector<double>& x, Index i, double h, double fx) {
  using B = cpp_bin_float_50;
  Derivative d;
  if constexpr (generic_callable_with<F, Vector<B>>) {
    const Vector<B> xb = x.cast<B>();
    const B hb = B(h);
    auto at = [&](const B& t) {
      Vector<B> y = xb;
      y(i) += t;
      return B(f(y));
    };
    const B d1 = (at(hb) - at(B(-hb))) / (2 * hb);
    const B d2 = (at(B(2 * hb)) - at(B(-2 * hb))) / (4 * hb);
    d.value = static_cast<double>(d1);
    d.error = static_cast<double>(abs(d1 - d2) / 3) + std::abs(d.value - static_cast<double>(d1)) +
              1e-48 * std::max(std::abs(fx), 1.0) / h;
    d.ok = std::isfinite(d.value);
  } else {
    throw std::invalid_argument(
        "check_gradient: multiprecision needs a generic f (a template or generic lambda) callable on "
        "Vector<cpp_bin_float_50>");
  }
  return d;
}

// ∂f/∂x_i by the chosen method, step h.
template <class F>
Derivative partial_derivative(F& f, const Vector<double>& x, Index i, double h, double eps_f, double fx, Method m) {
  if (m == Method::central || m == Method::ridders) {
    auto line = [&](double t) {
      Vector<double> y = x;
      y(i) += t;
      return static_cast<double>(f(y));
    };
    return m == Method::central ? central_difference(line, h, eps_f) : ridders(line, h, eps_f);
  }
  if (m == Method::complex_step) return complex_step_derivative<F>(f, x, i, h);
  return multiprecision_derivative<F>(f, x, i, h, fx);
}

// The result row of entry i: a(i) against its numerical derivative d.
inline Entry function_entry(Index i, double analytic, const Derivative& d, double floor,
                            const FunctionCheckOptions& o) {
  Entry e;
  e.tensor = TensorKind::x;
  e.row = i;
  e.analytic = analytic;
  e.numeric = d.value;
  e.error_estimate = d.ok ? d.error : std::numeric_limits<double>::infinity();
  e.roundoff = o.analytic_roundoff;
  e.stencil = o.method == Method::complex_step ? Stencil::complex : Stencil::central;
  const Comparison c = compare(e.analytic, e.numeric, e.error_estimate, e.roundoff, floor, o.tolerances);
  e.tolerance = c.tolerance;
  e.absolute_error = c.absolute_error;
  e.relative_error = c.relative_error;
  e.verdict = c.verdict;
  if (!d.ok) e.note = "no usable numerical derivative (f not finite near x)";
  return e;
}

}  // namespace detail

template <class F, class G>
CheckResult check_gradient(F&& f, G&& grad, const Vector<double>& x, const FunctionCheckOptions& o = {}) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  constexpr double u = 0x1p-53;
  CheckResult r;
  r.summary.method = o.method;
  r.summary.mode = Mode::full;
  r.summary.relative_step = o.relative_step > 0 ? o.relative_step : detail::function_step(o.method);
  r.summary.tolerances = o.tolerances;
  r.summary.parameters = x.size();
  const Index n = x.size();
  const Vector<double> a = grad(x);
  TensorSummary ts;
  ts.tensor = TensorKind::x;
  ts.rows = n;
  ts.cols = 1;
  if (a.size() != n) {
    r.findings.push_back({FindingKind::shape_mismatch, 0, TensorKind::x,
                          "the gradient has " + std::to_string(a.size()) + " entries, x has " + std::to_string(n)});
    r.tensors.push_back(ts);
    summarize(r);
    return r;
  }
  const double fx = static_cast<double>(f(x));
  const double eps_f = o.function_roundoff > 0 ? o.function_roundoff : 8 * u * std::abs(fx);

  std::vector<Derivative> numeric(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const double h = r.summary.relative_step * std::max(std::abs(x(i)), 1.0);
    numeric[static_cast<std::size_t>(i)] = detail::partial_derivative<F>(f, x, i, h, eps_f, fx, o.method);
  }
  double max_abs = 0;
  for (const Derivative& d : numeric)
    if (std::isfinite(d.value)) max_abs = std::max(max_abs, std::abs(d.value));
  ts.max_abs_reference = max_abs;
  ts.floor = tensor_floor(max_abs, o.tolerances);
  for (Index i = 0; i < n; ++i)
    r.entries.push_back(detail::function_entry(i, a(i), numeric[static_cast<std::size_t>(i)], ts.floor, o));
  r.tensors.push_back(ts);
  summarize(r);
  r.summary.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

}  // namespace gradcheck
