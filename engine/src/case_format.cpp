// The JSON case and reply formats. Parsing runs in three steps:
//   1. a pre-pass over the raw text finds what strict JSON cannot hold (bare
//      NaN/Infinity tokens, numbers beyond the double range) and rewrites each
//      to `null`, remembering which null stands for which value; it also stops
//      at the first nesting deeper than max_json_depth;
//   2. nlohmann's SAX parser builds the document, turning those nulls back into
//      NaN/±Infinity (and, for a case, refusing duplicate fields);
//   3. a reader walks the document into Case/Reply with the path of every
//      field at hand for messages.
// Positions of syntax errors are mapped back through the rewrites, so they
// point into the text the user wrote.
#include <gradcheck/engine/case_format.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gradcheck {
namespace detail {
namespace {

using json = nlohmann::json;
constexpr std::size_t npos = std::string::npos;
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------
// Small text helpers

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_word_char(char c) { return is_letter(c) || is_digit(c) || c == '_'; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

// NaN, nan, Infinity, inf, INF, ... (what Python, C's printf, Julia and R write).
std::optional<double> non_finite_word(std::string_view w) {
  if (equals_ignoring_case(w, "nan")) return std::numeric_limits<double>::quiet_NaN();
  if (equals_ignoring_case(w, "inf") || equals_ignoring_case(w, "infinity")) return kInf;
  return std::nullopt;
}

void append_number(double x, std::string& out) {
  if (std::isnan(x)) {
    out += "NaN";
    return;
  }
  if (std::isinf(x)) {
    out += x > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[64];
  char* end = std::to_chars(buf, buf + sizeof buf, x).ptr;
  // "1" would read back as an integer: harmless, except that "-0" loses its sign.
  if (std::find_if(buf, end, [](char c) { return c == '.' || c == 'e'; }) == end) {
    *end++ = '.';
    *end++ = '0';
  }
  out.append(buf, end);
}

std::string format_number(double x) {
  std::string s;
  append_number(x, s);
  return s;
}

// A field name that reads as itself in a path: letters, digits, '_'.
bool is_plain_name(std::string_view s) {
  if (s.empty()) return false;
  for (const char ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  return true;
}

std::string quote_for_message(std::string_view s) {
  constexpr std::size_t limit = 60;
  std::string cut(s.substr(0, limit));
  if (s.size() > limit) {
    while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xC0) == 0x80) cut.pop_back();
    if (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0x80)) cut.pop_back();
  }
  std::string q = json(cut).dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > limit) q += "...";
  return q;
}

// The parser quotes the text it stopped at byte for byte; a message must stay
// well-formed UTF-8 (it is printed, and embedded in JSON and XML reports), so
// each byte outside a well-formed sequence is shown as <0xNN>.
std::string well_formed_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
      if ((d & 0xC0) != 0x80) {
        len = 0;
        break;
      }
      cp = (cp << 6) | (d & 0x3Fu);
    }
    constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};  // shorter forms are overlong
    if (len == 0 || cp < smallest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      static const char digits[] = "0123456789ABCDEF";
      out += "<0x";
      out += digits[c >> 4];
      out += digits[c & 0xF];
      out += '>';
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "a binary value";
  }
}

std::string too_large(std::size_t bytes, bool exact) {
  return std::string(exact ? "is " : "is more than ") + std::to_string(bytes) + " bytes, more than the limit of " +
         std::to_string(max_json_bytes) + " bytes (" + std::to_string(max_json_bytes >> 20) + " MiB)";
}

// ---------------------------------------------------------------------------
// Step 1: the pre-pass

struct Rewrite {
  std::size_t in_start, in_len, out_start, out_len;
};

struct Prepared {
  std::string text;                                       // the rewritten text (when rewrites is not empty)
  std::vector<Rewrite> rewrites;
  std::vector<std::pair<std::size_t, double>> null_values;  // (ordinal among null tokens, value it stands for)
  std::size_t parse_end = npos;                            // parse only this prefix
  std::size_t too_deep_at = npos;                          // offset of the bracket past max_json_depth

  std::size_t to_original(std::size_t out) const {
    auto it = std::upper_bound(rewrites.begin(), rewrites.end(), out,
                               [](std::size_t o, const Rewrite& r) { return o < r.out_start; });
    if (it == rewrites.begin()) return out;
    const Rewrite& r = *--it;
    if (out < r.out_start + r.out_len) return r.in_start + std::min(out - r.out_start, r.in_len - 1);
    return out - (r.out_start + r.out_len) + (r.in_start + r.in_len);
  }
};

// End of the JSON number starting at i, or npos when the text there is not one.
std::size_t number_end(std::string_view t, std::size_t i) {
  const std::size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n || !is_digit(t[i])) return npos;
  if (t[i] == '0') ++i;
  else while (i < n && is_digit(t[i])) ++i;
  if (i < n && t[i] == '.') {
    if (++i >= n || !is_digit(t[i])) return npos;
    while (i < n && is_digit(t[i])) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !is_digit(t[i])) return npos;
    while (i < n && is_digit(t[i])) ++i;
  }
  return i;
}

