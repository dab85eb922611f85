#pragma once
// The IDX format of MNIST and Fashion-MNIST, gzip'd or plain.
//
// How to use:
//   auto train = gradcheck::idx::load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
//   train.inputs    // 784 × 60000, pixel / 255 in [0, 1], one column per image
//   (idx::load_bytes keeps the pixels as bytes: train.bytes, decoded per batch)
//   train.targets   // 10 × 60000, one-hot
//   train.labels    // 60000 ints in 0..9
//
// An IDX file is a 4-byte magic number 0x00 0x00 <type> <rank>, then <rank>
// big-endian uint32 dimensions, then the product of the dimensions in bytes
// (only type 0x08, unsigned bytes, is read here). Images are rank 3
// (count × rows × cols, row-major), labels rank 1. See docs/idx.md.
//
// Everything a file announces is checked against what it holds: a wrong magic
// number, a short header, missing or surplus data, a gzip stream that is cut
// short or corrupt, and a size above Limits::max_bytes each throw an InputError
// "<path>: <header|data|gzip>: <problem>". Memory follows the bytes actually
// read, never the header's word alone, so a 100-byte file that announces
// gigabytes costs no more than its 100 bytes (a gzip'd one at most what its
// own size field and deflate's 1032 : 1 ratio allow, about 100 KB).

#include <gradcheck/engine/dataset.hpp>
#include <gradcheck/engine/scalar.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace gradcheck::idx {

// How pixel bytes become numbers; pixels are divided by 255 either way.
enum class ByteReading {
  // Right: byte b is b / 255, so 200 -> 0.784.
  unsigned_bytes,
  // A classic bug, reproduced on purpose for the fixture that explains
  // "accuracy stuck at 57 %": bytes read into a (signed) `char`, so values
  // above 127 wrap negative, b - 256: 200 -> -56 -> -56 / 255 = -0.2196.
  signed_char,
};

struct Limits {
  // Largest data section (product of the dimensions) accepted, checked from the
  // header before anything is allocated. 256 MiB holds every MNIST-family file
  // (Fashion-MNIST's training images are 47,040,000 bytes; EMNIST digits
  // 188,160,000) while keeping the images as doubles within 2 GiB.
  std::uint64_t max_bytes = std::uint64_t{1} << 28;
};

// An IDX file of unsigned bytes as it is on disk.
struct Array {
  std::string path;                  // where it came from, for error messages
  std::vector<std::uint32_t> dims;   // e.g. {60000, 28, 28}
  std::vector<std::uint8_t> bytes;   // the data, row-major, product(dims) bytes

  std::uint64_t count() const { return dims.empty() ? 0 : dims.front(); }  // items along the first dimension
};

// Reads a whole file, gzip'd or plain (detected from its first bytes).
Array read(const std::string& path, const Limits& limits = {});

// Reads the header only (magic number and dimensions, checked as `read` checks
// them): `dims` set, `bytes` empty. For the shape of the images before loading them.
Array read_header(const std::string& path);

// A rank-3 array (count × rows × cols) as a (rows·cols) × count matrix: column j
// is image j, feature r·cols + c is pixel (r, c). `first` (>= 0) keeps only the
// first images; -1 keeps all.
Matrix<double> images(const Array& array, ByteReading reading = ByteReading::unsigned_bytes,
                      Index first = -1);

// The same images kept as bytes (Dataset::bytes: one byte per pixel and the
// reading's table), taking over the array's data instead of copying it.
ByteInputs<double> image_bytes(Array&& array, ByteReading reading = ByteReading::unsigned_bytes, Index first = -1);

// A rank-1 array as integers, one per item.
std::vector<int> labels(const Array& array);

// Images and labels of one set, checked against each other: equal counts, every
// label in 0..classes-1. `limit` (>= 0) keeps the first `limit` samples (both
// files are still read and checked whole); -1 keeps all.
Dataset<double> load(const std::string& images_path, const std::string& labels_path,
                     ByteReading reading = ByteReading::unsigned_bytes, Index limit = -1,
                     int classes = 10, const Limits& limits = {});

// load, with the images kept as bytes (Dataset::bytes; `inputs` stays empty):
// 8 × less memory, the same numbers through Dataset::input_columns and the
// trainer. `gradcheck train` and the fixtures load this way.
Dataset<double> load_bytes(const std::string& images_path, const std::string& labels_path,
                           ByteReading reading = ByteReading::unsigned_bytes, Index limit = -1,
                           int classes = 10, const Limits& limits = {});

}  // namespace gradcheck::idx
