#pragma once
// Training: online and mini-batch SGD, momentum and Adam on a Network<S>, with
// a per-step observer hook, and evaluation of loss and accuracy.
//
// One step on a batch B of m samples (columns of the training set, in the
// order of a seeded shuffle): forward, loss, backward with the network's own
// reduction, then the update. With Reduction::mean the gradient g is already
// the batch average, so
//   sgd       θ ← θ − η g                      (= Nielsen's θ − (η/m) Σ_x ∇L_x)
//   momentum  v ← μ v + g,  θ ← θ − η v        (PyTorch's form; μ = 0 takes sgd's path, as
//                                               in torch.optim.SGD, so it is sgd bit for bit)
//   adam      m ← β1 m + (1 − β1) g,  v ← β2 v + (1 − β2) g²,  t ← t + 1,
//             θ ← θ − η m̂ / (√v̂ + ε),  m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)
//             (Kingma & Ba; the first step moves each θ by ≈ η sign(g))
// With clip_norm > 0, g is first multiplied by min(1, clip_norm / ‖g‖₂), the
// norm taken over every weight and bias together.
// The last batch of an epoch holds the remaining N mod m samples, if any.
//
// Observer: Callbacks::before_update sees each step after backward and before
// the update (the network as it was, the forward pass, the raw gradients, the
// batch, the loss); Callbacks::after_update sees the same step once the
// parameters have moved. Either may return Control::stop: before_update's stop
// skips that update. epoch_end sees each epoch's record and may stop too.
//
// Speed: a Trainer keeps its batch, forward-pass, gradient and optimiser
// workspaces between steps (Eigen's resize to the same shape is a no-op), and
// skips the input gradient. SGD applies W ← W − η δ aᵀ as one matrix product
// that accumulates into W, so dL/dW is never written; it is computed as well,
// into Step::gradients, only when gradient clipping or a callback reads it
// (Callbacks::weight_gradients, true unless the callbacks say otherwise). The
// update is the same product either way, so observing a run never changes it
// (TrainerObserver.WatchingARunLeavesItBitForBitAsItWas). Nothing here uses
// threads; the default build uses AVX2 and FMA where the machine has them
// (GRADCHECK_CPU, README.md#the-instruction-set).
// Reproducibility: the same seed, data and build give bitwise-identical runs.
//
// How to use:
//   auto net = make_network({784, 30, 10}, Activation::sigmoid, Activation::sigmoid,
//                           Loss::quadratic, Init::gaussian, /*seed=*/1);
//   TrainOptions opt;  opt.learning_rate = 3.0;  opt.batch_size = 10;  opt.epochs = 30;
//   History h = train(net, training_set, opt, &test_set);
//   h.epochs.back().test->accuracy;
//   Evaluation e = evaluate(net, test_set);   // mean per-sample loss, accuracy
// See docs/training.md.

#include <gradcheck/engine/dataset.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/network.hpp>
#include <gradcheck/engine/random.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gradcheck {

enum class Optimizer { sgd, momentum, adam };

inline constexpr Optimizer all_optimizers[] = {Optimizer::sgd, Optimizer::momentum, Optimizer::adam};

inline const char* to_string(Optimizer o) {
  switch (o) {
    case Optimizer::sgd: return "sgd";
    case Optimizer::momentum: return "momentum";
    case Optimizer::adam: return "adam";
  }
  return "?";
}

inline std::optional<Optimizer> parse_optimizer(std::string_view s) {
  for (Optimizer o : all_optimizers)
    if (s == to_string(o)) return o;
  return std::nullopt;
}

struct TrainOptions {
  Optimizer optimizer = Optimizer::sgd;
  double learning_rate = 0.1;  // η (Nielsen's MNIST runs use 3.0 with sigmoid + quadratic)
  Index batch_size = 10;       // m: samples per update; 1 = online SGD; ≥ N = full-batch descent
  int epochs = 1;              // passes over the training set
  double momentum = 0.9;       // μ of Optimizer::momentum
  double beta1 = 0.9;          // Adam's decay of the first moment
  double beta2 = 0.999;        // Adam's decay of the second moment
  double epsilon = 1e-8;       // Adam's guard in √v̂ + ε
  bool shuffle = true;         // reshuffle the sample order at the start of every epoch
  std::uint64_t seed = 0;      // seed of that shuffle (Rng, random.hpp)
  double clip_norm = 0.0;      // > 0: rescale g to this global L2 norm when it is longer; 0 = never
};