// Does this (valid) JSON number lie beyond the double range? Decided from the
// decimal exponent of its leading digit, with from_chars only at the border.
bool overflows(std::string_view tok) {
  std::size_t i = tok[0] == '-' ? 1 : 0;
  // lead: the power of ten of the first nonzero digit, e.g. 2 for 123.4, -2 for 0.05.
  long long int_digits = 0, frac_digits = 0, first_int = -1, first_frac = -1;
  bool after_point = false;
  for (; i < tok.size() && tok[i] != 'e' && tok[i] != 'E'; ++i) {
    if (tok[i] == '.') {
      after_point = true;
      continue;
    }
    const bool nonzero = tok[i] != '0' && first_int < 0 && first_frac < 0;
    if (after_point) {
      ++frac_digits;
      if (nonzero) first_frac = frac_digits;
    } else {
      if (nonzero) first_int = int_digits;
      ++int_digits;
    }
  }
  if (first_int < 0 && first_frac < 0) return false;  // zero
  long long lead = first_int >= 0 ? int_digits - 1 - first_int : -first_frac;
  if (i < tok.size()) {
    ++i;
    bool negative = false;
    if (tok[i] == '+' || tok[i] == '-') negative = tok[i++] == '-';
    long long exponent = 0;
    for (; i < tok.size(); ++i) exponent = std::min(exponent * 10 + (tok[i] - '0'), 1000000000LL);
    lead += negative ? -exponent : exponent;
  }
  if (lead != 308) return lead > 308;
  double value = 0;
  const char* first = tok.data() + (tok[0] == '-' ? 1 : 0);
  return std::from_chars(first, tok.data() + tok.size(), value).ec == std::errc::result_out_of_range;
}

Prepared prepare(std::string_view t) {
  Prepared p;
  std::size_t nulls = 0, copied = 0;
  int depth = 0;
  const auto replace = [&](std::size_t start, std::size_t end, double value) {
    p.text.append(t.substr(copied, start - copied));
    p.rewrites.push_back({start, end - start, p.text.size(), 4});
    p.text += "null";
    p.null_values.emplace_back(nulls++, value);
    copied = end;
  };
  const std::size_t n = t.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = t[i];
    if (c == '"') {
      for (++i; i < n && t[i] != '"'; ++i)
        if (t[i] == '\\') ++i;
      ++i;
    } else if (c == '[' || c == '{') {
      if (++depth > max_json_depth) {
        p.too_deep_at = i;
        p.parse_end = i + 1;
        break;
      }
      ++i;
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
      ++i;
    } else if (is_digit(c) || ((c == '-' || c == '+') && i + 1 < n && (is_digit(t[i + 1]) || is_letter(t[i + 1])))) {
      if (is_letter(t[i + (c == '-' || c == '+' ? 1 : 0)])) {
        std::size_t e = i + 1;
        while (e < n && is_word_char(t[e])) ++e;
        if (auto v = non_finite_word(t.substr(i + 1, e - i - 1))) replace(i, e, c == '-' ? -*v : *v);
        i = e;
        continue;
      }
      const std::size_t e = number_end(t, i);
      if (e == npos) {  // not a number: let the parser say so
        ++i;
        while (i < n && (is_digit(t[i]) || t[i] == '.' || t[i] == 'e' || t[i] == 'E' || t[i] == '+' || t[i] == '-')) ++i;
        continue;
      }
      if (c != '+' && overflows(t.substr(i, e - i))) replace(i, e, c == '-' ? -kInf : kInf);
      i = e;
    } else if (is_letter(c)) {
      std::size_t e = i;
      while (e < n && is_word_char(t[e])) ++e;
      const std::string_view w = t.substr(i, e - i);
      if (w == "null") ++nulls;
      else if (auto v = non_finite_word(w)) replace(i, e, *v);
      i = e;
    } else {
      ++i;
    }
  }
  if (!p.rewrites.empty()) p.text.append(t.substr(copied, std::min(n, p.parse_end) - copied));
  return p;
}

// ---------------------------------------------------------------------------
// Step 2: SAX into a document

class DomBuilder final : public json::json_sax_t {
 public:
  DomBuilder(json& root, const Prepared& prepared, bool reject_duplicates)
      : root_(root), prepared_(prepared), reject_duplicates_(reject_duplicates) {}

  bool null() override {
    const std::size_t ordinal = nulls_++;
    const auto& values = prepared_.null_values;
    if (next_ < values.size() && values[next_].first == ordinal) return put(json(values[next_++].second));
    return put(json(nullptr));
  }
  bool boolean(bool v) override { return put(json(v)); }
  bool number_integer(number_integer_t v) override { return put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(json(v)); }
  bool string(string_t& v) override { return put(json(std::move(v))); }
  bool binary(binary_t& v) override { return put(json::binary(std::move(v))); }
  bool start_object(std::size_t) override {
    stack_.push_back({put(json::object()), nullptr});
    return true;
  }
  bool key(string_t& k) override {
    Frame& f = stack_.back();
    auto& object = f.value->get_ref<json::object_t&>();
    auto [it, inserted] = object.emplace(std::move(k), nullptr);
    if (!inserted && reject_duplicates_) {
      duplicate_ = it->first;
      duplicate_at_ = path_of_top();
      return false;
    }
    f.key = &it->first;
    slot_ = &it->second;
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    stack_.push_back({put(json::array()), nullptr});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const json::exception& ex) override {
    error_position_ = position;
    error_ = ex.what();
    return false;
  }

  std::optional<std::string> duplicate_, duplicate_at_;
  std::optional<std::string> error_;
  std::size_t error_position_ = 0;

 private:
  struct Frame {
    json* value;
    const std::string* key;  // the field being read, in an object
  };

  json* put(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& top = *stack_.back().value;
    if (top.is_array()) {
      auto& array = top.get_ref<json::array_t&>();
      array.push_back(std::move(v));
      return &array.back();
    }
    *slot_ = std::move(v);
    return slot_;
  }

  std::string path_of_top() const {
    std::string s;
    for (std::size_t i = 0; i + 1 < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      if (f.value->is_array()) {
        s += "[" + std::to_string(f.value->size() - 1) + "]";
      } else if (is_plain_name(*f.key)) {
        if (!s.empty()) s += ".";
        s += *f.key;
      } else {
        s += "[" + quote_for_message(*f.key) + "]";  // a control character stays one line: "netw\rk"
      }
    }
    return s;
  }

