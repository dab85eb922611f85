#pragma once
// What the fuzz targets check on every input, shared with the regression test
// that replays the committed corpora in every ordinary build
// (engine/tests/fuzz_regression_test.cpp), so a finding stays fixed without clang.
//
// How to use:
//   std::string v = gradcheck::fuzz::case_parser_violation(data, size);
//   if (!v.empty()) { /* the parser broke a promise: v says which */ }
//
// Each oracle returns "" when the reader kept its contract on this input, and a
// one-line description otherwise. The contract (docs/case-format.md, docs/idx.md,
// docs/bad-inputs.md):
//   - bad input throws gradcheck::InputError and nothing else, its message starts
//     with the source name, is one line (the CLI prints it as one) and is valid
//     UTF-8 (reports embed it in JSON);
//   - what is accepted is what the format promises: a case's shapes fit and the
//     engine runs on it without an exception; a case or reply written back and
//     read again is the same, bit for bit; an IDX array holds exactly the bytes
//     its header announces, and for a plain (not gzip'd) file those are the file's
//     own bytes after the header.
// Crashes, leaks, hangs and undefined behaviour are the sanitizers' and
// libFuzzer's to catch; these oracles catch wrong answers that do not crash.

#include <gradcheck/engine/case_format.hpp>
#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/idx.hpp>
#include <gradcheck/engine/network.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include <sys/mman.h>
#include <unistd.h>

namespace gradcheck::fuzz {

// Names the fuzzed text in messages, as a file name would.
inline constexpr const char* case_source = "fuzz-case.json";
inline constexpr const char* reply_source = "fuzz-reply.json";

namespace detail {

inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// An InputError as the CLI will print it: "<source>: ...", one line, UTF-8.
inline std::string message_violation(const InputError& e, const std::string& source) {
  const std::string m = e.what();
  const std::string quoted = "\"" + m.substr(0, 200) + (m.size() > 200 ? "...\"" : "\"");
  if (m.compare(0, source.size() + 2, source + ": ") != 0)
    return "message does not start with \"" + source + ": \": " + quoted;
  if (e.source() != source) return "InputError::source() is \"" + e.source() + "\", expected \"" + source + "\"";
  if (e.problem().empty()) return "message has no problem: " + quoted;
  if (m.find_first_of("\n\r") != std::string::npos) return "message spans more than one line: " + quoted;
  if (!valid_utf8(m)) return "message is not valid UTF-8: " + quoted;
  return "";
}

inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// NaN equals NaN (its payload and sign are not part of the formats); everything
// else must match bit for bit, so -0.0 and 0.0 differ.
inline bool same_value(double a, double b) { return (std::isnan(a) && std::isnan(b)) || same_bits(a, b); }

template <class A, class B>
bool same_values(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index r = 0; r < a.rows(); ++r)
    for (Index k = 0; k < a.cols(); ++k)
      if (!same_value(a(r, k), b(r, k))) return false;
  return true;
}

// The kind and the whole geometry (the input shapes connect_shapes filled included).
inline bool same_geometry(const Layer<double>& x, const Layer<double>& y) {
  const ConvGeometry &a = x.conv, &b = y.conv;
  const PoolGeometry &p = x.pool, &q = y.pool;
  return x.kind == y.kind && a.in_channels == b.in_channels && a.height == b.height && a.width == b.width &&
         a.out_channels == b.out_channels && a.kernel_h == b.kernel_h && a.kernel_w == b.kernel_w &&
         a.stride == b.stride && a.padding == b.padding && p.kind == q.kind && p.channels == q.channels &&
         p.height == q.height && p.width == q.width && p.window == q.window && p.stride == q.stride;
}

inline bool same_case(const Case& a, const Case& b) {
  if (a.name != b.name || a.network.loss != b.network.loss || a.network.reduction != b.network.reduction ||
      a.network.layers.size() != b.network.layers.size() || a.network.input_shape != b.network.input_shape)
    return false;
  for (std::size_t l = 0; l < a.network.layers.size(); ++l) {
    const auto &x = a.network.layers[l], &y = b.network.layers[l];
    if (x.activation != y.activation || !same_values(x.weights, y.weights) || !same_values(x.biases, y.biases) ||
        !same_geometry(x, y))
      return false;
  }
  return same_values(a.inputs, b.inputs) && same_values(a.targets, b.targets);
}

inline bool same_reply(const Reply& a, const Reply& b) {
  if (a.error != b.error || a.layers.size() != b.layers.size() || a.loss.has_value() != b.loss.has_value() ||
      a.outputs.has_value() != b.outputs.has_value() || a.non_finite_tokens != b.non_finite_tokens ||
      a.non_finite_count != b.non_finite_count)
    return false;
  for (std::size_t l = 0; l < a.layers.size(); ++l)
    if (!same_values(a.layers[l].weights, b.layers[l].weights) || !same_values(a.layers[l].biases, b.layers[l].biases) ||
        a.layers[l].weights_shape != b.layers[l].weights_shape)
      return false;
  if (a.loss && !same_value(*a.loss, *b.loss)) return false;
  return !a.outputs || same_values(*a.outputs, *b.outputs);
}

template <class M>
std::size_t non_finite_in(const M& m) {
  std::size_t n = 0;
  for (Index r = 0; r < m.rows(); ++r)
    for (Index k = 0; k < m.cols(); ++k) n += std::isfinite(m(r, k)) ? 0 : 1;
  return n;
}

inline std::string what_of(const std::exception& e) { return std::string(e.what()).substr(0, 200); }

// Above this many multiply-adds per pass the engine run is skipped: it proves
// nothing more on a big case and would slow the fuzzer down.
inline constexpr double max_engine_work = 1e6;

inline std::string case_holds_its_promises(const Case& c) {
  try {
    validate(c.network);
  } catch (const InputError& e) {
    return "accepted a network that validate() refuses: " + what_of(e);
  }
  const auto& net = c.network;
  if (c.inputs.cols() < 1) return "accepted a case without samples";
  if (c.inputs.rows() != net.input_size() || c.targets.rows() != net.output_size() ||
      c.targets.cols() != c.inputs.cols())
    return "accepted inputs or targets whose shape does not fit the network";
  if (non_finite_in(c.inputs) + non_finite_in(c.targets) > 0) return "accepted a non-finite input or target";
  for (const auto& layer : net.layers)
    if (non_finite_in(layer.weights) + non_finite_in(layer.biases) > 0) return "accepted a non-finite weight or bias";
  if (net.loss != Loss::quadratic)
    for (Index r = 0; r < c.targets.rows(); ++r)
      for (Index k = 0; k < c.targets.cols(); ++k)
        if (!(c.targets(r, k) >= 0 && c.targets(r, k) <= 1)) return "accepted a cross-entropy target outside [0, 1]";

  double work = 0;  // multiply-adds per pass: a conv2d weight is used at every output position
  for (const auto& layer : net.layers)
    work += static_cast<double>(layer.weights.size()) * c.inputs.cols() *
            (layer.kind == LayerKind::conv2d ? static_cast<double>(layer.conv.positions()) : 1.0);
  if (work > max_engine_work) return "";
  try {
    const auto fp = forward(net, c.inputs);
    (void)loss(net, fp, c.targets);
    Gradients<double> g;
    backward(net, fp, c.targets, g);
    for (std::size_t l = 0; l < net.layers.size(); ++l)
      if (g.weights[l].rows() != net.layers[l].units() || g.weights[l].cols() != net.layers[l].inputs() ||
          g.biases[l].size() != net.layers[l].units())
        return "the engine's gradients of layer " + std::to_string(l) + " do not have the layer's shape";
  } catch (const std::exception& e) {
    return "the engine threw on an accepted case: " + what_of(e);
  }
  return "";
}

}  // namespace detail