// Throws InputError("", "<option>", problem) for options no run could use.
inline void validate(const TrainOptions& o) {
  const auto fail = [](const char* field, const std::string& problem) { throw InputError("", field, problem); };
  if (!std::isfinite(o.learning_rate) || o.learning_rate <= 0)
    fail("learning_rate", "is " + std::to_string(o.learning_rate) + ", expected a finite number > 0");
  if (o.batch_size < 1) fail("batch_size", "is " + std::to_string(o.batch_size) + ", expected at least 1");
  if (o.epochs < 0) fail("epochs", "is " + std::to_string(o.epochs) + ", expected at least 0");
  if (!(o.momentum >= 0 && o.momentum < 1))
    fail("momentum", "is " + std::to_string(o.momentum) + ", expected 0 <= momentum < 1");
  if (!(o.beta1 >= 0 && o.beta1 < 1)) fail("beta1", "is " + std::to_string(o.beta1) + ", expected 0 <= beta1 < 1");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) fail("beta2", "is " + std::to_string(o.beta2) + ", expected 0 <= beta2 < 1");
  if (!(o.epsilon >= 0) || !std::isfinite(o.epsilon))
    fail("epsilon", "is " + std::to_string(o.epsilon) + ", expected a finite number >= 0");
  if (!(o.clip_norm >= 0) || !std::isfinite(o.clip_norm))
    fail("clip_norm", "is " + std::to_string(o.clip_norm) + ", expected 0 (off) or a finite number > 0");
}

// Loss and accuracy of a network on a dataset.
struct Evaluation {
  double loss = 0;      // mean per-sample loss (whatever the network's reduction)
  double accuracy = 0;  // correct / samples
  Index correct = 0;
  Index samples = 0;
};

enum class Control { proceed, stop };

// One training step, as the observer sees it. References are valid only during
// the call; copy what you keep.
template <class S>
struct Step {
  int epoch;                          // 0-based
  Index step;                         // 0-based count of steps since the run began
  Index batch;                        // 0-based index of the batch within its epoch
  const std::vector<Index>& samples;  // columns of the training set in this batch
  const Matrix<S>& inputs;            // the batch, features × m (= forward.a[0])
  const Matrix<S>& targets;           // outputs × m
  const Network<S>& network;          // before_update: as used by forward/backward; after_update: updated
  const ForwardPass<S>& forward;      // z and a of every layer, before the update
  const Gradients<S>& gradients;      // dL/dW, dL/db, dL/dz as backward gave them (never clipped in place)
  S loss;                             // batch loss, reduced as the network says
  double clip_scale;                  // factor applied to the gradients by the update (1 = not clipped)
};

struct EpochRecord {
  int epoch = 0;
  Index steps = 0;                  // updates applied in this epoch
  double train_loss = 0;            // mean per-sample loss over the epoch's batches, each before its update
  std::optional<Evaluation> test;   // after the epoch, when a test set was given
  double seconds = 0;               // wall time of the epoch's steps (evaluation excluded)
};

struct History {
  std::vector<EpochRecord> epochs;  // one per epoch begun (a stopped epoch is included, partial)
  Index steps = 0;                  // updates applied in total
  bool stopped = false;             // a callback returned Control::stop
  int stopped_epoch = -1;           // where it did (-1: not stopped)
  Index stopped_step = -1;
};

template <class S>
struct Callbacks {
  std::function<Control(const Step<S>&)> before_update;  // stop: this update is not applied
  std::function<Control(const Step<S>&)> after_update;
  std::function<Control(const EpochRecord&)> epoch_end;
  // Whether before_update / after_update read Step::gradients.weights. false
  // lets SGD skip writing dL/dW of dense layers: the callbacks then find those
  // matrices empty (0 × 0) and form dL/dW_l = gradients.deltas[l] ·
  // forward.a[l]ᵀ themselves when they need it (the same product, so the same
  // numbers). Conv2d layers' dL/dW, and every layer's under clipping, momentum
  // or Adam, are filled either way.
  bool weight_gradients = true;
};

