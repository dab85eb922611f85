// The trainer against hand-written reference updates, the 3-2-1 question, the
// observer contract, and two small problems it must solve.
#include "test_helpers.hpp"

#include <gradcheck/engine/init.hpp>
#include <gradcheck/engine/trainer.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace gradcheck {
namespace {

using testing::input_321;
using testing::input_error_of;
using testing::net_321;
using testing::target_321;

Dataset<double> dataset_321() {
  Dataset<double> d;
  d.inputs = input_321();
  d.targets = target_321();
  return d;
}

// N samples of a small regression-free classification problem: 3 features,
// 2 classes (one-hot), labels kept.
Dataset<double> small_set(Index n, std::uint64_t seed) {
  Rng r(seed);
  Dataset<double> d;
  d.inputs.resize(3, n);
  for (Index c = 0; c < n; ++c) {
    for (Index k = 0; k < 3; ++k) d.inputs(k, c) = r.normal();
    d.labels.push_back(d.inputs(0, c) + 0.5 * d.inputs(1, c) > 0 ? 1 : 0);
  }
  d.targets = one_hot(d.labels, 2);
  return d;
}

Network<double> small_net(std::uint64_t seed, Loss loss = Loss::quadratic) {
  return make_network({3, 4, 2}, Activation::tanh, loss == Loss::quadratic ? Activation::sigmoid : Activation::softmax,
                      loss, Init::gaussian, seed);
}

void expect_same_parameters(const Network<double>& a, const Network<double>& b, double tol, const char* what) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    for (Index k = 0; k < a.layers[l].weights.size(); ++k)
      EXPECT_NEAR(a.layers[l].weights.data()[k], b.layers[l].weights.data()[k], tol)
          << what << ": layer " << l << " weight " << k;
    for (Index k = 0; k < a.layers[l].biases.size(); ++k)
      EXPECT_NEAR(a.layers[l].biases(k), b.layers[l].biases(k), tol) << what << ": layer " << l << " bias " << k;
  }
}

bool bitwise_equal(const Network<double>& a, const Network<double>& b) {
  for (std::size_t l = 0; l < a.layers.size(); ++l)
    if (a.layers[l].weights != b.layers[l].weights || a.layers[l].biases != b.layers[l].biases) return false;
  return true;
}

// Whether two copies of `net`, one trained on `data` with `a` and one with `b`,
// end with bitwise the same parameters.
bool trains_alike(const Network<double>& net, const Dataset<double>& data, const TrainOptions& a, const TrainOptions& b) {
  auto with_a = net, with_b = net;
  train(with_a, data, a);
  train(with_b, data, b);
  return bitwise_equal(with_a, with_b);
}

TrainOptions options(Optimizer o, double lr, Index batch, int epochs) {
  TrainOptions t;
  t.optimizer = o;
  t.learning_rate = lr;
  t.batch_size = batch;
  t.epochs = epochs;
  return t;
}

TEST(Trainer, OneSgdStepAtRateOneMovesThe321OutputToTheQuestionsValue) {
  auto net = net_321();
  const auto h = train(net, dataset_321(), options(Optimizer::sgd, 1.0, 1, 1));
  EXPECT_EQ(h.steps, 1);
  EXPECT_NEAR(forward(net, input_321()).output()(0, 0), 0.8004346889662342, 1e-12);
  EXPECT_NEAR(h.epochs[0].train_loss, 0.0222598019138614, 1e-12) << "the loss before the step";
}

TEST(Trainer, OneSgdStepInFiftyDigitsAgreesWithDouble) {
  auto net = net_321().cast<cpp_bin_float_50>();
  Dataset<cpp_bin_float_50> d;
  d.inputs = input_321().cast<cpp_bin_float_50>();
  d.targets = target_321().cast<cpp_bin_float_50>();
  train(net, d, options(Optimizer::sgd, 1.0, 1, 1));
  const cpp_bin_float_50 out = forward(net, d.inputs).output()(0, 0);
  EXPECT_NEAR(static_cast<double>(out), 0.8004346889662342, 1e-15);
}

