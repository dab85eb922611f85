#pragma once
// A deliberately small XML 1.0 reader for the tests: it accepts only well-formed input
// (one root, matched tags, quoted attributes, known entities, no raw '<' or '&' in text,
// no illegal control characters, valid UTF-8) and throws std::runtime_error naming the
// offset otherwise. Enough to parse junit.xml and the inline SVG back and count elements.

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gradcheck::reports::test {

struct XmlNode {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::vector<XmlNode> children;
  std::string text;  // concatenated character data directly inside this element

  std::string attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? std::string() : it->second;
  }
  // All descendants (and this node) named `n`, in document order.
  void collect(const std::string& n, std::vector<const XmlNode*>& out) const {
    if (name == n) out.push_back(this);
    for (const auto& c : children) c.collect(n, out);
  }
  std::vector<const XmlNode*> all(const std::string& n) const {
    std::vector<const XmlNode*> out;
    collect(n, out);
    return out;
  }
};

inline bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    unsigned cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

class XmlReader {
 public:
  explicit XmlReader(std::string_view s) : s_(s) {}

  XmlNode document() {
    if (!is_valid_utf8(s_)) fail("invalid UTF-8");
    for (char ch : s_)
      if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\r' && ch != '\t') fail("illegal control character");
    if (s_.substr(0, 5) == "<?xml") {
      const auto end = s_.find("?>");
      if (end == std::string_view::npos) fail("unterminated XML declaration");
      i_ = end + 2;
    }
    misc();
    XmlNode root = element();
    misc();
    if (i_ != s_.size()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML not well-formed at offset " + std::to_string(i_) + ": " + what);
  }
  bool starts(std::string_view p) const { return s_.substr(i_, p.size()) == p; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  void misc() {
    for (;;) {
      ws();
      if (starts("<!--")) {
        const auto end = s_.find("-->", i_ + 4);
        if (end == std::string_view::npos) fail("unterminated comment");
        i_ = end + 3;
      } else {
        return;
      }
    }
  }
  std::string name() {
    const std::size_t start = i_;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                      (i_ > start && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
      if (!ok) break;
      ++i_;
    }
    if (i_ == start) fail("expected a name");
    return std::string(s_.substr(start, i_ - start));
  }
  std::string entity() {  // at '&'
    const auto end = s_.find(';', i_);
    if (end == std::string_view::npos || end - i_ > 10) fail("bad entity");
    const std::string_view e = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    if (e == "lt") return "<";
    if (e == "gt") return ">";
    if (e == "amp") return "&";
    if (e == "quot") return "\"";
    if (e == "apos") return "'";
    if (!e.empty() && e[0] == '#') {
      unsigned long cp = 0;
      try {
        cp = e.size() > 1 && e[1] == 'x' ? std::stoul(std::string(e.substr(2)), nullptr, 16) : std::stoul(std::string(e.substr(1)));
      } catch (...) {
        fail("bad character reference");
      }
      std::string out;
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
      return out;
    }
    fail("unknown entity &" + std::string(e) + ";");
  }
  XmlNode element() {
    if (!starts("<")) fail("expected an element");
    ++i_;
    XmlNode node;
    node.name = name();
    for (;;) {
      const std::size_t before = i_;
      ws();
      if (starts("/>")) {
        i_ += 2;
        return node;
      }
      if (starts(">")) {
        ++i_;
        break;
      }
      if (i_ == before) fail("expected whitespace before an attribute");
      const std::string key = name();
      ws();
      if (!starts("=")) fail("expected '=' after attribute " + key);
      ++i_;
      ws();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) fail("unquoted attribute " + key);
      const char q = s_[i_++];
      std::string value;
      while (i_ < s_.size() && s_[i_] != q) {
        if (s_[i_] == '<') fail("'<' in attribute " + key);
        if (s_[i_] == '&') {
          value += entity();
        } else {
          value += s_[i_++];
        }
      }
      if (i_ >= s_.size()) fail("unterminated attribute " + key);
      ++i_;
      if (node.attrs.count(key)) fail("duplicate attribute " + key);
      node.attrs[key] = value;
    }
    // Content.
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated element <" + node.name + ">");
      if (starts("</")) {
        i_ += 2;
        const std::string closing = name();
        if (closing != node.name) fail("</" + closing + "> closes <" + node.name + ">");
        ws();
        if (!starts(">")) fail("expected '>'");
        ++i_;
        return node;
      }
      if (starts("<!--")) {
        misc();
        continue;
      }
      if (starts("<")) {
        node.children.push_back(element());
        continue;
      }
      if (s_[i_] == '&') {
        node.text += entity();
        continue;
      }
      if (starts("]]>")) fail("']]>' in text");
      node.text += s_[i_++];
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

inline XmlNode parse_xml(std::string_view s) { return XmlReader(s).document(); }

// Every <svg ...>...</svg> fragment of an HTML page (ours never nest).
inline std::vector<std::string> svg_fragments(const std::string& html) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = html.find("<svg", pos)) != std::string::npos) {
    const std::size_t end = html.find("</svg>", pos);
    if (end == std::string::npos) break;
    out.push_back(html.substr(pos, end + 6 - pos));
    pos = end + 6;
  }
  return out;
}

inline std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + needle.size())) ++n;
  return n;
}

}  // namespace gradcheck::reports::test