namespace detail {

// Lets `nullptr` and lambdas-in-braces be passed where S is deduced elsewhere.
template <class T>
struct non_deduced {
  using type = T;
};
template <class T>
using non_deduced_t = typename non_deduced<T>::type;

template <class S>
void check_dataset(const Network<S>& net, const Dataset<S>& data, const char* name) {
  const std::string at = name;
  if (data.features() != net.input_size())
    throw InputError("", at + ".inputs",
                     "has " + std::to_string(data.features()) + " features, the network takes " +
                         std::to_string(net.input_size()));
  if (data.targets.rows() != net.output_size())
    throw InputError("", at + ".targets",
                     "has " + std::to_string(data.targets.rows()) + " rows, the network has " +
                         std::to_string(net.output_size()) + " outputs");
  if (data.targets.cols() != data.size())
    throw InputError("", at + ".targets",
                     "has " + std::to_string(data.targets.cols()) + " samples, inputs have " +
                         std::to_string(data.size()));
  if (!data.labels.empty() && static_cast<Index>(data.labels.size()) != data.size())
    throw InputError("", at + ".labels",
                     "has " + std::to_string(data.labels.size()) + " entries, inputs have " +
                         std::to_string(data.size()) + " samples");
}

// Predicted class of an output column: the first largest entry, or for a single
// output 1 if it is ≥ 0.5. -1 when the column holds a NaN (never correct).
template <class S, class Col>
int predicted_class(const Col& a) {
  for (Index k = 0; k < a.size(); ++k)
    if (std::isnan(to_double(a(k)))) return -1;
  if (a.size() == 1) return to_double(a(0)) >= 0.5 ? 1 : 0;
  Index best = 0;
  for (Index k = 1; k < a.size(); ++k)
    if (re(a(k)) > re(a(best))) best = k;
  return static_cast<int>(best);
}

}  // namespace detail

// Loss (mean over samples) and accuracy of net on data, in chunks of `chunk`
// samples. The true class is data.labels when present, else predicted_class
// of the target column.
template <class S>
Evaluation evaluate(const Network<S>& net, const Dataset<S>& data, Index chunk = 1000) {
  detail::check_dataset(net, data, "dataset");
  chunk = std::max<Index>(chunk, 1);
  Evaluation e;
  e.samples = data.size();
  if (e.samples == 0) return e;
  ForwardPass<S> fp;
  Matrix<S> inputs, targets;
  double loss_sum = 0;
  for (Index begin = 0; begin < e.samples; begin += chunk) {
    const Index n = std::min(chunk, e.samples - begin);
    if (data.bytes) {  // decoded chunk by chunk; a matrix is read in place
      data.input_columns(begin, n, inputs);
      forward(net, inputs, fp);
    } else {
      forward(net, data.inputs.middleCols(begin, n), fp);
    }
    targets = data.targets.middleCols(begin, n);
    loss_sum += detail::to_double(sample_losses(net, fp, targets).sum());
    for (Index c = 0; c < n; ++c) {
      const int predicted = detail::predicted_class<S>(fp.output().col(c));
      const int truth = data.labels.empty() ? detail::predicted_class<S>(targets.col(c))
                                            : data.labels[static_cast<std::size_t>(begin + c)];
      if (predicted >= 0 && predicted == truth) ++e.correct;
    }
  }
  e.loss = loss_sum / static_cast<double>(e.samples);
  e.accuracy = static_cast<double>(e.correct) / static_cast<double>(e.samples);
  return e;
}

// Holds the network being trained (by reference), the optimiser state and the
// workspaces. train() runs options.epochs epochs; step() makes one update on
// chosen samples (for custom loops and benchmarks).
template <class S>
class Trainer {
 public:
  Trainer(Network<S>& net, TrainOptions options, Callbacks<S> callbacks = {})
      : net_(net), opt_(options), cb_(std::move(callbacks)), rng_(options.seed) {
    validate(opt_);
    validate(net_);
    const std::size_t L = net_.layers.size();
    fp_.a.resize(L + 1);
    fp_.z.resize(L);
    sgd_ = opt_.optimizer == Optimizer::sgd || (opt_.optimizer == Optimizer::momentum && opt_.momentum == 0);
    // SGD applies δ aᵀ straight to dense weights; backward always fills a conv2d
    // layer's dW (conv.hpp), which the update then reads.
    weight_gradients_ =
        !sgd_ || opt_.clip_norm > 0 || ((cb_.before_update || cb_.after_update) && cb_.weight_gradients);
    if (!sgd_) {
      for (const auto& layer : net_.layers) {
        m_w_.push_back(Matrix<S>::Zero(layer.weights.rows(), layer.weights.cols()));
        m_b_.push_back(Vector<S>::Zero(layer.biases.size()));
        if (opt_.optimizer == Optimizer::adam) {
          v_w_.push_back(Matrix<S>::Zero(layer.weights.rows(), layer.weights.cols()));
          v_b_.push_back(Vector<S>::Zero(layer.biases.size()));
        }
      }
    }
  }