TEST(Trainer, MiniBatchOfTheWholeSetIsFullBatchGradientDescent) {
  const auto data = small_set(8, 1);
  for (Index batch : {Index(8), Index(100)}) {
    auto net = small_net(2);
    auto ref = net;
    train(net, data, options(Optimizer::sgd, 0.5, batch, 3));
    for (int e = 0; e < 3; ++e) {
      const auto g = gradients(ref, data.inputs, data.targets);
      for (std::size_t l = 0; l < ref.layers.size(); ++l) {
        ref.layers[l].weights -= 0.5 * g.weights[l];
        ref.layers[l].biases -= 0.5 * g.biases[l];
      }
    }
    // The shuffle reorders the columns, which only changes rounding.
    expect_same_parameters(net, ref, 1e-13, batch == 8 ? "batch = N" : "batch > N");
  }
}

TEST(Trainer, OnlineSgdIsOneStepPerSampleInOrder) {
  const auto data = small_set(5, 3);
  auto net = small_net(4);
  auto ref = net;
  auto opt = options(Optimizer::sgd, 0.3, 1, 2);
  opt.shuffle = false;
  const auto h = train(net, data, opt);
  EXPECT_EQ(h.steps, 10);
  for (int e = 0; e < 2; ++e)
    for (Index c = 0; c < 5; ++c) {
      const auto g = gradients(ref, Matrix<double>(data.inputs.col(c)), Matrix<double>(data.targets.col(c)));
      for (std::size_t l = 0; l < ref.layers.size(); ++l) {
        ref.layers[l].weights -= 0.3 * g.weights[l];
        ref.layers[l].biases -= 0.3 * g.biases[l];
      }
    }
  expect_same_parameters(net, ref, 1e-15, "online");
}

TEST(Trainer, MomentumZeroIsSgdBitForBit) {
  auto sgd = options(Optimizer::sgd, 0.7, 3, 4);
  sgd.seed = 17;
  auto momentum = sgd;
  momentum.optimizer = Optimizer::momentum;
  momentum.momentum = 0.0;
  EXPECT_TRUE(trains_alike(small_net(6), small_set(20, 5), sgd, momentum));
}

TEST(Trainer, MomentumAccumulatesVelocityAsWritten) {
  const auto data = small_set(6, 7);
  auto net = small_net(8), ref = net;
  auto opt = options(Optimizer::momentum, 0.2, 6, 3);
  opt.momentum = 0.9;
  train(net, data, opt);
  std::vector<Matrix<double>> vw;
  std::vector<Vector<double>> vb;
  for (const auto& l : ref.layers) {
    vw.push_back(Matrix<double>::Zero(l.units(), l.inputs()));
    vb.push_back(Vector<double>::Zero(l.units()));
  }
  for (int e = 0; e < 3; ++e) {
    const auto g = gradients(ref, data.inputs, data.targets);
    for (std::size_t l = 0; l < ref.layers.size(); ++l) {
      vw[l] = 0.9 * vw[l] + g.weights[l];
      vb[l] = 0.9 * vb[l] + g.biases[l];
      ref.layers[l].weights -= 0.2 * vw[l];
      ref.layers[l].biases -= 0.2 * vb[l];
    }
  }
  expect_same_parameters(net, ref, 1e-13, "momentum");
}

TEST(Trainer, AdamsFirstStepMovesEachParameterByTheRateTimesTheSignOfItsGradient) {
  const auto data = small_set(10, 9);
  auto net = small_net(10);
  const auto before = net;
  const auto g = gradients(before, data.inputs, data.targets);
  train(net, data, options(Optimizer::adam, 1e-3, 10, 1));
  int checked = 0;
  for (std::size_t l = 0; l < net.layers.size(); ++l)
    for (Index k = 0; k < net.layers[l].weights.size(); ++k) {
      const double gk = g.weights[l].data()[k];
      const double moved = net.layers[l].weights.data()[k] - before.layers[l].weights.data()[k];
      // Exactly −η g/(|g| + ε); for |g| ≫ ε that is −η sign(g).
      EXPECT_NEAR(moved, -1e-3 * gk / (std::abs(gk) + 1e-8), 1e-15) << "layer " << l << " weight " << k;
      if (std::abs(gk) > 1e-5) {
        EXPECT_NEAR(moved, gk > 0 ? -1e-3 : 1e-3, 1e-3 * 1e-3) << "layer " << l << " weight " << k;
        ++checked;
      }
    }
  EXPECT_GT(checked, 10);
}

