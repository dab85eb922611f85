#pragma once
// Escaping and number formatting shared by the renderers (internal).

#include <gradcheck/engine/case.hpp>

#include <string>
#include <string_view>

namespace gradcheck::reports::detail {

// Valid UTF-8, with invalid sequences replaced by U+FFFD. Every renderer passes user
// text through it: a reply from a probed program may hold any bytes.
std::string valid_utf8(std::string_view s);

// XML/HTML text and attribute values: & < > " ' escaped; control characters other than
// tab and newline (illegal in XML 1.0) replaced by U+FFFD; invalid UTF-8 replaced.
std::string xml_escape(std::string_view s);

// An XML attribute value: as xml_escape, and newline/tab as character references, which
// attribute-value normalisation would otherwise turn into spaces.
std::string xml_attr(std::string_view s);

// A number for a data-sort attribute, readable by JavaScript's Number(): "Infinity", "-1e-09".
std::string js_number(double v);

// Markdown inline text: CommonMark punctuation that could start markup is backslash-
// escaped; newlines become spaces (a table cell or a heading is one line).
std::string md_escape(std::string_view s);

// Coordinates in SVG: fixed, at most 2 decimals, no locale.
std::string coord(double v);

// "2 layers 3 -> 2 sigmoid -> 1 softmax, cross_entropy (mean), batch 1"
std::string describe_case(const Case& c);

// `text` right- or left-aligned in `width` columns (a column of a text table).
std::string right(const std::string& text, std::size_t width);
std::string left(const std::string& text, std::size_t width);

// "pass" → "PASS"
std::string upper(std::string_view s);

// An HTML id from a heading: lowercase letters, digits and '-'.
std::string slug(std::string_view s);

}  // namespace gradcheck::reports::detail

#include <gradcheck/reports/document.hpp>

namespace gradcheck::reports::detail {
// "gradcheck 0.1.0" unless the document names its generator.
std::string generator_name(const Document& doc);
}  // namespace gradcheck::reports::detail