  json& root_;
  const Prepared& prepared_;
  bool reject_duplicates_;
  std::vector<Frame> stack_;
  json* slot_ = nullptr;
  std::size_t nulls_ = 0, next_ = 0;
};

// "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
// -> "syntax error ...", with an overlong "last read" token shortened, or
// dropped when it would quote our rewritten text rather than the user's.
std::string trim_parser_message(std::string m, bool drop_last_read = false) {
  if (const auto b = m.find("] "); m.rfind("[json.exception.", 0) == 0 && b != npos) m.erase(0, b + 2);
  if (m.rfind("parse error", 0) == 0)
    if (const auto c = m.find(": "); c != npos) m.erase(0, c + 2);
  const std::string marker = "; last read: '";
  const auto lr = m.find(marker);
  if (lr == npos) return m;
  const std::size_t tok_begin = lr + marker.size();
  std::size_t tok_end = npos;
  if (const auto e = m.rfind("'; expected "); e != npos && e >= tok_begin) tok_end = e;
  else if (m.size() > tok_begin && m.back() == '\'') tok_end = m.size() - 1;
  if (tok_end == npos) return m;
  if (drop_last_read) return m.substr(0, lr) + m.substr(tok_end + 1);
  constexpr std::size_t keep = 20;
  if (tok_end - tok_begin <= 2 * keep + 3) return m;
  const auto boundary = [&](std::size_t i) {  // never cut a UTF-8 sequence
    while (i > tok_begin && i < tok_end && (static_cast<unsigned char>(m[i]) & 0xC0) == 0x80) --i;
    return i;
  };
  const std::size_t head_end = boundary(tok_begin + keep), tail_begin = boundary(tok_end - keep);
  return m.substr(0, head_end) + "..." + m.substr(tail_begin);
}

json parse_document(std::string_view text, const std::string& source, bool strict) {
  if (text.size() > max_json_bytes) throw InputError(source, "", too_large(text.size(), true));
  const Prepared prepared = prepare(text);
  std::string_view input = prepared.rewrites.empty() ? text.substr(0, prepared.parse_end) : std::string_view(prepared.text);
  json root;
  DomBuilder builder(root, prepared, strict);
  const char* first = input.data();
  const bool ok = json::sax_parse(first, first + input.size(), &builder);
  if (ok) return root;
  if (builder.duplicate_)
    throw InputError(source, *builder.duplicate_at_, "duplicate field " + quote_for_message(*builder.duplicate_));
  const auto where = [&](std::size_t original_index) {
    std::size_t line = 1, line_start = 0;
    const std::size_t end = std::min(original_index, text.size());
    for (std::size_t i = 0; i < end; ++i)
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    return "line " + std::to_string(line) + ", column " + std::to_string(original_index - line_start + 1);
  };
  if (builder.error_) {
    const std::size_t index = builder.error_position_ > 0 ? builder.error_position_ - 1 : 0;
    if (prepared.too_deep_at != npos && index >= input.size())
      throw InputError(source, where(prepared.too_deep_at),
                       "nested deeper than " + std::to_string(max_json_depth) + " levels");
    const bool after_rewrite = !prepared.rewrites.empty() && prepared.rewrites.front().out_start <= index;
    throw InputError(source, where(prepared.to_original(index)),
                     well_formed_utf8(trim_parser_message(*builder.error_, after_rewrite)));
  }
  throw InputError(source, "", "is not valid JSON");
}

// ---------------------------------------------------------------------------
// Step 3: reading the document

// A JSON path, printed only when a message needs it.
struct Where {
  const Where* parent = nullptr;
  std::string_view key;
  Index index = -1;

  Where operator[](Index i) const { return {this, {}, i}; }
  Where field(std::string_view k) const { return {this, k, -1}; }
  std::string str() const {
    std::string s = parent ? parent->str() : std::string();
    if (index >= 0) {
      s += "[" + std::to_string(index) + "]";
    } else if (!key.empty()) {
      if (!s.empty()) s += ".";
      s += key;
    }
    return s;
  }
};

