// `gradcheck train`: trains a network on IDX data (MNIST, Fashion-MNIST) with
// the training watch on, prints what it found, and writes a report.
//
// Exit codes: 0 the watch found nothing of error severity (warnings allowed);
// 1 it did (the first non-finite value, divergence, signed bytes, non-finite
// inputs); 2 bad input (missing or malformed files, a network over the limits,
// an image size the network does not take); 130 / 143 interrupted by SIGINT /
// SIGTERM (the partial report is written first). See docs/cli.md.
#include "commands.hpp"

#include <gradcheck/watch/watch.hpp>
#include <gradcheck/engine/architecture.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/idx.hpp>
#include <gradcheck/engine/init.hpp>
#include <gradcheck/engine/trainer.hpp>
#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/text.hpp>
#include <gradcheck/reports/train_section.hpp>
#include <gradcheck/reports/write.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gradcheck::cli {
namespace {

namespace w = gradcheck::watch;

// Networks larger than this are refused before anything is allocated: 2^25
// parameters are 256 MiB per copy in double, and training keeps up to four
// copies (parameters, gradients, Adam's two moments). docs/cli.md.
constexpr std::int64_t max_parameters = std::int64_t{1} << 25;

constexpr int exit_interrupted_sigint = 130;   // 128 + SIGINT, the shell's convention
constexpr int exit_interrupted_sigterm = 143;  // 128 + SIGTERM

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
  g_signal = sig;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

struct TrainArgs {
  std::string images, labels, test_images, test_labels;
  std::string net = "784-30-10";
  std::string activation = "sigmoid";
  std::string output;  // default: softmax for cross_entropy, else sigmoid
  std::string loss = "quadratic";
  std::string init = "gaussian";
  std::string optimizer = "sgd";
  double lr = 3.0;
  double momentum = 0.9;
  double clip = 0;
  Index batch = 10;
  int epochs = 1;
  std::uint64_t seed = 0;
  std::string byte_reading = "unsigned";
  std::string test_byte_reading;  // default: --byte-reading
  Index limit = -1;
  Index test_limit = -1;
  std::string watch = "step";
  std::string progress = "auto";
  std::string report;
  bool naive_softmax = false;
  bool naive_cross_entropy = false;
};

// The architecture of --net (docs/training.md, "Architectures"). A spec whose
// first layer reads images without stating their shape takes the training
// images' (their IDX header only is read here; the data come later).
Architecture parse_net(const TrainArgs& a) {
  ImageShape image;
  if (reads_data_image(a.net)) {
    const idx::Array header = idx::read_header(a.images);
    if (header.dims.size() == 3 && std::uint64_t{header.dims[1]} * header.dims[2] <= std::uint64_t(max_layer_width))
      image = {1, static_cast<Index>(header.dims[1]), static_cast<Index>(header.dims[2])};
  }
  return parse_architecture(a.net, image, "--net", max_parameters);
}

idx::ByteReading parse_reading(const std::string& s, const char* option) {
  if (s == "unsigned") return idx::ByteReading::unsigned_bytes;
  if (s == "signed-char") return idx::ByteReading::signed_char;
  throw InputError("", option, "\"" + s + "\" is not one of unsigned, signed-char");
}

template <class T, class Parse>
T parse_name(const std::string& s, const char* option, Parse parse, const char* choices) {
  const auto v = parse(s);
  if (!v) throw InputError("", option, "\"" + s + "\" is not one of " + choices);
  return *v;
}

// A progress bar on a terminal; otherwise plain lines: every tenth of an epoch and one per epoch.
class Progress {
 public:
  Progress(bool bar, int epochs, Index steps_per_epoch)
      : bar_(bar), epochs_(epochs), per_epoch_(std::max<Index>(steps_per_epoch, 1)) {}

