#pragma once
// Numbers as text, written the same way in every format and independent of the locale.
//
//   format_number(0.11470326)   == "0.114703"
//   format_number(1.2e-9, 3)    == "1.2e-09"
//   format_number(NAN)          == "NaN",   format_number(-INFINITY) == "-inf"
//   json_number(0.5)            == 0.5,     json_number(NAN) == "NaN"   (JSON has no NaN)
//
// Adapters use these so that a value reads the same in report.md, report.html and junit.xml,
// and so that report.json never loses a non-finite value (nlohmann would write null).

#include <gradcheck/engine/format.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace gradcheck::reports {

using gradcheck::format_number;  // engine/format.hpp: the one number formatter

// A finite value as a JSON number; NaN, inf, -inf as the strings "NaN", "inf", "-inf".
nlohmann::json json_number(double value);

}  // namespace gradcheck::reports
