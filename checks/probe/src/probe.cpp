// The probe (probe.hpp): generated cases over JSON lines, every reply verified,
// the first divergence shrunk.
#include <gradcheck/probe/probe.hpp>

#include "experiments.hpp"
#include "simpler_cases.hpp"

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/format.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace gradcheck {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t excerpt_bytes = 512;
constexpr std::size_t kept_notes = 5;
constexpr std::size_t kept_declined_messages = 5;
constexpr int generation_attempts = 200;  // discarded draws (RC_PRE) before a space counts as empty

std::string excerpt(const std::string& s) {
  if (s.size() <= excerpt_bytes) return s;
  return s.substr(0, excerpt_bytes) + "... (" + std::to_string(s.size()) + " bytes)";
}

bool bitwise_equal(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class M>
bool bitwise_equal(const M& a, const M& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index i = 0; i < a.size(); ++i)
    if (!bitwise_equal(a.data()[i], b.data()[i])) return false;
  return true;
}

bool bitwise_equal(const Reply& a, const Reply& b) {
  if (a.error != b.error || a.layers.size() != b.layers.size()) return false;
  for (std::size_t l = 0; l < a.layers.size(); ++l)
    if (!bitwise_equal(a.layers[l].weights, b.layers[l].weights) ||
        !bitwise_equal(a.layers[l].biases, b.layers[l].biases))
      return false;
  if (a.loss.has_value() != b.loss.has_value() || (a.loss && !bitwise_equal(*a.loss, *b.loss))) return false;
  if (a.outputs.has_value() != b.outputs.has_value() || (a.outputs && !bitwise_equal(*a.outputs, *b.outputs)))
    return false;
  return true;
}

// " (the second reply's gradients are 2 × the first's: ...)" when every
// gradient of `again` is one multiple k ≠ 1 of `first`'s (least squares, to
// 1e-9), else "".
std::string accumulation(const Reply& first, const Reply& again) {
  if (first.layers.size() != again.layers.size()) return "";
  double fa = 0, ff = 0, aa = 0;
  for (std::size_t l = 0; l < first.layers.size(); ++l) {
    const auto& x = first.layers[l];
    const auto& y = again.layers[l];
    if (x.weights.rows() != y.weights.rows() || x.weights.cols() != y.weights.cols() || x.biases.size() != y.biases.size())
      return "";
    fa += x.weights.cwiseProduct(y.weights).sum() + x.biases.dot(y.biases);
    ff += x.weights.squaredNorm() + x.biases.squaredNorm();
    aa += y.weights.squaredNorm() + y.biases.squaredNorm();
  }
  if (!(ff > 0) || !std::isfinite(fa) || !std::isfinite(aa)) return "";
  const double k = fa / ff;
  const double miss2 = std::max(0.0, aa - 2 * k * fa + k * k * ff);  // ‖again − k·first‖²
  if (std::sqrt(miss2) > 1e-9 * std::sqrt(aa) || std::abs(k - 1) <= 1e-9) return "";
  return " (the second reply's gradients are " + format_number(k, 8) + " × the first's" +
         (std::abs(k - std::round(k)) <= 1e-9 && k > 1
              ? ": gradients accumulated across calls, not zeroed between cases)"
              : ")");
}

FailureKind failure_kind(Exchange::Outcome o, const std::optional<ExitStatus>& exit) {
  switch (o) {
    case Exchange::Outcome::timeout: return FailureKind::timeout;
    case Exchange::Outcome::partial_line: return FailureKind::partial_line;
    case Exchange::Outcome::too_long: return FailureKind::reply_too_long;
    case Exchange::Outcome::write_failed: return FailureKind::stopped_reading;
    case Exchange::Outcome::eof:
      // Still running after closing stdout (we had to kill it) vs gone by itself.
      return exit && exit->killed_by_us ? FailureKind::closed_stdout : FailureKind::crash;
    case Exchange::Outcome::line:
    case Exchange::Outcome::interrupted: break;
  }
  return FailureKind::crash;
}

std::string failure_message(const Exchange& x, const ProbeOptions& o, std::chrono::milliseconds limit) {
  // "it exited with status 1" / "it was killed by signal 6 (Aborted)"
  const std::string how = x.exit ? (x.exit->signaled ? "was " : "") + x.exit->describe() : "ended";
  switch (x.outcome) {
    case Exchange::Outcome::timeout:
      return "no reply within " + std::to_string(limit.count()) + " ms; killed (" + std::to_string(x.bytes_received) +
             " bytes of a reply had arrived)";
    case Exchange::Outcome::partial_line:
      return "its stdout ended in the middle of a reply after " + std::to_string(x.bytes_received) + " bytes; it " + how;
    case Exchange::Outcome::too_long:
      return "reply longer than the limit of " + std::to_string(o.max_reply_bytes) + " bytes; killed";
    case Exchange::Outcome::write_failed:
      return "it stopped reading its stdin and sent no reply; it " + how;
    case Exchange::Outcome::eof:
      if (x.exit && x.exit->killed_by_us) return "it closed its stdout without replying and kept running; killed";
      return "no reply: it " + how;
    case Exchange::Outcome::line:
    case Exchange::Outcome::interrupted: break;
  }
  return how;
}

// One query: the case out, the reply back, parsed. Any failure is recorded in
// `failure` (and the process restarted) unless interrupted.
struct Query {
  Exchange exchange;
  std::optional<Reply> reply;
  std::optional<Failure> failure;
  bool interrupted = false;
};

class Session {
 public:
  Session(const std::vector<std::string>& command, const ProbeOptions& options, ProbeResult& result)
      : options_(options), result_(result), process_(command, line_options(options)) {}

  Query ask(const Case& c, std::size_t index) {
    Query q;
    if (!process_.running()) restart();
    const auto limit = replied_since_start_ ? options_.timeout : std::max(options_.timeout, options_.startup_timeout);
    q.exchange = process_.exchange(case_to_json(c, -1), limit);
    const Exchange& x = q.exchange;
    if (x.outcome == Exchange::Outcome::line) replied_since_start_ = true;
    if (x.outcome == Exchange::Outcome::interrupted) {
      q.interrupted = true;
      return q;
    }
    if (x.outcome != Exchange::Outcome::line) {
      q.failure = make_failure(failure_kind(x.outcome, x.exit), index, c, failure_message(x, options_, limit));
      q.failure->exit = x.exit;
      q.failure->reply_excerpt = excerpt(x.line);
      q.failure->stderr_tail = process_.stderr_tail();
      return q;
    }
    if (!x.unsolicited.empty()) {
      // Out of step: this line may answer an earlier case. Start afresh.
      q.failure = make_failure(FailureKind::unsolicited_output, index, c,
                               "it wrote output before this case was sent (more than one line for an earlier case?)");
      q.failure->reply_excerpt = excerpt(x.unsolicited);
      q.failure->stderr_tail = process_.stderr_tail();
      restart();
      return q;
    }
    try {
      q.reply = parse_reply(x.line, "reply to case " + std::to_string(index));
    } catch (const InputError& e) {
      q.failure = make_failure(FailureKind::malformed_reply, index, c, e.what());
      q.failure->reply_excerpt = excerpt(x.line);
      q.failure->stderr_tail = process_.stderr_tail();
    }
    return q;
  }

  void restart() {
    process_.stop();
    account_stderr();  // this run's count, before the next run starts from 0
    process_.restart();
    replied_since_start_ = false;
    ++result_.restarts;
  }

  void finish() {
    if (process_.running()) result_.final_exit = process_.stop();
    account_stderr();
    result_.stderr_tail = process_.stderr_tail();
  }

 private:
  static LineProcessOptions line_options(const ProbeOptions& o) {
    LineProcessOptions l;
    l.max_line_bytes = o.max_reply_bytes;
    l.interrupt = o.interrupt;
    return l;
  }

  static Failure make_failure(FailureKind kind, std::size_t index, const Case& c, std::string message) {
    Failure f;
    f.kind = kind;
    f.case_index = index;
    f.input = c;
    f.message = std::move(message);
    return f;
  }

  // stderr counts are per run of the process: add each run's before it restarts.
  void account_stderr() {
    result_.stderr_bytes += process_.stderr_bytes() - accounted_;
    accounted_ = process_.stderr_bytes();
    if (!process_.running()) accounted_ = 0;
  }

  const ProbeOptions& options_;
  ProbeResult& result_;
  LineProcess process_;
  std::size_t accounted_ = 0;
  bool replied_since_start_ = false;  // the first reply of a run gets the start-up allowance
};

void check_options(const ProbeOptions& o) {
  if (o.cases < 1 || o.cases > probe_max_cases)
    throw InputError("probe options", "cases", "must be between 1 and " + std::to_string(probe_max_cases));
  if (o.max_shrink_steps < 0 || o.max_shrink_steps > probe_max_shrink_steps)
    throw InputError("probe options", "max_shrink_steps",
                     "must be between 0 and " + std::to_string(probe_max_shrink_steps));
  if (o.timeout.count() < 1) throw InputError("probe options", "timeout", "must be positive");
  if (o.startup_timeout.count() < 0) throw InputError("probe options", "startup_timeout", "must not be negative");
  if (o.max_reply_bytes < 2) throw InputError("probe options", "max_reply_bytes", "is too small for any reply");
  if (o.max_failures < 1) throw InputError("probe options", "max_failures", "must be at least 1");
  const CaseSpace& s = o.space;
  if (s.activations.empty()) throw InputError("probe options", "activations", "is empty");
  if (s.losses.empty()) throw InputError("probe options", "losses", "is empty");
  if (s.reductions.empty()) throw InputError("probe options", "reductions", "is empty");
  if (s.magnitudes.empty()) throw InputError("probe options", "magnitudes", "is empty");
  if (s.min_layers < 1 || s.max_layers < s.min_layers)
    throw InputError("probe options", "max_layers", "must be at least 1 (and at least min_layers)");
  if (s.min_width < 1 || s.max_width < s.min_width)
    throw InputError("probe options", "max_width", "must be at least 1 (and at least min_width)");
  if (s.min_batch < 1 || s.max_batch < s.min_batch)
    throw InputError("probe options", "max_batch", "must be at least 1 (and at least min_batch)");
  if (!allows(s, LayerKind::dense))
    throw InputError("probe options", "layer_types", "must include dense (the output layer of a case is dense)");
  if (s.max_conv_layers < 1 || s.max_conv_layers > 4)
    throw InputError("probe options", "max_conv_layers", "must be between 1 and 4");
  if (s.max_channels < 1 || s.max_channels > 16)
    throw InputError("probe options", "max_channels", "must be between 1 and 16");
  if (s.max_image_side < 1 || s.max_image_side > 64)
    throw InputError("probe options", "max_image_side", "must be between 1 and 64");
  if (static_cast<Index>(s.max_width) > max_layer_width)
    throw InputError("probe options", "max_width", "exceeds the limit of " + std::to_string(max_layer_width));
}

// What "the same bug" means while shrinking (docs/probe.md): the same named
// bugs; where no named bug fits (a wrong output error term or backward step),
// any such fault, in any layer; in both, the same kinds of tensor disagreeing
// (weights, biases) and non-finite gradients or not. A candidate that reads as
// another bug is refused: shrinking towards zero weights makes cases degenerate
// (one softmax pair at a = 1/2 turns the softmax Jacobian into exactly x1/2),
// and such a minimal case would send the user after the wrong bug.
struct BugKey {
  std::vector<BugKind> named;
  bool unnamed = false;
  bool weights = false, biases = false;
  bool non_finite_gradients = false;
  bool operator==(const BugKey& o) const {
    return named == o.named && unnamed == o.unnamed && weights == o.weights && biases == o.biases &&
           non_finite_gradients == o.non_finite_gradients;
  }
  bool operator!=(const BugKey& o) const { return !(*this == o); }
};

BugKey bug_key(const VerifyResult& v) {
  BugKey key;
  for (const Signature& s : v.signatures) {
    if (s.severity != Severity::error) continue;
    if (s.kind == BugKind::output_error_term || s.kind == BugKind::backward_step) key.unnamed = true;
    else key.named.push_back(s.kind);
  }
  std::sort(key.named.begin(), key.named.end());
  key.named.erase(std::unique(key.named.begin(), key.named.end()), key.named.end());
  for (const TensorSummary& t : v.gradients.tensors) {
    const bool wrong = t.counts.disagree + t.counts.non_finite > 0;
    if (t.tensor == TensorKind::weights) key.weights = key.weights || wrong;
    if (t.tensor == TensorKind::biases) key.biases = key.biases || wrong;
  }
  key.non_finite_gradients = v.gradients.summary.counts.non_finite > 0;
  return key;
}

enum class Tried { accepted, refused, stop };

// One candidate asked and judged: accepted as the new minimal case when it
// diverges with the same bug.
Tried try_candidate(Session& session, Case c, const BugKey& bug, Counterexample& cx, const ProbeOptions& o,
                    const VerifyOptions& verify, bool& interrupted) {
  if (cx.shrink_queries >= o.max_shrink_steps) {
    cx.shrink_capped = true;
    return Tried::stop;
  }
  ++cx.shrink_queries;
  Query q = session.ask(c, cx.case_index);
  if (q.interrupted) {
    interrupted = true;
    return Tried::stop;
  }
  if (q.failure) {
    ++cx.shrink_misbehaved;
    return Tried::refused;
  }
  VerifyResult v = verify_reply(c, *q.reply, verify);
  if (v.status != VerifyStatus::diverge) return Tried::refused;
  if (bug_key(v) != bug) {
    ++cx.shrink_slipped;
    return Tried::refused;
  }
  cx.minimal = std::move(c);
  cx.minimal_reply = std::move(q.exchange.line);
  cx.minimal_result = std::move(v);
  ++cx.shrinks;
  return Tried::accepted;
}

// Shrinks toward what a person reads (simpler_cases.hpp): fewer layers, a
// smaller batch, fewer units, round values. Within a stage the first simpler
// candidate that still shows the bug is taken and the stage starts again from
// it; the stages repeat until a whole pass takes nothing.
void shrink(Session& session, Counterexample& cx, const ProbeOptions& o, const VerifyOptions& verify,
            bool& interrupted) {
  const BugKey bug = bug_key(cx.original_result);
  for (bool progress = true; progress;) {
    progress = false;
    for (detail::ShrinkStage stage : detail::shrink_stages) {
      for (bool again = true; again;) {
        again = false;
        for (Case& c : detail::simpler_cases(cx.minimal, stage)) {
          const Tried t = try_candidate(session, std::move(c), bug, cx, o, verify, interrupted);
          if (t == Tried::stop) return;
          if (t == Tried::accepted) {
            again = progress = true;
            break;
          }
        }
      }
    }
  }
}

std::uint64_t fresh_seed() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// One run of the probe: the cases in order, each reply verified and counted,
// the first divergence shrunk, and (check_determinism) each case sent again
// after the next one. A program that states no precision is judged in the
// format its replies so far show (FormatEvidence); a divergence found before
// they show one, in a reply that a narrower format could have produced, waits
// for the program's later replies to tell (docs/verify.md#precision).
class Run {
 public:
  Run(const std::vector<std::string>& command, const ProbeOptions& options, ProbeResult& result)
      : options_(options), verify_(options.verify), result_(result), session_(command, options, result) {}

  void all_cases() {
    for (int i = 0; i < options_.cases && !stop_; ++i) {
      if (options_.interrupt && options_.interrupt->load()) {
        result_.interrupted = true;
        break;
      }
      one_case(static_cast<std::size_t>(i));
      if (!stop_) settle_deferred(false);
    }
    if (!stop_ && !result_.interrupted) settle_deferred(true);
    if (!stop_ && !result_.interrupted) repeat_pending();
    session_.finish();
  }

 private:
  // A divergence waiting for the program's format (see the class comment).
  struct Deferred {
    std::size_t index;
    Case input;
    Reply reply;
    std::string line;
  };
  static constexpr std::size_t max_deferred = 8;
  // The determinism check: the previous case and its first reply, sent again
  // after the next case.
  struct Pending {
    std::size_t index;
    Case input;
    Reply reply;
    std::string line;
  };

  // Sends case `index` and verifies the reply: a failure, a tally, or the counterexample.
  void one_case(std::size_t index) {
    Case c = probe_case(options_.space, result_.seed, index).value();
    Query q = session_.ask(c, index);
    if (q.interrupted) {
      result_.interrupted = stop_ = true;
      return;
    }
    ++result_.cases_sent;
    if (q.failure) {
      add_failure(std::move(*q.failure));
      pending_.reset();  // the process was restarted: a repeat would compare two lives
      return;
    }
    format_.add(*q.reply);
    if (!verify_.precision) verify_.program_format = format_.shown();  // a later value may rule it out
    VerifyResult v = verify_reply(c, *q.reply, verify_);
    if (v.status == VerifyStatus::diverge && may_be_narrow(*q.reply)) {
      deferred_.push_back({index, std::move(c), std::move(*q.reply), std::move(q.exchange.line)});
      return;
    }
    if (v.status == VerifyStatus::diverge) {
      counterexample(index, std::move(c), std::move(q.exchange.line), std::move(v));
      return;
    }
    count(index, v);
    if (options_.check_determinism) {
      repeat_pending(&c);
      if (!stop_) pending_ = Pending{index, std::move(c), std::move(*q.reply), std::move(q.exchange.line)};
    }
  }

  // The format is not known yet and may be narrower than the one the
  // divergence was judged in.
  bool may_be_narrow(const Reply& reply) const {
    return !verify_.precision && !verify_.program_format && !reply.precision && format_.could_be_narrow() &&
           deferred_.size() < max_deferred;
  }

  // Judges the deferred divergences once the program's format is shown, or
  // ruled out, or (`last`) no more replies will come: each again in that
  // format; the first that still diverges is the counterexample.
  void settle_deferred(bool last) {
    if (deferred_.empty() || (!verify_.program_format && format_.could_be_narrow() && !last)) return;
    std::vector<Deferred> waiting = std::move(deferred_);
    deferred_.clear();
    for (Deferred& d : waiting) {
      VerifyResult v = verify_reply(d.input, d.reply, verify_);
      if (v.status == VerifyStatus::diverge) {
        counterexample(d.index, std::move(d.input), std::move(d.line), std::move(v));
        return;
      }
      count(d.index, v);
    }
  }

  // A verification that passed or was declined, in the tallies (and the first few kept).
  void count(std::size_t index, const VerifyResult& v) {
    switch (v.status) {
      case VerifyStatus::agree: ++result_.agreed; break;
      case VerifyStatus::notes: {
        ++result_.noted;
        if (result_.notes.size() < kept_notes) {
          NotedCase n{index, {}};
          for (const auto& s : v.signatures)
            if (s.severity == Severity::note) n.notes.push_back(s);
          result_.notes.push_back(std::move(n));
        }
        break;
      }
      case VerifyStatus::declined: {
        ++result_.declined;
        const std::string msg = v.declined_message.value_or("");
        auto& kept = result_.declined_messages;
        if (kept.size() < kept_declined_messages && std::find(kept.begin(), kept.end(), msg) == kept.end())
          kept.push_back(msg);
        break;
      }
      case VerifyStatus::diverge: break;  // counterexample()
    }
  }

  // The first divergence, shrunk: it ends the run.
  void counterexample(std::size_t index, Case c, std::string line, VerifyResult v) {
    ++result_.diverged;
    Counterexample cx;
    cx.case_index = index;
    cx.original = c;
    cx.original_reply = line;
    cx.original_result = v;
    cx.minimal = std::move(c);
    cx.minimal_reply = std::move(line);
    cx.minimal_result = std::move(v);
    bool interrupted = false;
    shrink(session_, cx, options_, verify_, interrupted);
    if (!interrupted) experiments(cx);
    result_.counterexample = std::move(cx);
    result_.interrupted = interrupted;
    stop_ = true;
    pending_.reset();
  }

  // Experiments on the minimal counterexample, each a few more cases (experiments.hpp).
  void experiments(Counterexample& cx) {
    const detail::AskProgram ask = [&](const Case& c) -> std::optional<VerifyResult> {
      Query q = session_.ask(c, cx.case_index);
      if (q.interrupted) result_.interrupted = stop_ = true;
      if (!q.reply) return std::nullopt;
      return verify_reply(c, *q.reply, verify_);
    };
    detail::run_experiments(cx.minimal, cx.minimal_result, ask, [&] { return result_.interrupted; });
  }

  // The run stops at max_failures.
  void add_failure(Failure f) {
    result_.failures.push_back(std::move(f));
    if (static_cast<int>(result_.failures.size()) >= options_.max_failures) {
      result_.stopped_at_max_failures = true;
      stop_ = true;
    }
  }

  // Sends the pending case again (after `between`, the case sent since): a
  // reply that is not bitwise the same is a failure, which replay() tells
  // apart as nondeterministic or stateful.
  void repeat_pending(const Case* between = nullptr) {
    if (!pending_ || stop_) return;
    Pending p = std::move(*pending_);
    pending_.reset();
    Query q = session_.ask(p.input, p.index);
    if (q.interrupted) {
      result_.interrupted = stop_ = true;
      return;
    }
    if (q.failure) {
      add_failure(std::move(*q.failure));
      return;
    }
    ++result_.repeats;
    if (bitwise_equal(p.reply, *q.reply)) return;
    Failure f;
    f.kind = FailureKind::nondeterministic;
    f.case_index = p.index;
    f.message = "the same case sent twice got bitwise-different replies";
    f.reply_excerpt = excerpt(p.line);
    f.second_reply_excerpt = excerpt(q.exchange.line);
    replay(p, between, *q.reply, f);
    f.input = std::move(p.input);
    add_failure(std::move(f));
  }

  // The experiment: the same sequence (A, the case between, A) again in a
  // fresh process. The same replies, bitwise: the program is deterministic
  // and carries state from case to case (stateful; a second reply that is a
  // multiple of the first is gradients accumulated). Other replies:
  // nondeterministic. The process is restarted after, so that the state it
  // carries does not reach the cases that follow.
  void replay(const Pending& p, const Case* between, const Reply& again, Failure& f) {
    std::vector<const Case*> sequence{&p.input};
    if (between) sequence.push_back(between);
    sequence.push_back(&p.input);
    const std::string sent = "sent case " + std::to_string(p.index) +
                             (between ? ", the case after it and case " + std::to_string(p.index) + " again"
                                      : " twice") +
                             " to the program restarted";
    session_.restart();
    std::vector<Reply> replies;
    for (const Case* c : sequence) {
      Query q = session_.ask(*c, p.index);
      if (q.interrupted) result_.interrupted = stop_ = true;
      if (!q.reply) {
        f.experiment = sent + ": it did not reply to all of them, so nondeterminism and state cannot be told apart";
        return;
      }
      replies.push_back(std::move(*q.reply));
    }
    session_.restart();
    if (!bitwise_equal(replies.front(), p.reply) || !bitwise_equal(replies.back(), again)) {
      f.experiment = sent + ": its replies differ from the first run's: the program is nondeterministic";
      return;
    }
    f.kind = FailureKind::stateful;
    f.message = "the reply to a case depends on the cases sent before it";
    f.experiment = sent + ": the same replies, bitwise, as the first run: the program is deterministic and "
                          "carries state from one case to the next" + accumulation(p.reply, again);
  }

  const ProbeOptions& options_;
  VerifyOptions verify_;  // options_.verify, with the program's format once shown
  ProbeResult& result_;
  Session session_;
  std::optional<Pending> pending_;
  FormatEvidence format_;
  std::vector<Deferred> deferred_;
  bool stop_ = false;
};

}  // namespace