  void step(const Step<double>& s) {
    if (!bar_) {
      // Plain lines (CI logs): one every tenth of an epoch, so that a long epoch
      // shows it is alive; none for short epochs, whose own line comes soon.
      if (per_epoch_ < 20) return;
      const Index tenth = per_epoch_ / 10, done = s.batch + 1;
      if (done % tenth != 0 || done / tenth >= 10) return;
      std::printf("  %ld0 %% of epoch %d (step %ld), batch loss %.4g\n", static_cast<long>(done / tenth), s.epoch + 1,
                  static_cast<long>(s.step), s.loss);
      std::fflush(stdout);
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100) && s.batch + 1 != per_epoch_) return;
    last_ = now;
    const double done = static_cast<double>(s.batch + 1) / static_cast<double>(per_epoch_);
    const int width = 30, filled = static_cast<int>(done * width);
    std::fprintf(stdout, "\r  epoch %d/%d [%s%s] %3.0f%%  step %ld  loss %.4g ", s.epoch + 1, epochs_,
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), '.').c_str(), 100 * done,
                 static_cast<long>(s.step), s.loss);
    std::fflush(stdout);
    open_ = true;
  }

  void epoch(const EpochRecord& r) {
    end_line();
    std::printf("  epoch %d/%d: train loss %.6g", r.epoch + 1, epochs_, r.train_loss);
    if (r.test) std::printf(", test loss %.6g, test accuracy %.2f %%", r.test->loss, 100 * r.test->accuracy);
    std::printf(" (%.2f s)\n", r.seconds);
    std::fflush(stdout);
  }

  // A terminal's bar is erased (ANSI "erase line"): the epoch's line replaces it.
  void end_line() {
    if (open_) std::printf("\r\033[K");
    open_ = false;
  }

 private:
  bool bar_;
  int epochs_;
  Index per_epoch_;
  bool open_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// What the arguments settle before any data is read.
struct Settings {
  Architecture net;
  Activation hidden = Activation::sigmoid, output = Activation::sigmoid;
  Loss loss = Loss::quadratic;
  Init init = Init::gaussian;
  Optimizer optimizer = Optimizer::sgd;
  idx::ByteReading reading = idx::ByteReading::unsigned_bytes, test_reading = idx::ByteReading::unsigned_bytes;
};

// Everything that can be refused is refused before data is read or memory allocated.
Settings parse_settings(const TrainArgs& a, bool momentum_given, bool optimizer_given) {
  Settings s;
  s.net = parse_net(a);
  s.hidden = parse_name<Activation>(a.activation, "--activation", parse_activation,
                                    "identity, sigmoid, tanh, relu, leaky_relu");
  if (s.hidden == Activation::softmax)
    throw InputError("", "--activation", "softmax is only for the output layer (--output)");
  s.loss = parse_name<Loss>(a.loss, "--loss", parse_loss, "quadratic, cross_entropy, binary_cross_entropy");
  s.output = a.output.empty() ? (s.loss == Loss::cross_entropy ? Activation::softmax : Activation::sigmoid)
                              : parse_name<Activation>(a.output, "--output", parse_activation,
                                                       "identity, sigmoid, tanh, relu, leaky_relu, softmax");
  s.init = parse_name<Init>(a.init, "--init", parse_init, "gaussian, xavier, he");
  s.optimizer = parse_name<Optimizer>(a.optimizer, "--optimizer", parse_optimizer, "sgd, momentum, adam");
  // --momentum turns plain SGD into SGD with momentum (`--optimizer sgd --momentum 0.9`,
  // as the issue and most texts write it); Adam has its own β₁, so there it is an error.
  if (momentum_given && (!optimizer_given || s.optimizer == Optimizer::sgd)) s.optimizer = Optimizer::momentum;
  if (momentum_given && s.optimizer != Optimizer::momentum)
    throw InputError("", "--momentum", "applies to --optimizer sgd or momentum, not adam (Adam's β₁ plays its part)");
  s.reading = parse_reading(a.byte_reading, "--byte-reading");
  s.test_reading = a.test_byte_reading.empty() ? s.reading : parse_reading(a.test_byte_reading, "--test-byte-reading");
  if (a.watch != "step" && a.watch != "epoch") throw InputError("", "--watch", "\"" + a.watch + "\" is not one of step, epoch");
  if (a.test_images.empty() != a.test_labels.empty())
    throw InputError("", a.test_images.empty() ? "--test-images" : "--test-labels",
                     "is missing: give --test-images and --test-labels together");
  return s;
}