TEST(Trainer, AdamFollowsKingmaAndBaForSeveralSteps) {
  const auto data = small_set(6, 11);
  auto net = small_net(12), ref = net;
  auto opt = options(Optimizer::adam, 0.01, 6, 4);
  opt.beta1 = 0.8;
  opt.beta2 = 0.95;
  opt.epsilon = 1e-6;
  train(net, data, opt);
  // A scalar-loop reference, written independently of the trainer's Eigen code.
  std::vector<std::vector<double>> m(2 * ref.layers.size()), v(2 * ref.layers.size());
  for (int t = 1; t <= 4; ++t) {
    const auto g = gradients(ref, data.inputs, data.targets);
    for (std::size_t l = 0; l < ref.layers.size(); ++l)
      for (int part = 0; part < 2; ++part) {
        double* theta = part == 0 ? ref.layers[l].weights.data() : ref.layers[l].biases.data();
        const double* gp = part == 0 ? g.weights[l].data() : g.biases[l].data();
        const Index n = part == 0 ? ref.layers[l].weights.size() : ref.layers[l].biases.size();
        auto& mm = m[2 * l + static_cast<std::size_t>(part)];
        auto& vv = v[2 * l + static_cast<std::size_t>(part)];
        mm.resize(static_cast<std::size_t>(n), 0.0);
        vv.resize(static_cast<std::size_t>(n), 0.0);
        for (Index k = 0; k < n; ++k) {
          const std::size_t i = static_cast<std::size_t>(k);
          mm[i] = 0.8 * mm[i] + 0.2 * gp[k];
          vv[i] = 0.95 * vv[i] + 0.05 * gp[k] * gp[k];
          const double mhat = mm[i] / (1 - std::pow(0.8, t)), vhat = vv[i] / (1 - std::pow(0.95, t));
          theta[k] -= 0.01 * mhat / (std::sqrt(vhat) + 1e-6);
        }
      }
  }
  expect_same_parameters(net, ref, 1e-13, "adam");
}

TEST(Trainer, ClippingRescalesAGradientLongerThanTheLimit) {
  const auto data = small_set(8, 13);
  auto net = small_net(14), ref = net;
  const auto g = gradients(ref, data.inputs, data.targets);
  double norm2 = 0;
  for (std::size_t l = 0; l < g.weights.size(); ++l) norm2 += g.weights[l].squaredNorm() + g.biases[l].squaredNorm();
  const double limit = 0.25 * std::sqrt(norm2);
  auto opt = options(Optimizer::sgd, 0.5, 8, 1);
  opt.clip_norm = limit;
  double seen_scale = 0;
  Callbacks<double> cb;
  cb.after_update = [&](const Step<double>& s) {
    seen_scale = s.clip_scale;
    return Control::proceed;
  };
  train(net, data, opt, nullptr, cb);
  EXPECT_NEAR(seen_scale, 0.25, 1e-12);
  double moved2 = 0;
  for (std::size_t l = 0; l < net.layers.size(); ++l)
    moved2 += (net.layers[l].weights - ref.layers[l].weights).squaredNorm() +
              (net.layers[l].biases - ref.layers[l].biases).squaredNorm();
  EXPECT_NEAR(std::sqrt(moved2), 0.5 * limit, 1e-12) << "the step is η · clip_norm long";
  // A limit above the norm leaves the step alone.
  auto unclipped = opt;
  unclipped.clip_norm = 0;
  opt.clip_norm = 4 * std::sqrt(norm2);
  EXPECT_TRUE(trains_alike(small_net(14), data, opt, unclipped));
}

TEST(Trainer, StepUpdatesOnTheChosenSamplesAndKeepsMomentumBetweenCalls) {
  const auto data = small_set(6, 35);
  auto net = small_net(36), ref = net;
  auto opt = options(Optimizer::momentum, 0.2, 1, 1);
  opt.momentum = 0.5;
  Trainer<double> trainer(net, opt);
  const std::vector<Index> first{4, 1}, second{0, 5, 2};
  trainer.step(data, first);
  trainer.step(data, second);
  EXPECT_EQ(trainer.steps_taken(), 2);
  std::vector<Matrix<double>> vw(ref.layers.size());
  std::vector<Vector<double>> vb(ref.layers.size());
  for (std::size_t l = 0; l < ref.layers.size(); ++l) {
    vw[l] = Matrix<double>::Zero(ref.layers[l].units(), ref.layers[l].inputs());
    vb[l] = Vector<double>::Zero(ref.layers[l].units());
  }
  for (const auto* batch : {&first, &second}) {
    Matrix<double> x(3, static_cast<Index>(batch->size())), y(2, static_cast<Index>(batch->size()));
    for (std::size_t c = 0; c < batch->size(); ++c) {
      x.col(static_cast<Index>(c)) = data.inputs.col((*batch)[c]);
      y.col(static_cast<Index>(c)) = data.targets.col((*batch)[c]);
    }
    const auto g = gradients(ref, x, y);
    for (std::size_t l = 0; l < ref.layers.size(); ++l) {
      vw[l] = 0.5 * vw[l] + g.weights[l];
      vb[l] = 0.5 * vb[l] + g.biases[l];
      ref.layers[l].weights -= 0.2 * vw[l];
      ref.layers[l].biases -= 0.2 * vb[l];
    }
  }
  for (std::size_t l = 0; l < ref.layers.size(); ++l)
    for (Index k = 0; k < ref.layers[l].weights.size(); ++k)
      EXPECT_NEAR(net.layers[l].weights.data()[k], ref.layers[l].weights.data()[k], 1e-15) << "layer " << l << " weight " << k;
}