const char* to_string(FailureKind k) {
  switch (k) {
    case FailureKind::crash: return "crash";
    case FailureKind::timeout: return "timeout";
    case FailureKind::closed_stdout: return "closed-stdout";
    case FailureKind::stopped_reading: return "stopped-reading";
    case FailureKind::partial_line: return "partial-line";
    case FailureKind::reply_too_long: return "reply-too-long";
    case FailureKind::malformed_reply: return "malformed-reply";
    case FailureKind::unsolicited_output: return "unsolicited-output";
    case FailureKind::nondeterministic: return "nondeterministic";
    case FailureKind::stateful: return "stateful";
  }
  return "?";
}

rc::Shrinkable<Case> probe_case(const CaseSpace& space, std::uint64_t seed, std::size_t index) {
  const auto gen = gen::any_case(space);
  for (int attempt = 0; attempt < generation_attempts; ++attempt) {
    // Keyed by (seed, index): case i is the same whatever came before it.
    const rc::Random random(rc::Random::Key{seed, static_cast<std::uint64_t>(index),
                                            static_cast<std::uint64_t>(attempt), 0x6772616463686b});
    auto shrinkable = gen(random, rc::kNominalSize);
    try {
      shrinkable.value();
      return shrinkable;
    } catch (...) {
      // RC_PRE discarded this draw: the restrictions exclude it; draw again.
    }
  }
  throw InputError("probe options", "restrictions",
                   "no case satisfies them (e.g. a cross-entropy loss needs a sigmoid or softmax output, "
                   "softmax needs a width of at least 2, more than one layer needs a non-softmax activation)");
}

ProbeResult probe(const std::vector<std::string>& command, const ProbeOptions& options) {
  check_options(options);
  const auto start = Clock::now();
  ProbeResult result;
  result.command = command;
  result.seed = options.seed ? *options.seed : fresh_seed();
  result.cases_requested = options.cases;
  probe_case(options.space, result.seed, 0);  // an empty space is an input error before the program starts

  Run run(command, options, result);
  run.all_cases();
  result.elapsed = Clock::now() - start;
  return result;
}

}  // namespace gradcheck