  History train(const Dataset<S>& training, const Dataset<S>* test = nullptr) {
    detail::check_dataset(net_, training, "training");
    if (test) detail::check_dataset(net_, *test, "test");
    History h;
    const Index N = training.size();
    order_.resize(static_cast<std::size_t>(N));
    std::iota(order_.begin(), order_.end(), Index(0));
    const Index m = std::min(opt_.batch_size, std::max<Index>(N, 1));
    for (int epoch = 0; epoch < opt_.epochs && !h.stopped; ++epoch) {
      epoch_ = epoch;
      if (opt_.shuffle) rng_.shuffle(order_.begin(), order_.end());
      EpochRecord rec;
      rec.epoch = epoch;
      double loss_sum = 0;
      Index seen = 0;
      const auto start = std::chrono::steady_clock::now();
      Index batch = 0;
      for (Index begin = 0; begin < N; begin += m, ++batch) {
        const Index n = std::min(m, N - begin);
        if (begin + n < N) training.prefetch(order_.data() + begin + n, std::min(m, N - begin - n));
        const StepOutcome out = run_step(training, order_.data() + begin, n, batch);
        if (out.seen) {
          loss_sum += out.sample_loss_sum;
          seen += n;
        }
        if (out.applied) {
          ++rec.steps;
          ++h.steps;
        }
        if (out.control == Control::stop) {
          h.stopped = true;
          h.stopped_epoch = epoch;
          h.stopped_step = step_ - (out.applied ? 1 : 0);
          break;
        }
      }
      rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      rec.train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : std::numeric_limits<double>::quiet_NaN();
      if (test) rec.test = evaluate(net_, *test);
      h.epochs.push_back(rec);
      if (!h.stopped && cb_.epoch_end && cb_.epoch_end(rec) == Control::stop) {
        h.stopped = true;
        h.stopped_epoch = epoch;
        h.stopped_step = step_ - 1;
      }
    }
    return h;
  }

  // One update on data's columns `samples` (one batch, whatever their number).
  Control step(const Dataset<S>& data, const std::vector<Index>& samples) {
    detail::check_dataset(net_, data, "dataset");
    for (std::size_t k = 0; k < samples.size(); ++k)
      if (samples[k] < 0 || samples[k] >= data.size())
        throw InputError("", "samples[" + std::to_string(k) + "]",
                         "is " + std::to_string(samples[k]) + ", expected 0.." + std::to_string(data.size() - 1));
    return run_step(data, samples.data(), static_cast<Index>(samples.size()), 0).control;
  }

  Index steps_taken() const { return step_; }

 private:
  struct StepOutcome {
    Control control = Control::proceed;
    bool seen = false;     // forward/backward ran
    bool applied = false;  // the parameters moved
    double sample_loss_sum = 0;
  };

  StepOutcome run_step(const Dataset<S>& data, const Index* idx, Index n, Index batch) {
    StepOutcome out;
    const std::size_t L = net_.layers.size();
    samples_.assign(idx, idx + n);
    // The batch goes straight into the forward pass's input slot.
    Matrix<S>& x = fp_.a[0];
    x.resize(data.features(), n);
    targets_.resize(data.targets.rows(), n);
    for (Index c = 0; c < n; ++c) {
      data.input_column(idx[c], x.col(c));
      targets_.col(c) = data.targets.col(idx[c]);
    }
    forward_from(net_, 0, fp_);
    backward(net_, fp_, targets_, g_, /*input_gradient=*/false, weight_gradients_);
    const Vector<S> per_sample = sample_losses(net_, fp_, targets_);
    const S batch_loss = reduce(net_.reduction, per_sample);
    out.seen = true;
    out.sample_loss_sum = detail::to_double(per_sample.sum());

    double scale = 1.0;
    if (opt_.clip_norm > 0) {
      double sq = 0;
      for (std::size_t l = 0; l < L; ++l)
        sq += detail::to_double(g_.weights[l].squaredNorm()) + detail::to_double(g_.biases[l].squaredNorm());
      const double norm = std::sqrt(sq);
      if (norm > opt_.clip_norm) scale = opt_.clip_norm / norm;
    }

    const Step<S> view{epoch_, step_, batch, samples_, x, targets_, net_, fp_, g_, batch_loss, scale};
    if (cb_.before_update && cb_.before_update(view) == Control::stop) {
      out.control = Control::stop;
      return out;
    }
    update(scale);
    ++step_;
    out.applied = true;
    if (cb_.after_update && cb_.after_update(view) == Control::stop) out.control = Control::stop;
    return out;
  }