TEST(TrainerObserver, SeesEveryStepWithItsBatchLossAndGradients) {
  const auto data = small_set(10, 15);
  auto net = small_net(16);
  auto opt = options(Optimizer::sgd, 0.4, 4, 2);  // batches of 4, 4, 2 in each epoch
  struct Seen {
    int epoch;
    Index step, batch, size;
  };
  std::vector<Seen> seen;
  std::vector<std::set<Index>> samples_per_epoch(2);
  Network<double> before;
  int failures = 0;
  Callbacks<double> cb;
  cb.before_update = [&](const Step<double>& s) {
    seen.push_back({s.epoch, s.step, s.batch, static_cast<Index>(s.samples.size())});
    for (std::size_t c = 0; c < s.samples.size(); ++c) {
      samples_per_epoch[static_cast<std::size_t>(s.epoch)].insert(s.samples[c]);
      failures += s.inputs.col(static_cast<Index>(c)) != data.inputs.col(s.samples[c]);
      failures += s.targets.col(static_cast<Index>(c)) != data.targets.col(s.samples[c]);
    }
    // Everything the observer is given agrees with an independent recomputation.
    const auto g = gradients(s.network, s.inputs, s.targets);
    const auto fp = forward(s.network, s.inputs);
    for (std::size_t l = 0; l < g.weights.size(); ++l) {
      failures += !g.weights[l].isApprox(s.gradients.weights[l], 1e-14);
      failures += !g.biases[l].isApprox(s.gradients.biases[l], 1e-14);
      failures += !fp.z[l].isApprox(s.forward.z[l], 1e-14);
      failures += !fp.a[l + 1].isApprox(s.forward.a[l + 1], 1e-14);
    }
    failures += std::abs(loss(s.network, fp, s.targets) - s.loss) > 1e-15;
    failures += s.clip_scale != 1.0;
    before = s.network;
    return Control::proceed;
  };
  cb.after_update = [&](const Step<double>& s) {
    for (std::size_t l = 0; l < s.network.layers.size(); ++l) {
      const Matrix<double> expected = before.layers[l].weights - 0.4 * s.gradients.weights[l];
      failures += !expected.isApprox(s.network.layers[l].weights, 1e-15);
    }
    return Control::proceed;
  };
  const auto h = train(net, data, opt, nullptr, cb);
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(seen.size(), 6u);
  const Index sizes[] = {4, 4, 2, 4, 4, 2};
  for (std::size_t k = 0; k < 6; ++k) {
    EXPECT_EQ(seen[k].step, static_cast<Index>(k));
    EXPECT_EQ(seen[k].epoch, k < 3 ? 0 : 1);
    EXPECT_EQ(seen[k].batch, static_cast<Index>(k % 3));
    EXPECT_EQ(seen[k].size, sizes[k]);
  }
  EXPECT_EQ(samples_per_epoch[0].size(), 10u) << "each epoch visits every sample once";
  EXPECT_EQ(samples_per_epoch[1].size(), 10u);
  EXPECT_EQ(h.steps, 6);
  EXPECT_FALSE(h.stopped);
}