template <class Names>
std::string join(const Names& names) {
  std::string s;
  for (const auto& n : names) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

class Reader {
 public:
  Reader(const std::string& source, bool is_reply) : source_(source), reply_(is_reply) {}

  Case read_case(const json& doc) {
    const Where root;
    object(doc, root, "an object");
    known_fields(doc, root, {"network", "inputs", "targets", "name"});
    Case c;
    if (const json* name = optional(doc, "name")) c.name = string(*name, root.field("name"));
    const Where wn = root.field("network");
    c.network = read_network(required(doc, root, "network"), wn);
    read_samples(doc, root, c);
    return c;
  }

  Reply read_reply(const json& doc) {
    const Where root;
    object(doc, root, "an object");
    Reply r;
    if (const json* error = optional(doc, "error"); error && !error->is_null()) {
      r.error = error->is_string() ? error->get<std::string>() : write_json(*error, -1);
      return r;
    }
    const Where wls = root.field("layers");
    const json& layers = required(doc, root, "layers");
    if (!layers.is_array()) fail(wls, "expected an array of layers, got " + describe(layers));
    r.layers.reserve(layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const Where wl = wls[static_cast<Index>(l)];
      object(layers[l], wl, "an object (a layer)");
      LayerGradient g;
      reply_weights(required(layers[l], wl, "weights"), wl.field("weights"), g);
      g.biases = numbers(required(layers[l], wl, "biases"), wl.field("biases"));
      r.layers.push_back(std::move(g));
    }
    if (const json* loss = optional(doc, "loss")) r.loss = number(*loss, root.field("loss"));
    if (const json* out = optional(doc, "outputs"))
      r.outputs = Matrix<double>(rows(*out, root.field("outputs"), -1, "", false).transpose());
    if (const json* p = optional(doc, "precision")) r.precision = read_precision(*p, root.field("precision"));
    r.non_finite_tokens = std::move(non_finite_);
    r.non_finite_count = non_finite_count_;
    return r;
  }

 private:
  // The "network" object: its input shape, layers, loss and reduction, validated.
  // Image layers are connected as they are read (their input shape comes from
  // the layers before them), so that a dense layer after them knows its width.
  Network<double> read_network(const json& net, const Where& wn) {
    object(net, wn, "an object");
    known_fields(net, wn, {"layers", "loss", "reduction", "input_shape"});
    Network<double> network;
    if (const json* shape = optional(net, "input_shape"))
      network.input_shape = image_shape(*shape, wn.field("input_shape"));
    const Where wls = wn.field("layers");
    const json& layers = required(net, wn, "layers");
    if (!layers.is_array()) fail(wls, "expected an array of layers, got " + describe(layers));
    LayerInput in = engine_check([&] { return network_input(network.input_shape); }, nullptr);
    if (!in.from.empty()) in.from = "network." + in.from;
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const Where wl = wls[static_cast<Index>(l)];
      network.layers.push_back(read_layer(layers[l], wl, in));
      in = connect(network.layers.back(), l, layers.size(), in, layers[l]);
    }
    const Where wloss = wn.field("loss");
    const std::string loss_name = string(required(net, wn, "loss"), wloss);
    const auto loss = parse_loss(loss_name);
    if (!loss) {
      std::vector<std::string> names;
      for (Loss x : all_losses) names.push_back(to_string(x));
      fail(wloss, "unknown loss " + quote_for_message(loss_name) + " (expected " + join(names) + ")");
    }
    network.loss = *loss;
    if (const json* red = optional(net, "reduction")) {
      const Where wr = wn.field("reduction");
      const std::string name = string(*red, wr);
      const auto r = parse_reduction(name);
      if (!r) fail(wr, "unknown reduction " + quote_for_message(name) + " (expected mean, sum)");
      network.reduction = *r;
    }
    engine_check([&] { validate(network); }, nullptr);
    return network;
  }

  // An engine check, its InputError re-raised with this document's name and the
  // network's path, the kernel's members named as the JSON writes them.
  template <class F>
  auto engine_check(F&& check, const json* layer, const char* prefix = "network") const -> decltype(check()) {
    try {
      return check();
    } catch (const InputError& e) {
      std::string field = e.field();
      const bool pair = layer && layer->contains("kernel") && (*layer)["kernel"].is_array();
      for (const auto& [member, index] : {std::pair<std::string, const char*>{".kernel_h", "[0]"}, {".kernel_w", "[1]"}})
        if (field.size() >= member.size() && field.compare(field.size() - member.size(), member.size(), member) == 0)
          field = field.substr(0, field.size() - 2) + (pair ? index : "");
      throw InputError(e.source(), field, e.problem()).within(source_, prefix);
    }
  }

  // Layer l's input shape filled from what enters it (image layers), its checks
  // run; returns what leaves it, named as the document does ("network.layers[l]").
  LayerInput connect(Layer<double>& layer, std::size_t l, std::size_t L, const LayerInput& in, const json& doc) {
    if (layer.is_dense()) {  // checked with the whole network, as it always was
      LayerInput out{{}, layer.units(), "network.layers[" + std::to_string(l) + "]"};
      return out;
    }
    if (!in.image.empty() && layer.kind == LayerKind::conv2d) {
      layer.conv.height = in.image.height;
      layer.conv.width = in.image.width;
    } else if (!in.image.empty()) {
      layer.pool.channels = in.image.channels;
      layer.pool.height = in.image.height;
      layer.pool.width = in.image.width;
    }
    LayerInput out = engine_check([&] { return check_layer(layer, l, L, in); }, &doc);
    out.from = "network." + out.from;
    return out;
  }

  // "input_shape": [channels, height, width].
  ImageShape image_shape(const json& v, const Where& w) const {
    if (!v.is_array() || v.size() != 3)
      fail(w, "expected [channels, height, width], got " +
                  (v.is_array() ? "an array of " + std::to_string(v.size()) + " entries" : describe(v)));
    return {whole_number(v[0], w[0]), whole_number(v[1], w[1]), whole_number(v[2], w[2])};
  }

  Precision read_precision(const json& v, const Where& w) const {
    const std::string name = string(v, w);
    if (const auto p = parse_precision(name)) return *p;
    std::vector<std::string> names;
    for (Precision p : all_precisions) names.push_back(to_string(p));
    fail(w, "unknown precision " + quote_for_message(name) + " (expected " + join(names) + ")");
  }

  // One of network.layers, of the type it states (dense by default); `in`: what
  // enters it (a dense layer's rows must have in.features entries when that is known).
  Layer<double> read_layer(const json& layer, const Where& wl, const LayerInput& in) {
    object(layer, wl, "an object (a layer)");
    LayerKind kind = LayerKind::dense;
    if (const json* type = optional(layer, "type")) {
      const Where wt = wl.field("type");
      const std::string name = string(*type, wt);
      const auto parsed = parse_layer_kind(name);
      if (!parsed) {
        std::vector<std::string> names;
        for (LayerKind k : all_layer_kinds) names.push_back(to_string(k));
        fail(wt, "unknown layer type " + quote_for_message(name) + " (expected " + join(names) + ")");
      }
      kind = *parsed;
    }
    if (kind == LayerKind::conv2d) return read_conv2d(layer, wl);
    if (is_pooling(kind)) return read_pooling(layer, wl, kind);
    known_fields(layer, wl, {"activation", "weights", "biases", "type"});
    Layer<double> m;
    m.activation = activation(required(layer, wl, "activation"), wl.field("activation"));
    const Where ww = wl.field("weights");
    std::string why;
    if (!in.image.empty())
      why = in.from == "network.input_shape" ? " (network.input_shape: " + to_string(in.image) + ")"
                                             : " (the flattened output of " + in.from + ": " + to_string(in.image) + ")";
    m.weights = rows(required(layer, wl, "weights"), ww, in.features, why, true);
    if (m.weights.rows() < 1) fail(ww, "has no rows (a layer needs at least one unit)");
    if (m.weights.cols() < 1) fail(ww, "has no columns (a layer needs at least one input)");
    m.biases = numbers(required(layer, wl, "biases"), wl.field("biases"));
    return m;
  }

  Activation activation(const json& v, const Where& wa) const {
    const std::string act = string(v, wa);
    const auto parsed = parse_activation(act);
    if (!parsed) {
      std::vector<std::string> names;
      for (Activation a : all_activations) names.push_back(to_string(a));
      fail(wa, "unknown activation " + quote_for_message(act) + " (expected " + join(names) + ")");
    }
    return *parsed;
  }

  // A conv2d layer: in_channels, kernel [kh, kw] (or one number for both),
  // stride (default 1), padding (default 0), weights [out][in][kh][kw], biases [out].
  Layer<double> read_conv2d(const json& layer, const Where& wl) {
    known_fields(layer, wl, {"type", "activation", "in_channels", "kernel", "stride", "padding", "weights", "biases"});
    ConvGeometry g;
    g.in_channels = size_field(layer, wl, "in_channels", 1, std::nullopt);
    const Where wk = wl.field("kernel");
    const json& kernel = required(layer, wl, "kernel");
    if (kernel.is_number()) {
      g.kernel_h = g.kernel_w = size_field(layer, wl, "kernel", 1, std::nullopt);
    } else if (kernel.is_array() && kernel.size() == 2) {
      g.kernel_h = whole_number(kernel[0], wk[0]);
      g.kernel_w = whole_number(kernel[1], wk[1]);
      engine_check([&] { detail::require_at_least(g.kernel_h, 1, wl.str(), "kernel[0]"); }, nullptr, "");
      engine_check([&] { detail::require_at_least(g.kernel_w, 1, wl.str(), "kernel[1]"); }, nullptr, "");
    } else {
      fail(wk, "expected [height, width] (or one number for both), got " +
                   (kernel.is_array() ? "an array of " + std::to_string(kernel.size()) + " entries" : describe(kernel)));
    }
    g.stride = size_field(layer, wl, "stride", 1, Index(1));
    g.padding = size_field(layer, wl, "padding", 0, Index(0));
    const bool pair = kernel.is_array();
    const Activation act = activation(required(layer, wl, "activation"), wl.field("activation"));
    Matrix<double> weights =
        kernels(required(layer, wl, "weights"), wl.field("weights"), {g.in_channels, g.kernel_h, g.kernel_w},
                {"in_channels", pair ? "kernel[0]" : "kernel", pair ? "kernel[1]" : "kernel"});
    Vector<double> biases = numbers(required(layer, wl, "biases"), wl.field("biases"));
    return conv2d_layer(g, act, std::move(weights), std::move(biases));
  }

  // A max_pool or avg_pool layer: window, stride (default: the window); no
  // parameters and no activation (only "identity" may be stated).
  Layer<double> read_pooling(const json& layer, const Where& wl, LayerKind kind) {
    known_fields(layer, wl, {"type", "window", "stride", "activation"});
    const Index window = size_field(layer, wl, "window", 1, std::nullopt);
    Layer<double> m = pool_layer(kind, window, size_field(layer, wl, "stride", 1, window));
    if (const json* act = optional(layer, "activation")) m.activation = activation(*act, wl.field("activation"));
    return m;
  }

  // A size of the geometry: a whole number, at least `least` (and at most
  // max_layer_width); `fallback` when the field is absent (nullopt: required).
  Index size_field(const json& layer, const Where& wl, const char* key, Index least, std::optional<Index> fallback) {
    const json* v = optional(layer, key);
    if (!v && fallback) return *fallback;
    const Index n = whole_number(v ? *v : required(layer, wl, key), wl.field(key));
    engine_check([&] { detail::require_at_least(n, least, wl.str(), key); }, nullptr, "");
    return n;
  }

  // A JSON number with no fraction, within ±2³¹ (every size is far below).
  Index whole_number(const json& v, const Where& w) const {
    if (!v.is_number()) fail(w, "expected a whole number, got " + describe(v));
    const double x = v.get<double>();
    if (!(x == std::floor(x))) fail(w, "expected a whole number, got " + format_number(x));
    if (std::abs(x) > 2147483648.0)
      fail(w, "is " + format_number(x) + ", beyond every size gradcheck accepts (at most " +
                  std::to_string(max_layer_width) + ", docs/limits.md)");
    return static_cast<Index>(x);
  }

  // The case's inputs and targets (one row per sample in the document, one column in the Case).
  void read_samples(const json& doc, const Where& root, Case& c) {
    const Where wi = root.field("inputs"), wt = root.field("targets");
    const ImageShape& image = c.network.input_shape;
    const std::string takes = image.empty() ? " (the inputs of network.layers[0])"
                                            : " (network.input_shape: " + to_string(image) + ", channel-major)";
    const Matrix<double> inputs = rows(required(doc, root, "inputs"), wi, c.network.input_size(), takes, false);
    if (inputs.rows() < 1) fail(wi, "has no rows (a case needs at least one sample)");
    const auto& out = c.network.layers.back();
    const std::string last = "network.layers[" + std::to_string(c.network.layers.size() - 1) + "]";
    const std::string gives = out.is_dense() ? " (the units of " + last + ")"
                                             : " (the outputs of " + last + ": " + to_string(out.output_shape()) + ")";
    const Matrix<double> targets = rows(required(doc, root, "targets"), wt, c.network.output_size(), gives, false);
    if (targets.rows() != inputs.rows())
      fail(wt, "has " + std::to_string(targets.rows()) + " rows, expected " + std::to_string(inputs.rows()) +
                   " (one per row of inputs)");
    if (c.network.loss != Loss::quadratic)
      for (Index s = 0; s < targets.rows(); ++s)
        for (Index k = 0; k < targets.cols(); ++k) {
          const double y = targets(s, k);
          if (y < 0 || y > 1)
            fail(wt[s][k], "is " + format_number(y) + ", outside [0, 1] (" + to_string(c.network.loss) +
                               " needs targets in [0, 1])");
        }
    c.inputs = inputs.transpose();
    c.targets = targets.transpose();
  }
  [[noreturn]] void fail(const Where& w, const std::string& problem) const {
    throw InputError(source_, w.str(), problem);
  }

  void object(const json& v, const Where& w, const char* what) const {
    if (!v.is_object()) fail(w, std::string("expected ") + what + ", got " + describe(v));
  }

  void known_fields(const json& obj, const Where& w, std::initializer_list<std::string_view> allowed) const {
    for (const auto& item : obj.items()) {
      if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
        fail(w, "unknown field " + quote_for_message(item.key()) + " (expected " + join(allowed) + ")");
      }
    }
  }

  static const json* optional(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  const json& required(const json& obj, const Where& w, const char* key) const {
    const json* v = optional(obj, key);
    if (!v) fail(w, std::string("missing field \"") + key + "\"");
    return *v;
  }

  std::string string(const json& v, const Where& w) const {
    if (!v.is_string()) fail(w, "expected a string, got " + describe(v));
    return v.get<std::string>();
  }

  double number(const json& v, const Where& w) {
    double x;
    if (v.is_number()) x = v.get<double>();
    else if (reply_ && v.is_null()) x = std::numeric_limits<double>::quiet_NaN();  // how nlohmann and JavaScript write NaN
    else fail(w, "expected a number, got " + describe(v));
    if (!std::isfinite(x)) {
      if (!reply_) fail(w, "is not finite (" + format_number(x) + "); a case must hold finite numbers");
      if (non_finite_.size() < max_recorded_non_finite) non_finite_.push_back(w.str());
      ++non_finite_count_;
    }
    return x;
  }

  Vector<double> numbers(const json& v, const Where& w) {
    if (!v.is_array()) fail(w, "expected an array of numbers, got " + describe(v));
    Vector<double> out(static_cast<Index>(v.size()));
    for (Index i = 0; i < out.size(); ++i) out(i) = number(v[static_cast<std::size_t>(i)], w[i]);
    return out;
  }

  // An array of rows of numbers as a rows × columns matrix. Every row must have
  // `columns` entries (columns < 0: as many as row 0; `why` explains the
  // expectation). All row lengths are checked before anything is allocated.
  Matrix<double> rows(const json& v, const Where& w, Index columns, const std::string& why, bool is_layer) {
    if (!v.is_array()) fail(w, "expected an array of rows, got " + describe(v));
    const auto& array = v.get_ref<const json::array_t&>();
    const Index n = static_cast<Index>(array.size());
    const std::string reason = columns < 0 ? " (like row 0)" : why;
    for (Index r = 0; r < n; ++r) {
      const json& row = array[static_cast<std::size_t>(r)];
      if (!row.is_array()) {
        if (r == 0 && row.is_number()) fail(w, "expected an array of rows, got an array of numbers");
        fail(w[r], "expected an array of numbers, got " + describe(row));
      }
      const Index len = static_cast<Index>(row.size());
      if (columns < 0) columns = len;
      else if (len != columns)
        fail(w, "row " + std::to_string(r) + " has " + std::to_string(len) + " entries, expected " +
                    std::to_string(columns) + reason);
    }
    if (columns < 0) columns = 0;
    if (is_layer && (n > max_layer_width || columns > max_layer_width))
      fail(w, "is wider than the limit of " + std::to_string(max_layer_width) + " units");
    Matrix<double> m(n, columns);
    for (Index r = 0; r < n; ++r) {
      const auto& row = array[static_cast<std::size_t>(r)].get_ref<const json::array_t&>();
      const Where wr = w[r];
      for (Index k = 0; k < columns; ++k) m(r, k) = number(row[static_cast<std::size_t>(k)], wr[k]);
    }
    return m;
  }

  // An array [out][in][kh][kw] of numbers (a conv2d layer's weights or their
  // gradient) as the out × (in·kh·kw) matrix of the engine: row o is weights[o]
  // flattened row-major. `sizes` are the lengths the three inner levels must
  // have, −1: those of the first entry (a reply); `why` says why. Every length is
  // checked before anything is allocated.
  Matrix<double> kernels(const json& v, const Where& w, std::array<Index, 3> sizes,
                         const std::array<std::string, 3>& why) {
    if (!v.is_array()) fail(w, "expected an array of output channels [out][in][kh][kw], got " + describe(v));
    const auto& outs = v.get_ref<const json::array_t&>();
    const Index out = static_cast<Index>(outs.size());
    if (!reply_ && out < 1) fail(w, "has no entries (a conv2d layer needs at least one output channel)");
    if (out > max_layer_width) fail(w, "is wider than the limit of " + std::to_string(max_layer_width) + " output channels");
    static const char* const what[] = {"kernels (one per input channel)", "rows (a kernel)", "numbers (a kernel row)"};
    // The level below `a` (an entry at depth d, path wa): an array of sizes[d] entries.
    const auto level = [&](const json& a, const Where& wa, int d) -> const json::array_t& {
      if (!a.is_array()) fail(wa, std::string("expected an array of ") + what[d] + ", got " + describe(a));
      const Index n = static_cast<Index>(a.size());
      if (sizes[d] < 0) sizes[d] = n;
      else if (n != sizes[d])
        fail(wa, "has " + std::to_string(n) + " entries, expected " + std::to_string(sizes[d]) + " (" + why[d] + ")");
      return a.get_ref<const json::array_t&>();
    };
    for (Index o = 0; o < out; ++o) {
      const Where wo = w[o];
      const auto& ins = level(outs[std::size_t(o)], wo, 0);
      for (Index i = 0; i < Index(ins.size()); ++i) {
        const Where wi = wo[i];
        const auto& kernel_rows = level(ins[std::size_t(i)], wi, 1);
        for (Index u = 0; u < Index(kernel_rows.size()); ++u) level(kernel_rows[std::size_t(u)], wi[u], 2);
      }
    }
    for (Index& n : sizes) n = std::max<Index>(n, 0);
    Matrix<double> m(out, sizes[0] * sizes[1] * sizes[2]);
    for (Index o = 0; o < out; ++o)
      for (Index i = 0; i < sizes[0]; ++i)
        for (Index u = 0; u < sizes[1]; ++u)
          for (Index k = 0; k < sizes[2]; ++k) {
            const json& x = outs[std::size_t(o)][std::size_t(i)][std::size_t(u)][std::size_t(k)];
            m(o, (i * sizes[1] + u) * sizes[2] + k) = number(x, w[o][i][u][k]);
          }
    return m;
  }

  // A reply's weights: rows of numbers, or a conv2d kernel [out][in][kh][kw]
  // (an array whose first entries nest four levels deep), its shape kept.
  void reply_weights(const json& v, const Where& w, LayerGradient& g) {
    int depth = 0;
    for (const json* p = &v; p->is_array() && depth <= 4; p = &(*p)[0]) {
      ++depth;
      if (p->empty()) break;
    }
    if (depth != 4) {
      g.weights = rows(v, w, -1, "", false);
      return;
    }
    const std::array<std::string, 3> like = {"like " + w[0].str(), "like " + w[0][0].str(), "like " + w[0][0][0].str()};
    g.weights = kernels(v, w, {-1, -1, -1}, like);
    g.weights_shape = {Index(v.size()), Index(v[0].size()), Index(v[0][0].size()), Index(v[0][0][0].size())};
  }

  const std::string& source_;
  bool reply_;
  std::vector<std::string> non_finite_;
  std::size_t non_finite_count_ = 0;
};

