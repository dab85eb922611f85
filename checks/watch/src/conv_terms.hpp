#pragma once
// The terms of one entry of a conv2d layer's products, as two vectors u and v
// whose dot product Σ u_i v_i is that entry (taps that read the zero padding
// left out): what the first-non-finite trace (watch_trace.cpp) explains when a
// conv2d entry overflows or meets inf − inf. The layout is conv.hpp's: feature
// (c·H + y)·W + x of a channel-major image column, W(o, (i·kh + u)·kw + v).
// Only on the diagnostic path: one entry at a time, no speed asked of it.

#include <gradcheck/engine/conv.hpp>

#include <vector>

namespace gradcheck::watch::detail {

struct Terms {
  Vector<double> u, v;
};

namespace conv_terms_detail {
inline Terms from(const std::vector<double>& u, const std::vector<double>& v) {
  Terms t;
  t.u = Eigen::Map<const Vector<double>>(u.data(), static_cast<Index>(u.size()));
  t.v = Eigen::Map<const Vector<double>>(v.data(), static_cast<Index>(v.size()));
  return t;
}

// Calls f(k, x) for each kernel column k = (i·kh + u)·kw + v whose tap of output
// position pos lands inside the input, x the input feature it reads.
template <class F>
void taps(const ConvGeometry& g, Index pos, F&& f) {
  const Index oy = pos / g.out_w(), ox = pos % g.out_w();
  for (Index i = 0; i < g.in_channels; ++i)
    for (Index u = 0; u < g.kernel_h; ++u)
      for (Index v = 0; v < g.kernel_w; ++v) {
        const Index y = oy * g.stride - g.padding + u, x = ox * g.stride - g.padding + v;
        if (y < 0 || y >= g.height || x < 0 || x >= g.width) continue;
        f((i * g.kernel_h + u) * g.kernel_w + v, (i * g.height + y) * g.width + x);
      }
}
}  // namespace conv_terms_detail

// z(row, n) − b_o, row = o·P + pos: W's row o against sample n's patch at pos.
inline Terms conv_forward_terms(const ConvGeometry& g, const Matrix<double>& W, const Matrix<double>& X, Index row,
                                Index n) {
  const Index P = g.positions(), o = row / P;
  std::vector<double> u, v;
  conv_terms_detail::taps(g, row % P, [&](Index k, Index x) {
    u.push_back(W(o, k));
    v.push_back(X(x, n));
  });
  return conv_terms_detail::from(u, v);
}

// dX(feature, n): W(o, k) · δ(o·P + pos, n) over every (o, pos, k) whose tap reads that feature.
inline Terms conv_input_gradient_terms(const ConvGeometry& g, const Matrix<double>& W, const Matrix<double>& dZ,
                                       Index feature, Index n) {
  const Index P = g.positions();
  std::vector<double> u, v;
  for (Index pos = 0; pos < P; ++pos)
    conv_terms_detail::taps(g, pos, [&](Index k, Index x) {
      if (x != feature) return;
      for (Index o = 0; o < g.out_channels; ++o) {
        u.push_back(W(o, k));
        v.push_back(dZ(o * P + pos, n));
      }
    });
  return conv_terms_detail::from(u, v);
}

// dW(o, k): δ(o·P + pos, n) · X(tap k of pos, n) over every position and sample.
inline Terms conv_weight_gradient_terms(const ConvGeometry& g, const Matrix<double>& X, const Matrix<double>& dZ,
                                        Index o, Index k) {
  const Index P = g.positions();
  std::vector<double> u, v;
  for (Index n = 0; n < X.cols(); ++n)
    for (Index pos = 0; pos < P; ++pos)
      conv_terms_detail::taps(g, pos, [&](Index kk, Index x) {
        if (kk != k) return;
        u.push_back(dZ(o * P + pos, n));
        v.push_back(X(x, n));
      });
  return conv_terms_detail::from(u, v);
}

// db(o): δ of channel o at every position of every sample.
inline Vector<double> conv_bias_gradient_terms(const ConvGeometry& g, const Matrix<double>& dZ, Index o) {
  const Index P = g.positions();
  Vector<double> s(P * dZ.cols());
  for (Index n = 0; n < dZ.cols(); ++n) s.segment(n * P, P) = dZ.col(n).segment(o * P, P);
  return s;
}

}  // namespace gradcheck::watch::detail
