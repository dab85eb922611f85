#pragma once
// The JSON case and reply formats (docs/case-format.md): reading, validating
// and writing them.
//
// How to use:
//   Case c = read_case("case.json");           // bad input throws InputError:
//                                              //   "case.json: network.layers[1].weights: row 0 has 3 entries, expected 2"
//   std::string line = case_to_json(c, -1);    // compact, one line (the probe's transport)
//   std::string text = case_to_json(c);        // indented, one matrix row per line
//   Reply r = parse_reply(line_from_program, "reply to case 3");
//   if (r.declined()) ...                      // {"error": "..."}
//   r.non_finite_tokens                        // where the program sent NaN/Infinity
//   nlohmann::json j = to_json(c);             // for embedding in a report
//
// Layout: in JSON, `inputs`, `targets` and `outputs` have one row per sample;
// in memory they are features × samples (one column per sample). `weights[j][i]`
// is the weight from input i into unit j in both.
//
// A case is strict: unknown fields, duplicate fields and non-finite numbers are
// errors, and its shapes are checked against each other. A reply is lenient:
// unknown fields are ignored (an implementation may add an id), NaN and
// ±Infinity are values (written bare, as NaN, Infinity, -Infinity, nan, inf,
// or as null), and its shapes are not compared with any case here: a
// mismatch is a finding of the verifier, not a parse error.
//
// Numbers round-trip exactly: the writer emits the shortest decimal that reads
// back to the same double, and always with a '.' or an exponent, so that -0.0
// keeps its sign.

#include <gradcheck/engine/case.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gradcheck {

// Largest case or reply text accepted, checked before reading a file. The
// parser holds the document in memory at up to ~10 bytes per input byte.
inline constexpr std::size_t max_json_bytes = std::size_t{64} << 20;  // 64 MiB
// Deepest nesting of arrays and objects accepted (a case needs 6, a reply 5).
inline constexpr int max_json_depth = 64;
// Paths kept in Reply::non_finite_tokens (Reply::non_finite_count has them all).
inline constexpr std::size_t max_recorded_non_finite = 100;

// `source` names the text in messages (a file name, "<stdin>", "reply to case 3").
Case parse_case(std::string_view text, const std::string& source);
// File errors read "<path>: cannot open: No such file or directory".
Case read_case(const std::string& path);
// From an already-parsed document (e.g. a case embedded in a report); NaN
// values in it are refused like bare NaN tokens.
Case case_from_json(const nlohmann::json& document, const std::string& source);

Reply parse_reply(std::string_view text, const std::string& source);
Reply read_reply(const std::string& path);
Reply reply_from_json(const nlohmann::json& document, const std::string& source);

// The engine's own gradients as a reply (what a correct implementation sends).
// `outputs`: outputs × samples, or nullptr to leave them out.
Reply make_reply(const Network<double>& net, const Gradients<double>& gradients,
                 std::optional<double> loss, const Matrix<double>* outputs);

// Documents for embedding. Non-finite values are kept as NaN/±Infinity numbers,
// which nlohmann's own dump() writes as null; write_json() writes them bare.
nlohmann::json to_json(const Case& c);
nlohmann::json to_json(const Reply& r);

// indent >= 0: one field per line, every array of numbers (a matrix row, a
// bias vector) on one line. indent < 0: compact, one line, no spaces.
std::string case_to_json(const Case& c, int indent = 2);
std::string reply_to_json(const Reply& r, int indent = 2);

// Any document in the same style: shortest round-trip numbers, non-finite
// numbers as bare NaN, Infinity, -Infinity, keys of cases and replies in the
// documented order (name, error, network, layers, activation, weights, biases,
// loss, reduction, inputs, targets, outputs), other keys alphabetically.
std::string write_json(const nlohmann::json& document, int indent = 2);

}  // namespace gradcheck