// Unobserved SGD never writes dL/dW (the update is one product into W); an
// observer makes the trainer compute it too. Either way the update is the same
// product, so a watched run must end exactly where the unwatched one does, for
// every optimiser, on a network small enough for Eigen's coefficient-based
// product and one large enough for its blocked GEMM.
TEST(TrainerObserver, WatchingARunLeavesItBitForBitAsItWas) {
  Rng r(41);
  Dataset<double> wide;
  wide.inputs.resize(40, 30);
  for (Index k = 0; k < wide.inputs.size(); ++k) wide.inputs.data()[k] = r.uniform();
  for (Index c = 0; c < 30; ++c) wide.labels.push_back(static_cast<int>(c % 10));
  wide.targets = one_hot(wide.labels, 10);
  const auto narrow = small_set(20, 42);
  struct Setup {
    Optimizer optimizer;
    double momentum;
  };
  for (const Setup o : {Setup{Optimizer::sgd, 0}, Setup{Optimizer::momentum, 0}, Setup{Optimizer::momentum, 0.9},
                        Setup{Optimizer::adam, 0}})
    for (const bool large : {false, true}) {
      const Dataset<double>& data = large ? wide : narrow;
      const auto start = large ? make_network({40, 24, 10}, Activation::sigmoid, Activation::sigmoid,
                                              Loss::quadratic, Init::gaussian, 43)
                               : small_net(44);
      auto opt = options(o.optimizer, o.optimizer == Optimizer::adam ? 0.01 : 0.5, 10, 3);
      opt.momentum = o.momentum;
      auto unwatched = start, watched = start;
      train(unwatched, data, opt);
      Index steps_seen = 0;
      Callbacks<double> cb;
      cb.before_update = [&](const Step<double>& s) {
        steps_seen += s.gradients.weights.size() == start.layers.size() &&
                      s.gradients.weights[0].rows() == start.layers[0].units() &&
                      s.gradients.weights[0].cols() == start.layers[0].inputs();
        return Control::proceed;
      };
      cb.after_update = [](const Step<double>&) { return Control::proceed; };
      const auto h = train(watched, data, opt, nullptr, cb);
      const std::string what = std::string(to_string(o.optimizer)) + " μ=" + std::to_string(o.momentum) +
                               (large ? ", [40,24,10]" : ", [3,4,2]");
      EXPECT_EQ(steps_seen, h.steps) << what << ": the observer is given dL/dW at every step";
      EXPECT_TRUE(bitwise_equal(watched, unwatched)) << what;
      EXPECT_FALSE(bitwise_equal(watched, start)) << what << ": the run moved the parameters";
    }
}

// Callbacks::weight_gradients = false: under SGD the trainer skips writing a
// dense layer's dL/dW (the observer finds it 0 × 0 and can form δ aᵀ itself,
// equal to what backward writes); momentum reads dL/dW, so it is written anyway.
// The run is the same bit for bit with the flag on or off.
TEST(TrainerObserver, CallbacksThatReadNoWeightGradientsLetSgdSkipWritingThem) {
  const auto data = small_set(20, 45);
  for (const Optimizer o : {Optimizer::sgd, Optimizer::momentum})
    for (const bool reads : {true, false}) {
      auto net = small_net(46), reference = small_net(46);
      auto opt = options(o, 0.5, 5, 2);
      opt.momentum = o == Optimizer::momentum ? 0.9 : 0.0;
      train(reference, data, opt);
      Index empty = 0, written = 0, formed_equal = 0;
      Callbacks<double> cb;
      cb.weight_gradients = reads;
      cb.before_update = [&](const Step<double>& s) {
        for (std::size_t l = 0; l < s.network.layers.size(); ++l) {
          const Matrix<double> formed = s.gradients.deltas[l] * s.forward.a[l].transpose();
          if (s.gradients.weights[l].size() == 0) {
            ++empty;
            continue;
          }
          ++written;
          formed_equal += formed == s.gradients.weights[l] ? 1 : 0;
        }
        return Control::proceed;
      };
      const auto h = train(net, data, opt, nullptr, cb);
      const Index expected = h.steps * static_cast<Index>(net.layers.size());
      const std::string what = std::string(to_string(o)) + (reads ? ", reads" : ", reads not");
      const bool skipped = o == Optimizer::sgd && !reads;
      EXPECT_EQ(empty, skipped ? expected : 0) << what;
      EXPECT_EQ(written, skipped ? 0 : expected) << what;
      EXPECT_EQ(formed_equal, written) << what << ": δ aᵀ formed by the observer is backward's dL/dW";
      EXPECT_TRUE(bitwise_equal(net, reference)) << what;
    }
}

