#pragma once
// The table of bad inputs (docs/bad-inputs.md) as data for tests: the table's
// rows are read from the page itself, and write_inputs() creates the files a
// row's command reads. Used by engine/tests/bad_inputs_test.cpp (the library
// readers on those files) and cli/tests/bad_input_cli_test.cpp (the built
// `gradcheck` binary), so the page, the library and the CLI cannot drift apart.
//
// How to use:
//   for (const auto& row : gradcheck::bad_inputs::rows_of_the_page()) {
//     gradcheck::bad_inputs::write_inputs(row.id, dir);   // e.g. dir/malformed.json
//     ... run row.args in dir, expect row.message and row.exit_code ...
//   }

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace gradcheck::bad_inputs {

namespace fs = std::filesystem;

inline fs::path page() { return fs::path(GRADCHECK_SOURCE_DIR) / "docs" / "bad-inputs.md"; }

struct Row {
  std::string id;                 // `malformed-json`
  std::vector<std::string> args;  // the command after `gradcheck`, split at spaces
  std::string message;            // what follows "gradcheck: " on stderr
  int exit_code = -1;
};

// GoogleTest prints a parameter with this (not as a dump of its bytes).
inline void PrintTo(const Row& r, std::ostream* os) { *os << r.id; }

// The rows of every table on the page whose first cell is an `id` and which
// has five cells: | `id` | bad input | `gradcheck ...` | `message` | exit |.
inline std::vector<Row> rows_of_the_page() {
  std::ifstream in(page());
  if (!in) throw std::runtime_error("cannot read " + page().string());
  const auto code = [](const std::string& cell) {  // the text of the first `...` in a cell
    const auto a = cell.find('`'), b = cell.find('`', a + 1);
    if (a == std::string::npos || b == std::string::npos) throw std::runtime_error("no `code` in cell: " + cell);
    return cell.substr(a + 1, b - a - 1);
  };
  std::vector<Row> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::size_t start = 1;
    for (std::size_t bar; (bar = line.find(" | ", start)) != std::string::npos; start = bar + 3)
      cells.push_back(line.substr(start, bar - start));
    cells.push_back(line.substr(start, line.rfind(" |") - start));
    if (cells.size() != 5) continue;
    Row r;
    r.id = code(cells[0]);
    std::istringstream words(code(cells[2]));
    for (std::string w; words >> w;) r.args.push_back(w);
    if (r.args.empty() || r.args.front() != "gradcheck") throw std::runtime_error("row " + r.id + ": no gradcheck command");
    r.args.erase(r.args.begin());
    r.message = code(cells[3]);
    r.exit_code = std::stoi(cells[4]);
    rows.push_back(std::move(r));
  }
  return rows;
}

namespace detail {

inline void write(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

inline std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  if (at == std::string::npos) throw std::runtime_error("bad_inputs: \"" + from + "\" not in the base text");
  return s.replace(at, from.size(), to);
}

// The 3-2-1 case of docs/case-format.md, one field per line so that a syntax
// error has a line worth naming.
inline const std::string base_case =
    "{\n"
    "  \"network\": {\n"
    "    \"layers\": [\n"
    "      {\"activation\": \"sigmoid\", \"weights\": [[0.1, 0.15, 0.2], [0.3, 0.35, 0.4]], \"biases\": [0.25, 0.45]},\n"
    "      {\"activation\": \"sigmoid\", \"weights\": [[0.5, 0.55]], \"biases\": [0.6]}\n"
    "    ],\n"
    "    \"loss\": \"quadratic\"\n"
    "  },\n"
    "  \"inputs\": [[0.0, 0.5, 1.0]],\n"
    "  \"targets\": [[1.0]]\n"
    "}\n";

// A conv2d case: 1 × 5 × 5 images, conv2d 3 × 3 (padding 1) + relu, 2 × 2 max pool, dense 8 -> 1.
inline const std::string conv_case =
    "{\n"
    "  \"network\": {\n"
    "    \"input_shape\": [1, 5, 5],\n"
    "    \"layers\": [\n"
    "      {\"type\": \"conv2d\", \"activation\": \"relu\", \"in_channels\": 1, \"kernel\": [3, 3], \"padding\": 1,\n"
    "       \"weights\": [[[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]], [[[-0.1, 0, 0], [0, 0, 0], [0, 0, 0.1]]]],\n"
    "       \"biases\": [0.05, -0.05]},\n"
    "      {\"type\": \"max_pool\", \"window\": 2},\n"
    "      {\"activation\": \"sigmoid\", \"weights\": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]], \"biases\": [0.25]}\n"
    "    ],\n"
    "    \"loss\": \"quadratic\"\n"
    "  },\n"
    "  \"inputs\": [[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9,"
    " 2.0, 2.1, 2.2, 2.3, 2.4]],\n"
    "  \"targets\": [[1.0]]\n"
    "}\n";

inline std::string idx_file(const std::vector<std::uint32_t>& dims, std::size_t data_bytes) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xFF);
  for (std::size_t i = 0; i < data_bytes; ++i) s += static_cast<char>((i * 37) % 256);
  return s;
}

// Stored (level 0) gzip: where a cut falls is then the same byte of data with
// every zlib version, so the message's byte count is stable.
inline std::string gzip_stored(const std::string& bytes) {
  const fs::path tmp = fs::temp_directory_path() / ("gradcheck-bad-inputs-" + std::to_string(::getpid()) + ".gz");
  gzFile f = gzopen(tmp.c_str(), "wb0");
  if (!f) throw std::runtime_error("cannot gzopen " + tmp.string());
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  std::ifstream in(tmp, std::ios::binary);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(tmp);
  return out;
}

}  // namespace detail

