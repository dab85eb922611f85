// One layer's backward as a Variant (verify_detail.hpp) computes it: dense
// layers through W and Wᵀ, conv2d and pooling through the engine's own
// kernels (engine/include/gradcheck/engine/conv.hpp), with the mistakes of
// docs/verify.md#image-layers applied to one product: a kernel turned 180°,
// the stride or the padding read wrong, the channels swapped, a max-pool
// window's δ routed to the wrong entries, an average not divided, a conv bias
// gradient not summed over positions.
#include "verify_detail.hpp"

namespace gradcheck::detail {

Matrix<double> flipped_kernels(const ConvGeometry& g, const Matrix<double>& W) {
  Matrix<double> out(W.rows(), W.cols());
  const Index kh = g.kernel_h, kw = g.kernel_w;
  for (Index o = 0; o < W.rows(); ++o)
    for (Index i = 0; i < g.in_channels; ++i)
      for (Index u = 0; u < kh; ++u)
        for (Index v = 0; v < kw; ++v)
          out(o, (i * kh + u) * kw + v) = W(o, (i * kh + kh - 1 - u) * kw + kw - 1 - v);
  return out;
}

namespace {

// W[i][o] in place of W[o][i]; requires in_channels = out_channels.
Matrix<double> swapped_channels(const ConvGeometry& g, const Matrix<double>& W) {
  Matrix<double> out(W.rows(), W.cols());
  const Index k = g.kernel_h * g.kernel_w;
  for (Index o = 0; o < g.out_channels; ++o)
    for (Index i = 0; i < g.in_channels; ++i) out.row(o).segment(i * k, k) = W.row(i).segment(o * k, k);
  return out;
}

// The conv2d backward of a program that maps output position (oy, ox) to the
// input pixel (oy·stride − padding + u, ox·stride − padding + v) with its own
// stride and padding (the forward's: the right backward), taps outside the
// image dropped. Through the engine: the input embedded at offset `padding` in
// an image exactly as large as the positions read, convolved without padding.
void conv_backward_as(const ConvGeometry& g, const Matrix<double>& W, const Matrix<double>& X,
                      const Matrix<double>& delta, Index stride, Index padding, Matrix<double>& dW,
                      Matrix<double>* dX) {
  ConvGeometry e = g;
  e.stride = stride;
  e.padding = 0;
  e.height = (g.out_h() - 1) * stride + g.kernel_h;
  e.width = (g.out_w() - 1) * stride + g.kernel_w;
  const auto inside = [&](Index y, Index x) { return y >= 0 && y < g.height && x >= 0 && x < g.width; };
  Matrix<double> Xe = Matrix<double>::Zero(e.input_size(), X.cols());
  for (Index c = 0; c < g.in_channels; ++c)
    for (Index y = 0; y < e.height; ++y)
      for (Index x = 0; x < e.width; ++x)
        if (inside(y - padding, x - padding))
          Xe.row((c * e.height + y) * e.width + x) = X.row((c * g.height + y - padding) * g.width + x - padding);
  Vector<double> db;
  Matrix<double> dXe;
  conv2d_backward(e, W, Xe, delta, dW, db, dX ? &dXe : nullptr);
  if (!dX) return;
  dX->setZero(g.input_size(), X.cols());
  for (Index c = 0; c < g.in_channels; ++c)
    for (Index y = 0; y < e.height; ++y)
      for (Index x = 0; x < e.width; ++x)
        if (inside(y - padding, x - padding))
          dX->row((c * g.height + y - padding) * g.width + x - padding) = dXe.row((c * e.height + y) * e.width + x);
}

// The padding the variant's backward reads the input at.
Index backward_padding(const ConvGeometry& g, const Variant& v) {
  switch (v.backward_padding) {
    case 1: return 0;
    case 2: return g.padding + 1;
    case 3: return g.padding - 1;
    default: return g.padding;
  }
}

// dW, db and dL/da of a conv2d layer as the variant computes them.
void conv_variant(const Layer<double>& layer, const Matrix<double>& a, const Matrix<double>& a_dw,
                  const Matrix<double>& delta, const Variant& v, LayerGradient& out, Matrix<double>* da) {
  const ConvGeometry& g = layer.conv;
  const Matrix<double>& W = layer.weights;
  conv2d_backward(g, W, a_dw, delta, out.weights, out.biases);
  const Index pad = backward_padding(g, v);
  if (v.stride_ignored_dw || pad != g.padding)
    conv_backward_as(g, W, a_dw, delta, v.stride_ignored_dw ? 1 : g.stride, pad, out.weights, nullptr);
  if (v.kernel_flipped_dw) out.weights = flipped_kernels(g, out.weights);
  if (v.conv_bias != 0) {
    const Index P = g.positions();
    for (Index o = 0; o < g.out_channels; ++o)
      out.biases(o) = v.conv_bias == 1 ? delta.row(o * P).sum() : delta.middleRows(o * P, P).sum() / double(P);
  }
  if (!da) return;
  if (v.stride_ignored_dx || pad != g.padding) {
    Matrix<double> unused;
    conv_backward_as(g, W, a, delta, v.stride_ignored_dx ? 1 : g.stride, pad, unused, da);
    return;
  }
  // Only a layer with as many input as output channels can have them swapped.
  const bool swap = v.channels_swapped && g.in_channels == g.out_channels;
  const Matrix<double> Wb = v.kernel_flipped_dx ? flipped_kernels(g, W) : swap ? swapped_channels(g, W) : W;
  Matrix<double> dW;
  Vector<double> db;
  conv2d_backward(g, Wb, a, delta, dW, db, da);
}

// dL/da of a pooling layer as the variant routes each window's δ.
void pool_variant(const Layer<double>& layer, const Matrix<double>& a, const Matrix<double>& delta, const Variant& v,
                  Matrix<double>& da) {
  const PoolGeometry& g = layer.pool;
  const double area = double(g.window * g.window);
  PoolGeometry avg = g;
  avg.kind = PoolGeometry::Kind::avg;
  if (g.kind == PoolGeometry::Kind::avg) {
    avg_pool_backward(g, delta, da);
    if (v.avg_pool_undivided) da *= area;
    return;
  }
  if (v.max_pool_routing == 1 || v.max_pool_routing == 3) {  // every entry: the average's routing
    avg_pool_backward(avg, delta, da);
    if (v.max_pool_routing == 1) da *= area;
    return;
  }
  if (v.max_pool_routing != 2 && v.max_pool_routing != 4) return max_pool_backward(g, a, delta, da);
  da.setZero(g.input_size(), delta.cols());
  const Index OH = g.out_h(), OW = g.out_w();
  for (Index n = 0; n < a.cols(); ++n) {
    const double* x = a.col(n).data();
    for_each_window(g, [&](Index c, Index oy, Index ox, Index first) {
      const double top = x[window_argmax(g, x, first)];
      const double d = delta((c * OH + oy) * OW + ox, n);
      Index last = -1;
      for (Index u = 0; u < g.window; ++u)
        for (Index w = 0; w < g.window; ++w)
          if (x[first + u * g.width + w] == top) {
            last = first + u * g.width + w;
            if (v.max_pool_routing == 2) da(last, n) += d;
          }
      if (v.max_pool_routing == 4) da(last >= 0 ? last : window_argmax(g, x, first), n) += d;  // NaN windows: the pick
    });
  }
}

// Whether some layer from `from` on satisfies pred.
template <class Pred>
bool any_layer(const Network<double>& net, std::size_t from, Pred pred) {
  for (std::size_t l = from; l < net.layers.size(); ++l)
    if (pred(net.layers[l])) return true;
  return false;
}

bool is_conv(const Layer<double>& l) { return l.kind == LayerKind::conv2d; }
bool wide_kernel(const Layer<double>& l) { return is_conv(l) && l.conv.kernel_h * l.conv.kernel_w > 1; }
bool strided(const Layer<double>& l) { return is_conv(l) && l.conv.stride > 1; }
bool padded(const Layer<double>& l) { return is_conv(l) && l.conv.padding > 0; }
bool square_channels(const Layer<double>& l) {
  return is_conv(l) && l.conv.in_channels == l.conv.out_channels && l.conv.in_channels > 1;
}
bool max_window(const Layer<double>& l) { return l.kind == LayerKind::max_pool && l.pool.window > 1; }
bool avg_window(const Layer<double>& l) { return l.kind == LayerKind::avg_pool && l.pool.window > 1; }
bool many_positions(const Layer<double>& l) { return is_conv(l) && l.conv.positions() > 1; }

}  // namespace

void variant_layer_backward(const Layer<double>& layer, const Matrix<double>& a, const Matrix<double>& a_dw,
                            const Matrix<double>& delta, const Variant& v, LayerGradient& g, Matrix<double>* da) {
  switch (layer.kind) {
    case LayerKind::dense: {
      g.weights = delta * a_dw.transpose();
      g.biases = delta.rowwise().sum();
      if (!da) return;
      const Matrix<double>& W = layer.weights;
      const bool transposed = v.transposed_step && W.rows() == W.cols();
      *da = transposed ? Matrix<double>(W * delta) : Matrix<double>(W.transpose() * delta);
      return;
    }
    case LayerKind::conv2d: return conv_variant(layer, a, a_dw, delta, v, g, da);
    case LayerKind::max_pool:
    case LayerKind::avg_pool:
      g.weights.resize(0, 0);
      g.biases.resize(0);
      if (da) pool_variant(layer, a, delta, v, *da);
      return;
  }
}

bool image_variant_applies(const Network<double>& net, const Variant& v) {
  // A mistake in dL/da_{l−1} shows only below layer l: layers from 1 on.
  if ((v.kernel_flipped || v.kernel_flipped_dw) && !any_layer(net, 0, wide_kernel)) return false;
  if (v.kernel_flipped_dx && !any_layer(net, 1, wide_kernel)) return false;
  if (v.stride_ignored_dw && !any_layer(net, 0, strided)) return false;
  if (v.stride_ignored_dx && !any_layer(net, 1, strided)) return false;
  if (v.backward_padding == 2 && !any_layer(net, 0, is_conv)) return false;
  if ((v.backward_padding == 1 || v.backward_padding == 3) && !any_layer(net, 0, padded)) return false;
  if (v.channels_swapped && !any_layer(net, 1, square_channels)) return false;
  if (v.max_pool_routing != 0 && !any_layer(net, 1, max_window)) return false;
  if (v.avg_pool_undivided && !any_layer(net, 1, avg_window)) return false;
  if (v.conv_bias != 0 && !any_layer(net, 0, many_positions)) return false;
  return true;
}

}  // namespace gradcheck::detail
