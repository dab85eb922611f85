// `gradcheck train` end to end: short runs on Fashion-MNIST (--limit), their exit
// codes and report files; bad input refused with exit 2; SIGINT during training
// stops after the step and writes the partial report, saying so.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const std::string fashion = "/usr/share/datasets/fashion-mnist/";

bool have_fashion() { return fs::exists(fashion + "train-images-idx3-ubyte.gz"); }

// The gradcheck executable: GRADCHECK_CLI_PATH when the build defines it, else
// next to this test binary (both are built into build/cli/).
std::string gradcheck_path() {
#ifdef GRADCHECK_CLI_PATH
  return GRADCHECK_CLI_PATH;
#else
  return (fs::read_symlink("/proc/self/exe").parent_path() / "gradcheck").string();
#endif
}

struct Outcome {
  int exit_code = -1;  // the exit status, or 128 + signal if killed
  std::string out, err;
};

// Runs gradcheck with `args`, reading its stdout line by line; `on_line` may
// signal the child (it gets the pid). stderr goes to a temporary file.
Outcome run(const std::vector<std::string>& args, const std::function<void(const std::string&, pid_t)>& on_line = {}) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) std::abort();
  char err_name[] = "/tmp/gradcheck-train-cli-XXXXXX";
  const int err_fd = mkstemp(err_name);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    close(out_pipe[0]);
    close(out_pipe[1]);
    std::vector<std::string> all = {gradcheck_path(), "train"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  Outcome r;
  std::string line;
  char buf[4096];
  for (ssize_t n; (n = read(out_pipe[0], buf, sizeof buf)) > 0;) {
    for (ssize_t i = 0; i < n; ++i) {
      r.out += buf[i];
      if (buf[i] == '\n') {
        if (on_line) on_line(line, pid);
        line.clear();
      } else {
        line += buf[i];
      }
    }
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream err(err_name);
  std::stringstream ss;
  ss << err.rdbuf();
  r.err = ss.str();
  close(err_fd);
  unlink(err_name);
  return r;
}

std::vector<std::string> data_args(const std::string& limit = "1000") {
  return {"--idx-images", fashion + "train-images-idx3-ubyte.gz", "--idx-labels", fashion + "train-labels-idx1-ubyte.gz",
          "--test-images", fashion + "t10k-images-idx3-ubyte.gz", "--test-labels", fashion + "t10k-labels-idx1-ubyte.gz",
          "--limit", limit, "--test-limit", "500", "--progress", "lines"};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("gradcheck-train-cli-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  return d;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TrainCli, AShortHealthyRunExitsZeroAndWritesEveryReportFile) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const fs::path dir = fresh_dir("healthy");
  const Outcome r = run(data_args() + std::vector<std::string>{"--net", "784-30-10", "--activation", "relu", "--loss",
                                                           "cross_entropy", "--init", "he", "--lr", "0.05", "--epochs",
                                                           "2", "--report", dir.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("epoch 1/2: train loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 2/2: train loss"), std::string::npos) << r.out;
  for (const char* f : {"report.json", "report.md", "report.html", "junit.xml"}) EXPECT_TRUE(fs::exists(dir / f)) << f;
  const auto j = read_json(dir / "report.json");
  EXPECT_EQ(j.at("interrupted"), false);
  ASSERT_EQ(j.at("results").size(), 1u);
  const auto& t = j.at("results")[0];
  EXPECT_EQ(t.at("type"), "training");
  EXPECT_EQ(t.at("steps_seen"), 200) << "1000 images, batch 10, 2 epochs";
  EXPECT_EQ(t.at("epochs").size(), 2u);
  EXPECT_GT(t.at("epochs")[1].at("test").at("accuracy").get<double>(), 0.5);
  for (const auto& f : t.at("findings")) EXPECT_EQ(f.at("severity"), "info") << f.dump();
  const std::string md = read_text(dir / "report.md");
  EXPECT_NE(md.find("Training"), std::string::npos);
  fs::remove_all(dir);
}

TEST(TrainCli, TrainsALenet5OnTheImagesOwnShape) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const fs::path dir = fresh_dir("lenet5");
  const Outcome r = run(data_args("600") + std::vector<std::string>{"--net", "lenet5", "--activation", "relu", "--loss",
                                                                "cross_entropy", "--init", "he", "--lr", "0.05",
                                                                "--batch", "32", "--epochs", "2", "--report",
                                                                dir.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("gradcheck train: lenet5 relu/softmax"), std::string::npos) << r.out;
  const auto j = read_json(dir / "report.json");
  const auto& t = j.at("results")[0];
  EXPECT_EQ(t.at("steps_seen"), 2 * 19) << "600 images in batches of 32: 19 steps an epoch";
  const auto& layers = t.at("steps")[0].at("layers");
  ASSERT_EQ(layers.size(), 7u);
  EXPECT_GT(layers[0].at("weight_norm").get<double>(), 0.0);
  EXPECT_EQ(layers[1].at("weight_norm").get<double>(), 0.0) << "max pooling has no parameters";
  EXPECT_GT(t.at("epochs")[1].at("test").at("accuracy").get<double>(), 0.3) << "chance is 0.1";
  const std::string html = read_text(dir / "report.html");  // the per-layer table and charts
  EXPECT_NE(html.find("layer 0 (conv2d, relu)"), std::string::npos);
  EXPECT_NE(html.find("layer 1 (max_pool)"), std::string::npos);
  EXPECT_NE(html.find("layer 4 (relu)"), std::string::npos);
  fs::remove_all(dir);
}

// The option names of the issue, exactly: --idx-images --idx-labels --test-images
// --test-labels --net --activation --loss --init --lr --batch --epochs --momentum
// --optimizer --seed --report; each one's value must show in what ran.
TEST(TrainCli, TheIssuesOptionNamesWorkAndEachTakesEffect) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const auto common = [](const std::string& seed, const fs::path& dir, const std::string& batch = "10") {
    return std::vector<std::string>{"--idx-images", fashion + "train-images-idx3-ubyte.gz", "--idx-labels",
                                    fashion + "train-labels-idx1-ubyte.gz", "--test-images",
                                    fashion + "t10k-images-idx3-ubyte.gz", "--test-labels",
                                    fashion + "t10k-labels-idx1-ubyte.gz", "--net", "784-30-10", "--activation",
                                    "sigmoid", "--loss", "quadratic", "--init", "gaussian", "--lr", "3.0", "--batch",
                                    batch, "--epochs", "2", "--seed", seed, "--report", dir.string(), "--limit", "600",
                                    "--test-limit", "300"};
  };
  const fs::path d1 = fresh_dir("names1"), d2 = fresh_dir("names2"), d3 = fresh_dir("names3");
  Outcome r = run(common("7", d1) + std::vector<std::string>{"--momentum", "0.5", "--optimizer", "sgd"});
  ASSERT_NE(r.exit_code, 2) << r.err;
  EXPECT_NE(r.out.find("gradcheck train: 784-30-10 sigmoid/sigmoid, quadratic loss, gaussian init, momentum η = 3, "
                       "batch 10, 2 epochs on 600 images (test: 300)"),
            std::string::npos)
      << r.out;
  const auto j1 = read_json(d1 / "report.json");
  EXPECT_EQ(j1.at("facts").at("optimiser"), "momentum, η = 3, μ = 0.5");
  EXPECT_EQ(j1.at("facts").at("initialisation"), "gaussian, seed 7");
  EXPECT_EQ(j1.at("facts").at("batch, epochs"), "10, 2");
  const auto& t1 = j1.at("results")[0];
  EXPECT_EQ(t1.at("steps_seen"), 120) << "600 images in batches of 10, 2 epochs";
  ASSERT_EQ(t1.at("epochs").size(), 2u);
  EXPECT_EQ(t1.at("epochs")[1].at("test").at("samples"), 300);

  // Adam, another batch size and seed.
  r = run(common("3", d2, "20") + std::vector<std::string>{"--optimizer", "adam"});
  ASSERT_NE(r.exit_code, 2) << r.err;
  const auto j2 = read_json(d2 / "report.json");
  EXPECT_EQ(j2.at("facts").at("optimiser"), "adam, η = 3");
  EXPECT_EQ(j2.at("results")[0].at("steps_seen"), 60) << "600 images in batches of 20, 2 epochs";

  // --seed: the same seed reproduces the run exactly, another one does not.
  r = run(common("7", d3) + std::vector<std::string>{"--momentum", "0.5", "--optimizer", "sgd"});
  const auto j3 = read_json(d3 / "report.json");
  const auto loss = [](const nlohmann::json& j, int e) { return j.at("results")[0].at("epochs")[e].at("train_loss"); };
  EXPECT_EQ(loss(j1, 1), loss(j3, 1));
  EXPECT_EQ(j1.at("results")[0].at("epochs")[1].at("test"), j3.at("results")[0].at("epochs")[1].at("test"));
  const fs::path d4 = fresh_dir("names4");
  r = run(common("8", d4) + std::vector<std::string>{"--momentum", "0.5", "--optimizer", "sgd"});
  EXPECT_NE(loss(j1, 1), loss(read_json(d4 / "report.json"), 1));
  for (const auto& d : {d1, d2, d3, d4}) fs::remove_all(d);
}

// The report holds the loss and accuracy curves, the norms per layer and the
// findings, in every format.
TEST(TrainCli, TheReportHasCurvesNormsPerLayerAndFindings) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const fs::path dir = fresh_dir("contents");
  const Outcome r = run(data_args("600") + std::vector<std::string>{"--epochs", "2", "--report", dir.string()});
  ASSERT_NE(r.exit_code, 2) << r.err;
  const auto j = read_json(dir / "report.json");
  const auto& t = j.at("results")[0];
  ASSERT_EQ(t.at("steps").size(), 120u);
  ASSERT_EQ(t.at("steps")[0].at("layers").size(), 2u);
  for (const char* k : {"activation_norm", "gradient_norm", "weight_norm", "update_ratio", "saturated_fraction"})
    EXPECT_TRUE(t.at("steps")[5].at("layers")[1].at(k).is_number()) << k;
  EXPECT_TRUE(t.at("epochs")[1].at("test").at("accuracy").is_number());
  ASSERT_FALSE(t.at("findings").empty()) << "N(0, 1) sigmoid on raw pixels saturates";
  for (const auto& f : t.at("findings")) {
    EXPECT_FALSE(f.at("fix").get<std::string>().empty());
    EXPECT_FALSE(f.at("evidence").empty());
  }
  const std::string html = read_text(dir / "report.html"), md = read_text(dir / "report.md");
  // The curves are charts in report.html; report.md (text) has the per-layer table and the findings.
  for (const char* title : {"Training loss", "Test accuracy", "Weight norm per layer", "Gradient norm per layer",
                            "Activation norm per layer", "Update/weight ratio per layer"})
    EXPECT_NE(html.find(title), std::string::npos) << title;
  EXPECT_NE(md.find("| 1 | layer 1 (sigmoid) |"), std::string::npos) << md;
  EXPECT_NE(md.find("**Findings, with their evidence**"), std::string::npos) << md;
  const std::string junit = read_text(dir / "junit.xml");
  EXPECT_NE(junit.find("<testcase classname=\"training\" name=\"run\""), std::string::npos) << junit;
  for (const auto& f : t.at("findings"))
    EXPECT_NE(junit.find("<testcase classname=\"training\" name=\"" + f.at("kind").get<std::string>()),
              std::string::npos)
        << f.at("kind");
  fs::remove_all(dir);
}

// A progress bar on a terminal (a pseudo-terminal here), plain lines otherwise:
// --progress auto decides by isatty(stdout) and the CI variable.
TEST(TrainCli, ShowsAProgressBarOnATerminalAndPlainLinesInAPipeOrUnderCI) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  std::vector<std::string> args = {gradcheck_path(), "train", "--idx-images", fashion + "train-images-idx3-ubyte.gz",
                                   "--idx-labels", fashion + "train-labels-idx1-ubyte.gz", "--limit", "500",
                                   "--epochs", "2"};
  // Runs the command on a pseudo-terminal, with CI set to `ci` (nullptr: unset).
  const auto on_terminal = [&args](const char* ci) {
    int master = -1;
    const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
    if (pid < 0) return std::string("forkpty failed");
    if (pid == 0) {
      if (ci) setenv("CI", ci, 1);
      else unsetenv("CI");
      setenv("TERM", "xterm", 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) out.append(buf, static_cast<std::size_t>(n));
      else if (n < 0 && errno == EINTR) continue;
      else break;  // EIO: the child closed the terminal
    }
    close(master);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : "exit status " + std::to_string(status) + ": " + out;
  };
  const std::string tty = on_terminal(nullptr);
  EXPECT_NE(tty.find("\r  epoch 1/2 [##############################] 100%  step 49"), std::string::npos) << tty;
  EXPECT_NE(tty.find("\r\033[K  epoch 1/2: train loss"), std::string::npos) << "the bar is erased by the epoch's line";
  EXPECT_NE(tty.find("\r\033[K  epoch 2/2: train loss"), std::string::npos) << tty;

  // The same command into a pipe (as in CI): no bar, no control characters.
  const Outcome r = run({"--idx-images", fashion + "train-images-idx3-ubyte.gz", "--idx-labels",
                         fashion + "train-labels-idx1-ubyte.gz", "--limit", "500", "--epochs", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\033'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n  epoch 1/2: train loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n  epoch 2/2: train loss"), std::string::npos) << r.out;
  // ... and a plain line every tenth of an epoch (50 steps: every 5th), none at 100 %.
  EXPECT_NE(r.out.find("\n  10 % of epoch 1 (step 4), batch loss "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n  90 % of epoch 2 (step 94), batch loss "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("100 % of epoch"), std::string::npos) << r.out;
  EXPECT_EQ(tty.find("% of epoch"), std::string::npos) << "a terminal gets the bar, not the lines";

  // A CI runner's pseudo-terminal (CI set): plain lines, no bar.
  const std::string ci = on_terminal("true");
  EXPECT_EQ(ci.find("\033"), std::string::npos) << ci;
  EXPECT_NE(ci.find("  10 % of epoch 1 (step 4), batch loss "), std::string::npos) << ci;
  EXPECT_NE(ci.find("  epoch 2/2: train loss"), std::string::npos) << ci;
}

TEST(TrainCli, MisreadBytesExitOneAndTheSignatureIsNamed) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const fs::path dir = fresh_dir("signed");
  const Outcome r = run(data_args() + std::vector<std::string>{"--byte-reading", "signed-char", "--report", dir.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("pixel bytes were read as signed char"), std::string::npos) << r.out;
  const auto j = read_json(dir / "report.json");
  EXPECT_EQ(j.at("status"), "fail");
  EXPECT_EQ(j.at("results")[0].at("findings")[0].at("kind"), "signed-bytes");
  EXPECT_EQ(j.at("results")[0].at("inputs").at("signed_bytes"), true);
  fs::remove_all(dir);
}

TEST(TrainCli, AFirstNaNExitsOneWithItsProducer) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const Outcome r = run(data_args("500") + std::vector<std::string>{"--net", "784-30-10", "--activation", "relu", "--loss",
                                                                "cross_entropy", "--init", "gaussian", "--lr", "1",
                                                                "--naive-softmax"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("exp overflow in softmax"), std::string::npos) << r.out;
}

TEST(TrainCli, BadInputIsRefusedWithExitTwoBeforeAnythingIsAllocated) {
  const std::vector<std::string> data = {"--idx-images", fashion + "train-images-idx3-ubyte.gz", "--idx-labels",
                                         fashion + "train-labels-idx1-ubyte.gz"};
  Outcome r = run(data + std::vector<std::string>{"--net", "784-1000000000-10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradcheck: --net: layer size 1000000000 (entry 1) is outside 1..1048576 (docs/limits.md)\n");
  // Refused before the data is opened: with no data at all, the --net error is still the one.
  r = run({"--idx-images", "/nonexistent/images.gz", "--idx-labels", "/nonexistent/labels.gz", "--net",
           "784-1000000000-10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradcheck: --net: layer size 1000000000 (entry 1) is outside 1..1048576 (docs/limits.md)\n");
  r = run(data + std::vector<std::string>{"--net", "784-100000-10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has 79500010 parameters, more than the limit of 33554432"), std::string::npos) << r.err;
  r = run(data + std::vector<std::string>{"--net", "784-30x-10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--net: \"784-30x-10\": entry 1 (\"30x\") is not a layer"), std::string::npos) << r.err;
  r = run({"--idx-images", "/nonexistent/images.gz", "--idx-labels", "/nonexistent/labels.gz"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradcheck: /nonexistent/images.gz: cannot open: No such file or directory\n");
  r = run(data + std::vector<std::string>{"--activation", "swish"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--activation: \"swish\" is not one of"), std::string::npos) << r.err;
  r = run(data + std::vector<std::string>{"--momentum", "0.9", "--optimizer", "adam"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--momentum: applies to --optimizer sgd or momentum, not adam"), std::string::npos) << r.err;
  if (!have_fashion()) return;
  r = run(data + std::vector<std::string>{"--net", "100-10", "--limit", "10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("images: hold 784 pixels per image, the network takes 100 inputs (--net 100-10)"),
            std::string::npos)
      << r.err;
}

struct Interrupted {
  Outcome outcome;
  bool sent = false;  // whether `when` appeared, and with it the signal was sent
};

// Trains on `limit` images for up to 1000 epochs with --report `dir`, and sends
// `sig` once, on the first stdout line that contains `when`.
Interrupted interrupted_run(const std::string& limit, const fs::path& dir, int sig, const std::string& when) {
  Interrupted r;
  r.outcome = run(data_args(limit) + std::vector<std::string>{"--epochs", "1000", "--report", dir.string()},
                  [&](const std::string& line, pid_t pid) {
                    if (!r.sent && line.find(when) != std::string::npos) {
                      kill(pid, sig);
                      r.sent = true;
                    }
                  });
  return r;
}

TEST(TrainCli, SigintStopsAfterTheStepAndWritesThePartialReportSayingSo) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const fs::path dir = fresh_dir("sigint");
  const auto [r, sent] = interrupted_run("2000", dir, SIGINT, "epoch 2/1000");
  ASSERT_TRUE(sent) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 130) << r.out << r.err;
  EXPECT_NE(r.out.find("interrupted by SIGINT after "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("partial report written to " + dir.string()), std::string::npos) << r.out;
  const auto j = read_json(dir / "report.json");
  EXPECT_EQ(j.at("interrupted"), true);
  EXPECT_EQ(j.at("interrupted_by"), "SIGINT");
  const auto& t = j.at("results")[0];
  const int steps = t.at("steps_seen");
  EXPECT_GE(steps, 400) << "two epochs of 200 steps were done";
  EXPECT_LT(steps, 200 * 1000);
  EXPECT_GE(t.at("epochs").size(), 2u);
  EXPECT_NE(read_text(dir / "report.md").find("interrupted"), std::string::npos);
  EXPECT_NE(read_text(dir / "report.html").find("interrupted"), std::string::npos);
  fs::remove_all(dir);
}

TEST(TrainCli, SigtermLikewiseWritesThePartialReport) {
  if (!have_fashion()) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  const fs::path dir = fresh_dir("sigterm");
  const auto [r, sent] = interrupted_run("1000", dir, SIGTERM, "epoch 1/1000");
  ASSERT_TRUE(sent) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 143) << r.out << r.err;
  const auto j = read_json(dir / "report.json");
  EXPECT_EQ(j.at("interrupted_by"), "SIGTERM");
  EXPECT_GE(j.at("results")[0].at("steps_seen").get<int>(), 100);
  fs::remove_all(dir);
}

}  // namespace