// Writes the files row `id` reads into `dir`. Throws for an id it does not know,
// so a row added to the page without its input fails its test.
inline void write_inputs(const std::string& id, const fs::path& dir) {
  using detail::base_case;
  using detail::conv_case;
  using detail::replace;
  const auto put = [&](const std::string& name, const std::string& bytes) { detail::write(dir / name, bytes); };
  const std::string l0 = "\"activation\": \"sigmoid\", \"weights\": [[0.1";
  const std::string l1 = "\"activation\": \"sigmoid\", \"weights\": [[0.5";
  const std::string images = detail::idx_file({3, 28, 28}, 3 * 28 * 28), labels = detail::idx_file({3}, 0) + std::string("\x09\x00\x03", 3);

  // Cases (gradcheck check FILE)
  if (id == "malformed-json") put("malformed.json", replace(base_case, "  },\n", "  }\n"));
  else if (id == "weights-not-rows") put("weights-string.json", replace(base_case, "[[0.5, 0.55]]", "\"0.5 0.55\""));
  else if (id == "number-as-string") put("string.json", replace(base_case, "0.35", "\"0.35\""));
  else if (id == "missing-field") put("no-loss.json", replace(base_case, "    ],\n    \"loss\": \"quadratic\"\n", "    ]\n"));
  else if (id == "ragged-weights") put("ragged.json", replace(base_case, "[0.3, 0.35, 0.4]", "[0.3, 0.35]"));
  else if (id == "mismatched-weights") put("mismatched.json", replace(base_case, "[[0.5, 0.55]]", "[[0.5, 0.55, 0.6]]"));
  else if (id == "inputs-mismatch") put("inputs.json", replace(base_case, "[[0.0, 0.5, 1.0]]", "[[0.0, 0.5]]"));
  else if (id == "unknown-activation") put("activation.json", replace(base_case, l1, replace(l1, "sigmoid", "sigmoyd")));
  else if (id == "unknown-loss") put("loss.json", replace(base_case, "\"quadratic\"", "\"mse\""));
  else if (id == "softmax-hidden") put("softmax.json", replace(base_case, l0, replace(l0, "sigmoid", "softmax")));
  else if (id == "nan-weight") put("nan.json", replace(base_case, "0.3,", "NaN,"));
  else if (id == "infinity-input") put("infinity.json", replace(base_case, "[[0.0, 0.5, 1.0]]", "[[0.0, -Infinity, 1.0]]"));
  else if (id == "cross-entropy-target")
    put("target.json", replace(replace(base_case, "\"quadratic\"", "\"cross_entropy\""), "[[1.0]]", "[[1.5]]"));
  else if (id == "empty-batch")
    put("empty.json", replace(base_case, "[[0.0, 0.5, 1.0]],\n  \"targets\": [[1.0]]", "[],\n  \"targets\": []"));
  else if (id == "wide-layer") {
    std::string row = "0";
    for (int i = 1; i < (1 << 20) + 1; ++i) row += ",0";
    put("wide.json", "{\"network\": {\"layers\": [{\"activation\": \"identity\", \"weights\": [[" + row +
                         "]], \"biases\": [0]}], \"loss\": \"quadratic\"}, \"inputs\": [[0]], \"targets\": [[0]]}\n");
  } else if (id == "conv-kernel-too-large") {
    put("conv-kernel.json", replace(replace(conv_case, "[1, 5, 5]", "[1, 1, 5]"), "\"padding\": 1", "\"padding\": 0"));
  } else if (id == "huge-file") {
    // Sparse: the size is refused from stat(), nothing is read or stored.
    put("huge.json", "");
    if (::truncate((dir / "huge.json").c_str(), (off_t{64} << 20) + 1) != 0) throw std::runtime_error("truncate failed");
  }
  // Replies (gradcheck verify CASE REPLY)
  else if (id == "reply-not-json") {
    put("case.json", base_case);
    put("garbage.json", "got here\n");
  } else if (id == "reply-missing-layers") {
    put("case.json", base_case);
    put("no-layers.json", "{\"loss\": 0.0222598}\n");
  } else if (id == "reply-ragged") {
    put("case.json", base_case);
    put("ragged-reply.json", "{\"layers\": [{\"weights\": [[0, -0.002, -0.004], [0, -0.0019]], \"biases\": [-0.004, -0.0038]},"
                             " {\"weights\": [[-0.022, -0.026]], \"biases\": [-0.035]}]}\n");
  }
  // IDX files (gradcheck train --idx-images IMAGES --idx-labels LABELS)
  else if (id == "idx-wrong-magic") {
    put("images.idx", "\x89PNG\r\n\x1a\n" + images.substr(8));
    put("labels.idx", labels);
  } else if (id == "idx-truncated") {
    put("images.idx", images.substr(0, images.size() - 1000));
    put("labels.idx", labels);
  } else if (id == "idx-wrong-count") {
    put("images.idx", images);
    put("labels.idx", detail::idx_file({2}, 0) + std::string("\x09\x00", 2));
  } else if (id == "idx-label-out-of-range") {
    put("images.idx", images);
    put("labels.idx", detail::idx_file({3}, 0) + "\x09\x0c\x03");
  } else if (id == "idx-gzip-cut") {
    put("images.idx.gz", detail::gzip_stored(images).substr(0, 1000));
    put("labels.idx", labels);
  } else if (id == "image-size") {
    put("images.idx", detail::idx_file({3, 4, 5}, 60));
    put("labels.idx", labels);
  } else if (id == "absurd-net" || id == "too-many-parameters") {
    put("images.idx", images);
    put("labels.idx", labels);
  } else {
    throw std::runtime_error("bad_inputs::write_inputs: no input for row \"" + id + "\"");
  }
}

}  // namespace gradcheck::bad_inputs