// parse_case on arbitrary text.
inline std::string case_parser_violation(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Case c;
  try {
    c = parse_case(text, case_source);
  } catch (const InputError& e) {
    return detail::message_violation(e, case_source);
  } catch (const std::exception& e) {
    return "parse_case threw something other than an InputError: " + detail::what_of(e);
  }
  if (std::string v = detail::case_holds_its_promises(c); !v.empty()) return v;
  for (int indent : {2, -1}) {
    const std::string written = case_to_json(c, indent);
    try {
      if (!detail::same_case(parse_case(written, "written.json"), c))
        return "the case written with indent " + std::to_string(indent) + " reads back different";
    } catch (const std::exception& e) {
      return "the case written with indent " + std::to_string(indent) + " is refused: " + detail::what_of(e);
    }
  }
  return "";
}

// parse_reply on arbitrary text.
inline std::string reply_parser_violation(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Reply r;
  try {
    r = parse_reply(text, reply_source);
  } catch (const InputError& e) {
    return detail::message_violation(e, reply_source);
  } catch (const std::exception& e) {
    return "parse_reply threw something other than an InputError: " + detail::what_of(e);
  }
  if (!r.declined()) {
    std::size_t non_finite = 0;
    for (const auto& g : r.layers) {
      if (g.biases.cols() != 1) return "biases are not a vector";
      non_finite += detail::non_finite_in(g.weights) + detail::non_finite_in(g.biases);
    }
    if (r.loss && !std::isfinite(*r.loss)) ++non_finite;
    if (r.outputs) non_finite += detail::non_finite_in(*r.outputs);
    if (r.non_finite_count != non_finite)
      return "non_finite_count is " + std::to_string(r.non_finite_count) + ", the reply holds " +
             std::to_string(non_finite) + " non-finite values";
    if (r.non_finite_tokens.size() != std::min(non_finite, max_recorded_non_finite))
      return "non_finite_tokens has " + std::to_string(r.non_finite_tokens.size()) + " paths for " +
             std::to_string(non_finite) + " non-finite values";
  } else if (!detail::valid_utf8(*r.error)) {
    return "the declining error message is not valid UTF-8";
  }
  for (int indent : {2, -1}) {
    const std::string written = reply_to_json(r, indent);
    try {
      if (!detail::same_reply(parse_reply(written, reply_source), r))
        return "the reply written with indent " + std::to_string(indent) + " reads back different";
    } catch (const std::exception& e) {
      return "the reply written with indent " + std::to_string(indent) + " is refused: " + detail::what_of(e);
    }
  }
  return "";
}