// ---------------------------------------------------------------------------
// Files

std::string read_file(const std::string& path) {
  const auto message = [](int err) { return std::generic_category().message(err); };
  int fd;
  do fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) throw InputError(path, "", "cannot open: " + message(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    if (static_cast<unsigned long long>(st.st_size) > max_json_bytes)
      throw InputError(path, "", too_large(static_cast<std::size_t>(st.st_size), true));
    text.reserve(static_cast<std::size_t>(st.st_size));
  }
  char buf[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw InputError(path, "", "cannot read: " + message(errno));
    }
    if (got == 0) break;
    text.append(buf, static_cast<std::size_t>(got));
    if (text.size() > max_json_bytes) throw InputError(path, "", too_large(max_json_bytes, false));
  }
  return text;
}

// ---------------------------------------------------------------------------
// Writing

json rows_json(const Matrix<double>& m) {  // one JSON row per matrix row
  json out = json::array();
  for (Index r = 0; r < m.rows(); ++r) {
    json row = json::array();
    for (Index k = 0; k < m.cols(); ++k) row.push_back(m(r, k));
    out.push_back(std::move(row));
  }
  return out;
}

json vector_json(const Vector<double>& v) {
  json out = json::array();
  for (Index i = 0; i < v.size(); ++i) out.push_back(v(i));
  return out;
}