TrainOptions train_options(const TrainArgs& a, Optimizer optimizer) {
  TrainOptions opt;
  opt.optimizer = optimizer;
  opt.learning_rate = a.lr;
  opt.batch_size = a.batch;
  opt.epochs = a.epochs;
  opt.momentum = a.momentum;
  opt.seed = a.seed;
  opt.clip_norm = a.clip;
  validate(opt);
  return opt;
}

struct Data {
  Dataset<double> training;
  std::optional<Dataset<double>> test;
};

// The training set, and the test set when given; refused when their images do not fit the network.
Data load_data(const TrainArgs& a, const Settings& s, const Network<double>& net) {
  const int classes = static_cast<int>(std::max<Index>(net.output_size(), 2));
  Data d;
  // The test set loads on a second thread meanwhile; the training set's errors
  // come first (the future's destructor waits for it and drops its error).
  std::future<Dataset<double>> test;
  if (!a.test_images.empty())
    test = std::async(std::launch::async,
                      [&] { return idx::load_bytes(a.test_images, a.test_labels, s.test_reading, a.test_limit, classes); });
  d.training = idx::load_bytes(a.images, a.labels, s.reading, a.limit, classes);
  if (d.training.features() != net.input_size())
    throw InputError(a.images, "images",
                     "hold " + std::to_string(d.training.features()) + " pixels per image, the network takes " +
                         std::to_string(net.input_size()) + " inputs (--net " + a.net + ")");
  if (d.training.size() == 0) throw InputError(a.images, "images", "hold no image (after --limit)");
  if (test.valid()) {
    d.test = test.get();
    if (d.test->features() != net.input_size())
      throw InputError(a.test_images, "images",
                       "hold " + std::to_string(d.test->features()) + " pixels per image, the network takes " +
                           std::to_string(net.input_size()) + " inputs (--net " + a.net + ")");
  }
  return d;
}

w::Options watch_options(const TrainArgs& a, Index per_epoch) {
  w::Options wo;
  wo.cadence = a.watch == "epoch" ? w::Cadence::epoch : w::Cadence::step;
  wo.stats_every = a.watch == "epoch" ? 10 : 1;
  wo.loss_window = std::clamp<Index>(per_epoch / 20, 1, 100);
  if (a.naive_softmax) wo.numerics.softmax = w::SoftmaxForm::naive;
  if (a.naive_cross_entropy) wo.numerics.cross_entropy = w::CrossEntropyForm::from_outputs;
  return wo;
}

// auto: a bar only on a real terminal; CI runners that allocate a pseudo-terminal
// set CI (GitHub, GitLab, Travis, ...), and a dumb terminal cannot redraw a line.
bool progress_bar(const TrainArgs& a) {
  const char* ci = std::getenv("CI");
  const char* term = std::getenv("TERM");
  return a.progress == "bar" ||
         (a.progress == "auto" && isatty(STDOUT_FILENO) && !(ci && *ci) && !(term && std::string(term) == "dumb"));
}