// idx::read on arbitrary file contents (written to a memory file, since the
// reader takes a path), then images() or labels() on what it accepts.
inline std::string idx_reader_violation(const std::uint8_t* data, std::size_t size) {
  // One memory file for the whole run: the fuzzer calls this millions of times.
  static const int fd = ::memfd_create("fuzz-idx", MFD_CLOEXEC);
  if (fd < 0) return std::string("memfd_create failed: ") + std::strerror(errno);
  if (::ftruncate(fd, 0) != 0) return std::string("ftruncate failed: ") + std::strerror(errno);
  for (std::size_t done = 0; done < size;) {
    const ssize_t w = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (w <= 0) return std::string("pwrite failed: ") + std::strerror(errno);
    done += static_cast<std::size_t>(w);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  idx::Array a;
  try {
    a = idx::read(path);
  } catch (const InputError& e) {
    return detail::message_violation(e, path);
  } catch (const std::exception& e) {
    return "idx::read threw something other than an InputError: " + detail::what_of(e);
  }
  if (a.dims.empty() || a.dims.size() > 255) return "accepted a rank of " + std::to_string(a.dims.size());
  std::uint64_t total = 1;
  for (std::uint32_t d : a.dims) total *= d;  // within max_bytes if accepted, so no overflow
  if (total > idx::Limits{}.max_bytes) return "accepted " + std::to_string(total) + " bytes, above Limits::max_bytes";
  if (total != a.bytes.size())
    return "holds " + std::to_string(a.bytes.size()) + " bytes, the dimensions need " + std::to_string(total);
  const bool gzipped = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!gzipped) {
    const std::size_t header = 4 + 4 * a.dims.size();
    if (size != header + a.bytes.size() ||
        (!a.bytes.empty() && std::memcmp(data + header, a.bytes.data(), a.bytes.size()) != 0))
      return "the data of a plain file is not the file's bytes after its header";
  }

  // What each rank is for; the wrong use must be refused as bad input, and so
  // must images wider than any network takes (possible when there are none).
  if (a.dims.size() == 3 && std::uint64_t{a.dims[1]} * a.dims[2] > static_cast<std::uint64_t>(max_layer_width)) {
    try {
      (void)idx::images(a);
      return "images of more than max_layer_width pixels were accepted";
    } catch (const InputError& e) {
      return detail::message_violation(e, path);
    } catch (const std::exception& e) {
      return "too wide images threw something other than an InputError: " + detail::what_of(e);
    }
  }
  try {
    if (a.dims.size() == 3) {
      const Index n = std::min<Index>(static_cast<Index>(a.count()), 4);
      const Matrix<double> x = idx::images(a, idx::ByteReading::unsigned_bytes, n);
      const Matrix<double> s = idx::images(a, idx::ByteReading::signed_char, n);
      const std::uint64_t features = std::uint64_t{a.dims[1]} * a.dims[2];
      if (static_cast<std::uint64_t>(x.rows()) != features || x.cols() != n ||
          static_cast<std::uint64_t>(s.rows()) != features || s.cols() != n)
        return "images() has the wrong shape";
      for (Index i = 0; i < x.size(); ++i) {
        const std::uint8_t b = a.bytes[static_cast<std::size_t>(i)];
        if (x.data()[i] != b / 255.0 || s.data()[i] != (b > 127 ? b - 256 : b) / 255.0)
          return "images() misreads byte " + std::to_string(i);
      }
    } else if (a.dims.size() == 1) {
      const auto y = idx::labels(a);
      if (y.size() != a.bytes.size()) return "labels() has the wrong length";
      for (std::size_t i = 0; i < y.size(); ++i)
        if (y[i] != a.bytes[i]) return "labels() misreads label " + std::to_string(i);
    }
  } catch (const std::exception& e) {
    return "an accepted array of the right rank was refused: " + detail::what_of(e);
  }
  try {
    if (a.dims.size() == 3) (void)idx::labels(a);
    else (void)idx::images(a);
    return "an array of rank " + std::to_string(a.dims.size()) + " was taken for " +
           (a.dims.size() == 3 ? "labels" : "images");
  } catch (const InputError& e) {
    return detail::message_violation(e, path);
  } catch (const std::exception& e) {
    return "the wrong rank threw something other than an InputError: " + detail::what_of(e);
  }
}

}  // namespace gradcheck::fuzz