// A conv2d kernel matrix out × (in·kh·kw) as the nested arrays [out][in][kh][kw].
json kernels_json(const Matrix<double>& m, Index in, Index kh, Index kw) {
  json out = json::array();
  for (Index o = 0; o < m.rows(); ++o) {
    json channel = json::array();
    for (Index i = 0; i < in; ++i) {
      json kernel = json::array();
      for (Index u = 0; u < kh; ++u) {
        json row = json::array();
        for (Index k = 0; k < kw; ++k) row.push_back(m(o, (i * kh + u) * kw + k));
        kernel.push_back(std::move(row));
      }
      channel.push_back(std::move(kernel));
    }
    out.push_back(std::move(channel));
  }
  return out;
}

// A layer as the case format writes it: a dense layer exactly as before image
// layers existed (no "type"), the others with their type and geometry.
json layer_json(const Layer<double>& layer) {
  switch (layer.kind) {
    case LayerKind::dense:
      return {{"activation", to_string(layer.activation)},
              {"weights", rows_json(layer.weights)},
              {"biases", vector_json(layer.biases)}};
    case LayerKind::conv2d: {
      const ConvGeometry& g = layer.conv;
      return {{"type", to_string(layer.kind)},
              {"activation", to_string(layer.activation)},
              {"in_channels", g.in_channels},
              {"kernel", {g.kernel_h, g.kernel_w}},
              {"stride", g.stride},
              {"padding", g.padding},
              {"weights", kernels_json(layer.weights, g.in_channels, g.kernel_h, g.kernel_w)},
              {"biases", vector_json(layer.biases)}};
    }
    case LayerKind::max_pool:
    case LayerKind::avg_pool:
      return {{"type", to_string(layer.kind)}, {"window", layer.pool.window}, {"stride", layer.pool.stride}};
  }
  return json::object();
}