// Trains with the watch and the progress display until done or until SIGINT / SIGTERM.
History train_until_signal(Network<double>& net, const TrainOptions& opt, w::Watch& watch, Progress& progress,
                           const Data& d) {
  Callbacks<double> ours;
  ours.after_update = [&progress](const Step<double>& s) {
    progress.step(s);
    return g_signal ? Control::stop : Control::proceed;
  };
  ours.epoch_end = [&progress](const EpochRecord& r) {
    progress.epoch(r);
    return g_signal ? Control::stop : Control::proceed;
  };
  ours.weight_gradients = false;  // progress reads none: SGD keeps its fused W −= η δ aᵀ

  g_signal = 0;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  History history;
  if (!g_signal) {
    Trainer<double> trainer(net, opt, watch.callbacks(ours));
    history = trainer.train(d.training, d.test ? &*d.test : nullptr);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  progress.end_line();
  return history;
}

// The report's facts: the command line and what it settled.
std::vector<std::pair<std::string, std::string>> facts(const TrainArgs& a, const Settings& s, const TrainOptions& opt,
                                                       const Data& d, const std::string& command_line) {
  return {
      {"command", command_line},
      {"training set", a.images + " (" + std::to_string(d.training.size()) + " images, " + a.byte_reading + ")"},
      {"test set", d.test ? a.test_images + " (" + std::to_string(d.test->size()) + " images)" : "none"},
      {"network", a.net + ", " + to_string(s.hidden) + " hidden, " + to_string(s.output) + " output"},
      {"loss", to_string(s.loss)},
      {"initialisation", std::string(to_string(s.init)) + ", seed " + std::to_string(a.seed)},
      {"optimiser", std::string(to_string(s.optimizer)) + ", η = " + reports::format_number(opt.learning_rate) +
                        (s.optimizer == Optimizer::momentum ? ", μ = " + reports::format_number(opt.momentum) : "") +
                        (opt.clip_norm > 0 ? ", clip " + reports::format_number(opt.clip_norm) : "")},
      {"batch, epochs", std::to_string(opt.batch_size) + ", " + std::to_string(opt.epochs)},
      {"watch", a.watch}};
}

int run_train(const TrainArgs& a, bool momentum_given, bool optimizer_given, const std::string& command_line) {
  const Settings s = parse_settings(a, momentum_given, optimizer_given);
  if (!a.report.empty()) reports::prepare_report_dir(a.report);
  const TrainOptions opt = train_options(a, s.optimizer);
  auto net = network_from(s.net, s.hidden, s.output, s.loss, s.init, a.seed);
  const Data d = load_data(a, s, net);
  const Dataset<double>& training = d.training;

  const Index per_epoch = (training.size() + std::min(opt.batch_size, training.size()) - 1) /
                          std::min(opt.batch_size, training.size());
  std::printf("gradcheck train: %s %s/%s, %s loss, %s init, %s η = %g, batch %ld, %d epoch%s on %ld images%s\n",
              a.net.c_str(), to_string(s.hidden), to_string(s.output), to_string(s.loss), to_string(s.init),
              to_string(s.optimizer), opt.learning_rate, static_cast<long>(opt.batch_size), opt.epochs,
              opt.epochs == 1 ? "" : "s", static_cast<long>(training.size()),
              d.test ? (" (test: " + std::to_string(d.test->size()) + ")").c_str() : "");

  w::Watch watch(watch_options(a, per_epoch), opt);
  // The input sanity scan reads the training bytes alone and nothing during
  // training reads its result: it runs on the second core beside the epochs.
  auto sanity = std::async(std::launch::async, [&training] { return w::check_inputs(training); });
  Progress progress(progress_bar(a), opt.epochs, per_epoch);
  const History history = train_until_signal(net, opt, watch, progress, d);
  watch.add_inputs(sanity.get());
  const int sig = g_signal;

  const w::Result result = watch.result();
  std::fputs(reports::render_watch_text(result).c_str(), stdout);
  const char* by = sig == SIGINT ? "SIGINT" : "SIGTERM";
  if (sig) std::printf("interrupted by %s after %ld steps: the results are partial\n", by, static_cast<long>(history.steps));
  if (!a.report.empty()) {
    reports::Report report;
    report.document.title = "gradcheck train " + a.net;
    report.document.facts.rows = facts(a, s, opt, d, command_line);
    reports::add(report, result);
    if (sig) report.mark_interrupted(by);
    reports::write_report(a.report, report);
    std::printf("%sreport written to %s\n", sig ? "partial " : "", a.report.c_str());
  }
  if (sig == SIGINT) return exit_interrupted_sigint;
  if (sig) return exit_interrupted_sigterm;
  return result.worst() == w::Severity::error ? exit_divergence : exit_ok;
}

}  // namespace