TEST(TrainerObserver, StoppingBeforeAnUpdateLeavesTheParametersOfThePreviousStep) {
  const auto data = small_set(12, 17);
  auto net = small_net(18);
  Network<double> after_step_4;
  Callbacks<double> cb;
  cb.after_update = [&](const Step<double>& s) {
    if (s.step == 4) after_step_4 = s.network;
    return Control::proceed;
  };
  cb.before_update = [](const Step<double>& s) { return s.step == 5 ? Control::stop : Control::proceed; };
  const auto h = train(net, data, options(Optimizer::sgd, 0.5, 2, 10), nullptr, cb);
  EXPECT_TRUE(h.stopped);
  EXPECT_EQ(h.steps, 5);
  EXPECT_EQ(h.stopped_epoch, 0);
  EXPECT_EQ(h.stopped_step, 5);
  ASSERT_EQ(h.epochs.size(), 1u) << "the stopped epoch is recorded, no later one";
  EXPECT_EQ(h.epochs[0].steps, 5);
  EXPECT_TRUE(bitwise_equal(net, after_step_4));
}

TEST(TrainerObserver, StoppingOnTheFirstNonFiniteLossHaltsARunThatDiverges) {
  // A learning rate of 1e200 on a linear network overflows within a few steps.
  const auto data = small_set(8, 19);
  auto net = make_network({3, 2}, Activation::identity, Activation::identity, Loss::quadratic, Init::gaussian, 20);
  Index first_bad = -1;
  Callbacks<double> cb;
  cb.before_update = [&](const Step<double>& s) {
    if (std::isfinite(s.loss)) return Control::proceed;
    first_bad = s.step;
    return Control::stop;
  };
  const auto h = train(net, data, options(Optimizer::sgd, 1e200, 1, 5), nullptr, cb);
  EXPECT_TRUE(h.stopped);
  EXPECT_GT(first_bad, 0);
  EXPECT_EQ(h.steps, first_bad);
}

TEST(TrainerObserver, StoppingAfterAnUpdateKeepsThatUpdate) {
  const auto data = small_set(6, 21);
  auto net = small_net(22);
  Callbacks<double> cb;
  cb.after_update = [](const Step<double>& s) { return s.step == 2 ? Control::stop : Control::proceed; };
  const auto h = train(net, data, options(Optimizer::sgd, 0.5, 1, 3), nullptr, cb);
  EXPECT_TRUE(h.stopped);
  EXPECT_EQ(h.steps, 3);
  EXPECT_EQ(h.stopped_step, 2);
}

TEST(TrainerHistory, RecordsEachEpochAndTheEpochCallbackCanStop) {
  const auto training = small_set(40, 23), test = small_set(20, 24);
  auto net = small_net(25);
  int calls = 0;
  Callbacks<double> cb;
  cb.epoch_end = [&](const EpochRecord& r) {
    ++calls;
    EXPECT_TRUE(r.test.has_value());
    return r.epoch == 2 ? Control::stop : Control::proceed;
  };
  const auto h = train(net, training, options(Optimizer::sgd, 1.0, 5, 10), &test, cb);
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(h.epochs.size(), 3u);
  EXPECT_TRUE(h.stopped);
  EXPECT_EQ(h.steps, 24);
  for (const auto& r : h.epochs) {
    EXPECT_EQ(r.steps, 8);
    EXPECT_GE(r.seconds, 0.0);
    ASSERT_TRUE(r.test.has_value());
    const auto& t = *r.test;
    EXPECT_EQ(t.samples, 20);
    EXPECT_GT(t.loss, 0.0);
  }
  const auto final_eval = evaluate(net, test);
  EXPECT_EQ(final_eval.correct, h.epochs.back().test->correct) << "the record is the evaluation after the epoch";
  EXPECT_EQ(final_eval.loss, h.epochs.back().test->loss);
}

TEST(TrainerHistory, TrainLossIsTheMeanPerSampleLossBeforeEachUpdate) {
  const auto data = small_set(6, 26);
  auto net = small_net(27);
  auto opt = options(Optimizer::sgd, 0.5, 2, 1);
  opt.shuffle = false;
  double expected = 0;
  Callbacks<double> cb;
  cb.before_update = [&](const Step<double>& s) {
    expected += s.loss * static_cast<double>(s.samples.size());  // mean reduction: batch mean × batch size
    return Control::proceed;
  };
  const auto h = train(net, data, opt, nullptr, cb);
  EXPECT_NEAR(h.epochs[0].train_loss, expected / 6, 1e-15);
}