int key_rank(const std::string& k) {
  static const char* const order[] = {"name",    "error",  "network",     "input_shape", "layers",  "type",
                                      "activation", "in_channels", "kernel", "window",  "stride",  "padding",
                                      "weights", "biases", "loss",        "reduction",   "inputs",  "targets",
                                      "outputs", "precision"};
  for (int i = 0; i < static_cast<int>(std::size(order)); ++i)
    if (k == order[i]) return i;
  return static_cast<int>(std::size(order));
}

void write(const json& v, int indent, int level, std::string& out) {
  const auto newline = [&](int lvl) {
    out += '\n';
    out.append(static_cast<std::size_t>(indent * lvl), ' ');
  };
  switch (v.type()) {
    case json::value_t::number_float: append_number(v.get<double>(), out); return;
    case json::value_t::array: {
      if (v.empty()) {
        out += "[]";
        return;
      }
      const bool flat = indent < 0 || std::none_of(v.begin(), v.end(), [](const json& e) { return e.is_structured(); });
      out += '[';
      bool first = true;
      for (const json& e : v) {
        if (!first) out += indent < 0 ? "," : (flat ? ", " : ",");
        first = false;
        if (!flat) newline(level + 1);
        write(e, indent, level + 1, out);
      }
      if (!flat) newline(level);
      out += ']';
      return;
    }
    case json::value_t::object: {
      if (v.empty()) {
        out += "{}";
        return;
      }
      std::vector<std::pair<const std::string*, const json*>> items;
      for (auto it = v.begin(); it != v.end(); ++it) items.emplace_back(&it.key(), &it.value());
      std::stable_sort(items.begin(), items.end(),
                       [](const auto& a, const auto& b) { return key_rank(*a.first) < key_rank(*b.first); });
      out += '{';
      bool first = true;
      for (const auto& [key, value] : items) {
        if (!first) out += ',';
        first = false;
        if (indent >= 0) newline(level + 1);
        out += json(*key).dump(-1, ' ', false, json::error_handler_t::replace);
        out += indent < 0 ? ":" : ": ";
        write(*value, indent, level + 1, out);
      }
      if (indent >= 0) newline(level);
      out += '}';
      return;
    }
    default: out += v.dump(-1, ' ', false, json::error_handler_t::replace); return;
  }
}