void add_train_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("train", "Train a network on IDX data with the training watch on");
  auto args = std::make_shared<TrainArgs>();
  cmd->add_option("--idx-images", args->images, "training images (IDX, gzip'd or plain)")->required();
  cmd->add_option("--idx-labels", args->labels, "training labels (IDX)")->required();
  cmd->add_option("--test-images", args->test_images, "test images, evaluated after every epoch");
  cmd->add_option("--test-labels", args->test_labels, "test labels");
  cmd->add_option("--net", args->net, "layers: 784-30-10, c6k5p2-m2-c16k5-m2-120-84-10 or lenet5 (docs/training.md)")
      ->capture_default_str();
  cmd->add_option("--activation", args->activation, "hidden layers: identity, sigmoid, tanh, relu, leaky_relu")
      ->capture_default_str();
  cmd->add_option("--output", args->output, "output layer (default: softmax for cross_entropy, else sigmoid)");
  cmd->add_option("--loss", args->loss, "quadratic, cross_entropy, binary_cross_entropy")->capture_default_str();
  cmd->add_option("--init", args->init, "gaussian (N(0,1)), xavier, he")->capture_default_str();
  cmd->add_option("--lr", args->lr, "learning rate η")->capture_default_str();
  cmd->add_option("--batch", args->batch, "mini-batch size (1: online)")->capture_default_str();
  cmd->add_option("--epochs", args->epochs, "passes over the training set")->capture_default_str();
  auto* momentum = cmd->add_option("--momentum", args->momentum, "momentum μ: SGD with momentum (not with adam)");
  auto* optimizer = cmd->add_option("--optimizer", args->optimizer, "sgd, momentum, adam")->capture_default_str();
  cmd->add_option("--clip", args->clip, "clip the gradient's global L2 norm to this (0: never)")->capture_default_str();
  cmd->add_option("--seed", args->seed, "initialisation and shuffle seed")->capture_default_str();
  cmd->add_option("--byte-reading", args->byte_reading, "unsigned (right) or signed-char (the classic bug)")
      ->capture_default_str();
  cmd->add_option("--test-byte-reading", args->test_byte_reading, "the test set's (default: --byte-reading)");
  cmd->add_option("--limit", args->limit, "keep the first N training images (-1: all)")->capture_default_str();
  cmd->add_option("--test-limit", args->test_limit, "keep the first N test images (-1: all)")->capture_default_str();
  cmd->add_option("--watch", args->watch, "step: statistics every step; epoch: every 10th, kept per epoch")
      ->capture_default_str();
  cmd->add_option("--progress", args->progress, "auto (a bar on a terminal, unless CI is set or TERM=dumb), bar, lines")->capture_default_str();
  cmd->add_flag("--naive-softmax", args->naive_softmax, "also watch for what a softmax without max subtraction would do");
  cmd->add_flag("--naive-cross-entropy", args->naive_cross_entropy, "also watch for −Σ y ln a computed from the outputs");
  cmd->add_option("--report", args->report, "write report.json, report.md, report.html and junit.xml here");
  cmd->callback([cmd, args, momentum, optimizer, &exit_code] {
    // The command line as given (for the report's facts), option by option.
    std::string line = "gradcheck train";
    for (const CLI::Option* o : cmd->get_options()) {
      if (o->count() == 0 || o->get_name() == "--help") continue;
      line += " " + o->get_name();
      if (o->get_items_expected_max() > 0)
        for (const std::string& v : o->results()) line += " " + v;
    }
    exit_code = run_train(*args, momentum->count() > 0, optimizer->count() > 0, line);
  });
}

}  // namespace gradcheck::cli