TEST(TrainerReproducibility, TheSameSeedGivesBitwiseIdenticalTraining) {
  const auto data = small_set(50, 28);
  auto opt = options(Optimizer::adam, 0.01, 7, 3);
  opt.seed = 99;
  auto a = small_net(29), b = small_net(29), c = small_net(29);
  const auto ha = train(a, data, opt);
  const auto hb = train(b, data, opt);
  EXPECT_TRUE(bitwise_equal(a, b));
  for (std::size_t e = 0; e < 3; ++e) EXPECT_EQ(ha.epochs[e].train_loss, hb.epochs[e].train_loss);
  opt.seed = 100;
  train(c, data, opt);
  EXPECT_FALSE(bitwise_equal(a, c)) << "another shuffle seed visits the samples in another order";
}

TEST(TrainerConvergence, LearnsXorToFullAccuracy) {
  Dataset<double> xor_set;
  xor_set.inputs = testing::matrix({{0, 0, 1, 1}, {0, 1, 0, 1}});
  xor_set.targets = testing::matrix({{0, 1, 1, 0}});
  xor_set.labels = {0, 1, 1, 0};
  auto net = make_network({2, 4, 1}, Activation::tanh, Activation::sigmoid, Loss::binary_cross_entropy,
                          Init::xavier, 3);
  const auto h = train(net, xor_set, options(Optimizer::adam, 0.05, 4, 500));
  const auto e = evaluate(net, xor_set);
  EXPECT_EQ(e.accuracy, 1.0);
  EXPECT_LT(e.loss, 0.05);
  EXPECT_LT(h.epochs.back().train_loss, h.epochs.front().train_loss);
}

TEST(TrainerConvergence, MiniBatchSgdSeparatesTwoBlobs) {
  // Two Gaussian blobs in 2-D, centres (±1.5, ±1.5): softmax + cross-entropy.
  Rng r(31);
  Dataset<double> d;
  d.inputs.resize(2, 200);
  for (Index c = 0; c < 200; ++c) {
    const int label = static_cast<int>(c % 2);
    const double centre = label ? 1.5 : -1.5;
    d.inputs(0, c) = centre + 0.5 * r.normal();
    d.inputs(1, c) = centre + 0.5 * r.normal();
    d.labels.push_back(label);
  }
  d.targets = one_hot(d.labels, 2);
  auto net = make_network({2, 8, 2}, Activation::relu, Activation::softmax, Loss::cross_entropy, Init::he, 32);
  const auto before = evaluate(net, d);
  auto opt = options(Optimizer::sgd, 0.1, 10, 20);
  train(net, d, opt);
  const auto after = evaluate(net, d);
  EXPECT_EQ(after.accuracy, 1.0);
  EXPECT_LT(after.loss, before.loss);
}

TEST(Evaluate, CountsArgmaxAgainstLabelsAndAveragesThePerSampleLoss) {
  // Identity network: outputs are the inputs, so the predictions are chosen here.
  Network<double> net;
  net.loss = Loss::quadratic;
  net.layers.push_back({Activation::identity, Matrix<double>::Identity(3, 3), Vector<double>::Zero(3)});
  Dataset<double> d;
  d.inputs = testing::matrix({{0.9, 0.1, 0.2, 0.3}, {0.05, 0.8, 0.7, 0.3}, {0.05, 0.1, 0.1, 0.3}});
  d.labels = {0, 1, 2, 0};  // right, right, wrong, tie → first largest (0): right
  d.targets = one_hot(d.labels, 3);
  const auto e = evaluate(net, d, /*chunk=*/3);
  EXPECT_EQ(e.correct, 3);
  EXPECT_EQ(e.samples, 4);
  EXPECT_DOUBLE_EQ(e.accuracy, 0.75);
  const auto per_sample = sample_losses(net, forward(net, d.inputs), d.targets);
  EXPECT_NEAR(e.loss, per_sample.mean(), 1e-15);
  // Without labels the truth is the argmax of the targets.
  d.labels.clear();
  EXPECT_EQ(evaluate(net, d).correct, 3);
  // A NaN output is never right.
  d.inputs(0, 0) = std::nan("");
  EXPECT_EQ(evaluate(net, d).correct, 2);
}

TEST(Evaluate, ThresholdsASingleSigmoidOutputAtOneHalf) {
  Network<double> net;
  net.loss = Loss::binary_cross_entropy;
  net.layers.push_back({Activation::sigmoid, testing::matrix({{1.0}}), testing::vector({0.0})});
  Dataset<double> d;
  d.inputs = testing::matrix({{2.0, -2.0, 0.0, -0.1}});  // σ: 0.88, 0.12, 0.5, 0.475
  d.targets = testing::matrix({{1, 0, 1, 1}});
  d.labels = {1, 0, 1, 1};
  EXPECT_EQ(evaluate(net, d).correct, 3);
}