template <class Result, class Read>
Result guarded(const std::string& source, Read&& read) {
  try {
    return read();
  } catch (const json::exception& e) {  // a reader bug must still be a clean input error
    throw InputError(source, "", well_formed_utf8(trim_parser_message(e.what())));
  }
}

}  // namespace
}  // namespace detail

Case case_from_json(const nlohmann::json& document, const std::string& source) {
  return detail::guarded<Case>(source, [&] { return detail::Reader(source, false).read_case(document); });
}

Case parse_case(std::string_view text, const std::string& source) {
  return case_from_json(detail::parse_document(text, source, true), source);
}

Case read_case(const std::string& path) { return parse_case(detail::read_file(path), path); }

Reply reply_from_json(const nlohmann::json& document, const std::string& source) {
  return detail::guarded<Reply>(source, [&] { return detail::Reader(source, true).read_reply(document); });
}

Reply parse_reply(std::string_view text, const std::string& source) {
  return reply_from_json(detail::parse_document(text, source, false), source);
}

Reply read_reply(const std::string& path) { return parse_reply(detail::read_file(path), path); }

Reply make_reply(const Network<double>& net, const Gradients<double>& gradients, std::optional<double> loss,
                 const Matrix<double>* outputs) {
  if (gradients.weights.size() != net.layers.size() || gradients.biases.size() != net.layers.size())
    throw std::invalid_argument("make_reply: gradients have " + std::to_string(gradients.weights.size()) +
                                " layers, the network " + std::to_string(net.layers.size()));
  Reply r;
  for (std::size_t l = 0; l < net.layers.size(); ++l) {
    r.layers.push_back({gradients.weights[l], gradients.biases[l]});
    const auto& layer = net.layers[l];
    if (layer.kind == LayerKind::conv2d)
      r.layers.back().weights_shape = {layer.conv.out_channels, layer.conv.in_channels, layer.conv.kernel_h,
                                       layer.conv.kernel_w};
  }
  r.loss = loss;
  if (outputs) r.outputs = *outputs;
  return r;
}

nlohmann::json to_json(const Case& c) {
  using detail::json;
  json layers = json::array();
  for (const auto& layer : c.network.layers) layers.push_back(detail::layer_json(layer));
  json j = json::object();
  if (!c.name.empty()) j["name"] = c.name;
  j["network"] = {{"layers", std::move(layers)},
                  {"loss", to_string(c.network.loss)},
                  {"reduction", to_string(c.network.reduction)}};
  if (const ImageShape& s = c.network.input_shape; !s.empty())
    j["network"]["input_shape"] = {s.channels, s.height, s.width};
  j["inputs"] = detail::rows_json(c.inputs.transpose());
  j["targets"] = detail::rows_json(c.targets.transpose());
  return j;
}

nlohmann::json to_json(const Reply& r) {
  using detail::json;
  if (r.error) return {{"error", *r.error}};
  json layers = json::array();
  for (const auto& g : r.layers) {
    const auto& d = g.weights_shape;
    const bool kernel = d.size() == 4 && d[0] == g.weights.rows() && d[1] * d[2] * d[3] == g.weights.cols();
    layers.push_back({{"weights", kernel ? detail::kernels_json(g.weights, d[1], d[2], d[3]) : detail::rows_json(g.weights)},
                      {"biases", detail::vector_json(g.biases)}});
  }
  json j = {{"layers", std::move(layers)}};
  if (r.loss) j["loss"] = *r.loss;
  if (r.outputs) j["outputs"] = detail::rows_json(r.outputs->transpose());
  if (r.precision) j["precision"] = to_string(*r.precision);
  return j;
}

std::string write_json(const nlohmann::json& document, int indent) {
  std::string out;
  detail::write(document, indent, 0, out);
  return out;
}

std::string case_to_json(const Case& c, int indent) { return write_json(to_json(c), indent); }
std::string reply_to_json(const Reply& r, int indent) { return write_json(to_json(r), indent); }

}  // namespace gradcheck