  void update(double clip_scale) {
    const S eta = S(opt_.learning_rate);
    const S scale = S(clip_scale);
    if (sgd_) {
      // W −= (η s) δ aᵀ: one product accumulating into W (Eigen's GEMM with
      // α = −η s), whether or not g_.weights was computed for an observer.
      const S step = S(eta * scale);
      for (std::size_t l = 0; l < net_.layers.size(); ++l) {
        Layer<S>& layer = net_.layers[l];
        if (layer.is_dense())
          layer.weights.noalias() -= (step * g_.deltas[l]) * fp_.a[l].transpose();
        else
          layer.weights -= step * g_.weights[l];  // conv2d; pooling: 0 × 0
        layer.biases -= step * g_.biases[l];
      }
      return;
    }
    switch (opt_.optimizer) {
      case Optimizer::sgd: break;  // handled above
      case Optimizer::momentum: {
        const S mu = S(opt_.momentum);
        for (std::size_t l = 0; l < net_.layers.size(); ++l) {
          m_w_[l] = mu * m_w_[l] + scale * g_.weights[l];
          m_b_[l] = mu * m_b_[l] + scale * g_.biases[l];
          net_.layers[l].weights -= eta * m_w_[l];
          net_.layers[l].biases -= eta * m_b_[l];
        }
        return;
      }
      case Optimizer::adam: {
        ++adam_t_;
        const S b1 = S(opt_.beta1), b2 = S(opt_.beta2), eps = S(opt_.epsilon);
        using std::pow;
        using std::sqrt;
        const S c1 = S(S(1) - S(pow(b1, S(adam_t_))));  // bias corrections 1 − β^t
        const S c2 = S(S(1) - S(pow(b2, S(adam_t_))));
        const auto adam = [&](auto& theta, auto& m, auto& v, const auto& g) {
          m = b1 * m + (S(1) - b1) * scale * g;
          v.array() = b2 * v.array() + (S(1) - b2) * (scale * g.array()).square();
          theta.array() -= eta * (m.array() / c1) / ((v.array() / c2).sqrt() + eps);
        };
        for (std::size_t l = 0; l < net_.layers.size(); ++l) {
          adam(net_.layers[l].weights, m_w_[l], v_w_[l], g_.weights[l]);
          adam(net_.layers[l].biases, m_b_[l], v_b_[l], g_.biases[l]);
        }
        return;
      }
    }
  }

  Network<S>& net_;
  TrainOptions opt_;
  Callbacks<S> cb_;
  Rng rng_;
  int epoch_ = 0;
  Index step_ = 0;
  long adam_t_ = 0;
  std::vector<Index> order_, samples_;
  Matrix<S> targets_;
  ForwardPass<S> fp_;
  Gradients<S> g_;
  bool sgd_ = true;               // sgd, or momentum with μ = 0
  bool weight_gradients_ = true;  // g_.weights is read (by a callback, the clip or the optimiser)
  std::vector<Matrix<S>> m_w_, v_w_;  // momentum's velocity or Adam's moments
  std::vector<Vector<S>> m_b_, v_b_;
};

// Trains net in place for options.epochs epochs; evaluates on *test after each
// epoch when given. Returns the per-epoch history.
template <class S>
History train(Network<S>& net, const Dataset<S>& training, const TrainOptions& options = {},
              const detail::non_deduced_t<Dataset<S>>* test = nullptr,
              detail::non_deduced_t<Callbacks<S>> callbacks = {}) {
  Trainer<S> trainer(net, options, std::move(callbacks));
  return trainer.train(training, test);
}

}  // namespace gradcheck
