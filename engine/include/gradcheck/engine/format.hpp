#pragma once
// Numbers as text, the same in every sentence, table and report, independent of
// the locale: printf's %.*g and %.*f spelled by std::to_chars, with non-finite
// values as "NaN", "inf", "-inf".
//
//   format_number(0.11470326)  == "0.114703"     format_number(1.2e-9, 3) == "1.2e-09"
//   format_fixed(31.31, 1)     == "31.3"         format_number(NAN)       == "NaN"

#include <string>

namespace gradcheck {

std::string format_number(double value, int significant_digits = 6);  // %.{digits}g
std::string format_fixed(double value, int decimals);                   // %.{decimals}f

}  // namespace gradcheck