TEST(TrainerInput, RejectsUnusableOptionsAndMismatchedData) {
  const auto data = small_set(4, 33);
  auto net = small_net(34);
  auto opt = options(Optimizer::sgd, 0.1, 0, 1);
  EXPECT_EQ(input_error_of([&] { train(net, data, opt); }), "batch_size: is 0, expected at least 1");
  opt = options(Optimizer::sgd, std::nan(""), 1, 1);
  EXPECT_EQ(input_error_of([&] { train(net, data, opt); }), "learning_rate: is nan, expected a finite number > 0");
  opt = options(Optimizer::adam, 0.1, 1, 1);
  opt.beta2 = 1.0;
  EXPECT_EQ(input_error_of([&] { train(net, data, opt); }), "beta2: is 1.000000, expected 0 <= beta2 < 1");
  Dataset<double> wide = data;
  wide.inputs = Matrix<double>::Zero(5, 4);
  EXPECT_EQ(input_error_of([&] { train(net, wide, options(Optimizer::sgd, 0.1, 1, 1)); }),
            "training.inputs: has 5 features, the network takes 3");
  EXPECT_EQ(input_error_of([&] { evaluate(net, wide); }), "dataset.inputs: has 5 features, the network takes 3");
  Trainer<double> trainer(net, options(Optimizer::sgd, 0.1, 1, 1));
  EXPECT_EQ(input_error_of([&] { trainer.step(data, {0, 4}); }), "samples[1]: is 4, expected 0..3");
  EXPECT_EQ(trainer.steps_taken(), 0);
  EXPECT_FALSE(parse_optimizer("rmsprop").has_value());
  for (Optimizer o : all_optimizers) EXPECT_EQ(parse_optimizer(to_string(o)), o);
}

// Byte-coded inputs (Dataset::bytes, what idx::load_bytes gives): random
// pixel bytes through the b / 255 table, and the matrix they decode to.
Dataset<double> byte_set(Index n, std::uint64_t seed) {
  Rng r(seed);
  Dataset<double> d;
  d.bytes = ByteInputs<double>{6, n, {}, {}};
  for (int b = 0; b < 256; ++b) d.bytes->value[static_cast<std::size_t>(b)] = b / 255.0;
  for (Index i = 0; i < 6 * n; ++i) d.bytes->codes.push_back(static_cast<std::uint8_t>(r.below(256)));
  for (Index c = 0; c < n; ++c) d.labels.push_back(d.bytes->codes[static_cast<std::size_t>(6 * c)] > 127 ? 1 : 0);
  d.targets = one_hot(d.labels, 2);
  return d;
}

TEST(Trainer, InputsKeptAsBytesTrainAndEvaluateExactlyAsTheirDecodedMatrix) {
  const Dataset<double> bytes = byte_set(100, 5);
  Dataset<double> dense = bytes;
  dense.inputs = bytes.dense_inputs();
  dense.bytes.reset();
  EXPECT_EQ(dense.inputs(2, 7), bytes.bytes->codes[7 * 6 + 2] / 255.0);
  EXPECT_EQ(bytes.size(), 100);
  EXPECT_EQ(bytes.features(), 6);
  const auto net0 = make_network({6, 5, 2}, Activation::relu, Activation::softmax, Loss::cross_entropy,
                                 Init::he, 3);
  Network<double> a = net0, b = net0;
  const auto opt = options(Optimizer::sgd, 0.5, 10, 2);
  const History ha = train(a, bytes, opt, &bytes), hb = train(b, dense, opt, &dense);
  EXPECT_TRUE(bitwise_equal(a, b));
  ASSERT_EQ(ha.epochs.size(), 2u);
  EXPECT_EQ(ha.epochs[1].train_loss, hb.epochs[1].train_loss);
  EXPECT_EQ(ha.epochs[1].test->loss, hb.epochs[1].test->loss);
  EXPECT_FALSE(bitwise_equal(a, net0));  // it trained
  // A slice keeps the bytes and decodes to the same columns.
  const Dataset<double> part = bytes.slice(10, 30);
  ASSERT_TRUE(part.bytes.has_value());
  EXPECT_EQ(part.size(), 20);
  EXPECT_EQ(part.dense_inputs(), dense.inputs.middleCols(10, 20));
  EXPECT_EQ(part.labels, std::vector<int>(dense.labels.begin() + 10, dense.labels.begin() + 30));
}

}  // namespace
}  // namespace gradcheck
