// The IDX reader. A gzip file of one member is inflated whole by libdeflate
// (fast); everything else, and every file libdeflate refuses, goes through
// zlib's gz* functions, which read gzip'd and plain files alike: what zlib
// reports (a cut stream, corrupt data, a read error) is checked after every
// short read, before blaming the IDX layout.
#include <gradcheck/engine/idx.hpp>
#include <gradcheck/engine/huge_pages.hpp>
#include <gradcheck/engine/network.hpp>

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>

namespace gradcheck::idx {
namespace {

constexpr std::uint8_t kUnsignedByteType = 0x08;
// gzread takes an unsigned length and returns an int; stay well inside both.
constexpr std::size_t kMaxChunk = std::size_t{1} << 24;
// The first allocation for data, before any of it has been seen.
constexpr std::size_t kFirstAllocation = std::size_t{1} << 16;

std::string hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, static_cast<unsigned>(v));
  return buf;
}

std::string join_dims(const std::vector<std::uint32_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " × " : "") + std::to_string(dims[i]);
  return s;
}

struct GzClose {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

// A buffer of n bytes, zeroed, on huge pages where the system allows.
std::vector<std::uint8_t> fresh_buffer(std::size_t n) {
  std::vector<std::uint8_t> v;
  v.reserve(n);
  advise_huge_pages(v.data(), n);
  v.resize(n);
  return v;
}

// What a file says of its own size, read from its first two and last four
// bytes: a plain file's data is at most its size; a gzip file's at most its
// trailer's size field (the size mod 2^32) and deflate's largest ratio, 1032 : 1.
struct FileFacts {
  std::uint64_t size = 0;      // bytes on disk (0: unreadable or empty)
  bool gzip = false;           // starts with 1f 8b
  std::uint64_t inflated = 0;  // plain: size; gzip: min(size field, 1032 · size)
};

FileFacts file_facts(std::ifstream& f) {
  FileFacts facts;
  f.seekg(0, std::ios::end);
  const std::streamoff size = f ? static_cast<std::streamoff>(f.tellg()) : -1;
  if (size <= 0) return facts;
  facts.size = facts.inflated = static_cast<std::uint64_t>(size);
  if (size < 18) return facts;  // too short for a gzip header and trailer
  unsigned char head[2], tail[4];
  f.seekg(0);
  f.read(reinterpret_cast<char*>(head), 2);
  f.seekg(size - 4);
  f.read(reinterpret_cast<char*>(tail), 4);
  if (!f || head[0] != 0x1f || head[1] != 0x8b) return facts;
  facts.gzip = true;
  const std::uint64_t field = std::uint64_t{tail[0]} | (std::uint64_t{tail[1]} << 8) | (std::uint64_t{tail[2]} << 16) |
                              (std::uint64_t{tail[3]} << 24);
  facts.inflated = std::min(field, 1032 * facts.size);
  return facts;
}

struct DecompressorFree {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

// The whole decompressed file when it is one gzip member that libdeflate
// inflates in one call (about twice zlib's speed on Fashion-MNIST); nullopt
// otherwise: not gzip, several members, a size field beyond the limit, or any
// error, all of which the zlib path then reads or reports with its exact message.
std::optional<std::vector<std::uint8_t>> inflate_whole(const std::string& path, std::uint64_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  const FileFacts facts = file_facts(f);
  // Not gzip (plain files are not read twice), or larger than the limit allows:
  // the IDX header is at most 4 + 4 · 255 bytes.
  if (!facts.gzip || facts.size > max_bytes || facts.inflated > max_bytes + 1024) return std::nullopt;
  std::vector<std::uint8_t> in = fresh_buffer(static_cast<std::size_t>(facts.size));
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(in.data()), static_cast<std::streamsize>(in.size()))) return std::nullopt;
  const std::unique_ptr<libdeflate_decompressor, DecompressorFree> d(libdeflate_alloc_decompressor());
  std::vector<std::uint8_t> out = fresh_buffer(static_cast<std::size_t>(facts.inflated));
  std::size_t used = 0, produced = 0;
  if (!d || libdeflate_gzip_decompress_ex(d.get(), in.data(), in.size(), out.data(), out.size(), &used, &produced) !=
                LIBDEFLATE_SUCCESS ||
      used != in.size() || produced != out.size())
    return std::nullopt;
  return out;
}

// Reads an IDX file front to back: from memory when inflate_whole managed the
// whole file, else through zlib's gz* stream (plain files too).
class Reader {
 public:
  Reader(const std::string& path, std::optional<std::vector<std::uint8_t>> whole) : path_(path), memory_(std::move(whole)) {
    if (memory_) return;
    errno = 0;
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) fail("", std::string("cannot open: ") + (errno ? std::strerror(errno) : "out of memory"));
    // A larger buffer than zlib's 8 KiB default halves the system calls on the 26 MB file.
    gzbuffer(file_.get(), 1U << 17);
  }

  // Reads up to n bytes; fewer only at the end of the data. Throws on what
  // zlib reports as an error.
  std::size_t read(std::uint8_t* out, std::size_t n) {
    if (memory_) {
      const std::size_t k = std::min(n, memory_->size() - at_);
      if (k) std::memcpy(out, memory_->data() + at_, k);
      at_ += k;
      position_ += k;
      return k;
    }
    std::size_t got = 0;
    while (got < n) {
      const auto chunk = static_cast<unsigned>(std::min(n - got, kMaxChunk));
      const int r = gzread(file_.get(), out + got, chunk);
      if (r < 0) check_stream();
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
      position_ += static_cast<std::uint64_t>(r);
    }
    if (got < n) check_stream();
    return got;
  }

  // From memory: up to `total` bytes of data moved (not copied) into `bytes`,
  // the rest left for count_rest; false when reading a stream.
  bool take(std::vector<std::uint8_t>& bytes, std::uint64_t total) {
    if (!memory_) return false;
    std::vector<std::uint8_t>& m = *memory_;
    m.erase(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(at_));  // the header: the data moves down in place
    at_ = 0;
    if (m.size() > total) {
      rest_ = m.size() - total;
      m.resize(static_cast<std::size_t>(total));
    }
    position_ += m.size();
    bytes = std::move(m);
    m.clear();
    return true;
  }

  // Counts what is left, up to `cap` bytes; 0 means the data ended where announced.
  std::uint64_t count_rest(std::uint64_t cap) {
    if (memory_) return rest_ + (memory_->size() - at_);
    std::array<std::uint8_t, 1 << 16> sink;
    std::uint64_t extra = 0;
    while (extra <= cap) {
      const std::size_t r = read(sink.data(), sink.size());
      extra += r;
      if (r < sink.size()) break;
    }
    return extra;
  }

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw InputError(path_, field, problem);
  }

 private:
  // zlib keeps a stream error (Z_BUF_ERROR: the input ended inside the gzip
  // stream, including its trailer) without failing the read that met it, so
  // this runs after every short read.
  void check_stream() const {
    int code = Z_OK;
    const char* raw = gzerror(file_.get(), &code);
    if (code == Z_OK || code == Z_STREAM_END) return;
    std::string msg = raw ? raw : "";
    // gzerror prefixes its message with the path given to gzopen.
    const std::string prefix = path_ + ": ";
    if (msg.compare(0, prefix.size(), prefix) == 0) msg.erase(0, prefix.size());
    // zlib delivers everything before a cut, so the position is exact there; a
    // data error discards the output of the read that met it, so no position.
    const std::string zlib = " (zlib: " + msg + ")";
    switch (code) {
      case Z_BUF_ERROR:
        fail("gzip", "stream cut short after " + std::to_string(position_) + " decompressed bytes" + zlib);
      case Z_DATA_ERROR:
        fail("gzip", "corrupt data" + zlib);
      case Z_ERRNO:
        fail("", "cannot read: " + msg);
      case Z_MEM_ERROR:
        fail("", "out of memory while reading");
      default:
        fail("gzip", "zlib error " + std::to_string(code) + zlib);
    }
  }

  std::string path_;
  std::optional<std::vector<std::uint8_t>> memory_;  // the whole file, when inflate_whole read it
  std::size_t at_ = 0;                               // read position in memory_
  std::uint64_t rest_ = 0;                           // bytes after the data, once take()n
  GzFile file_;
  std::uint64_t position_ = 0;
};

std::uint32_t big_endian(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

std::string count_of(std::uint64_t n, const char* what) {
  return std::to_string(n) + " " + what;
}

// An Array built by hand (not by read) may disagree with itself; never index past its bytes.
void check_consistent(const Array& array) {
  std::uint64_t total = 1;
  bool overflow = false;
  for (std::uint32_t d : array.dims) overflow |= __builtin_mul_overflow(total, std::uint64_t{d}, &total);
  if (overflow || total != array.bytes.size())
    throw InputError(array.path, "data",
                     "holds " + count_of(array.bytes.size(), "bytes") + ", the dimensions " + join_dims(array.dims) +
                         " need " + (overflow ? "more than 2^64" : std::to_string(total)));
}

}  // namespace

namespace {

// The magic number and the dimensions, checked; leaves `in` at the first data byte.
std::vector<std::uint32_t> read_dims(Reader& in) {
  std::uint8_t magic[4];
  const std::size_t got_magic = in.read(magic, 4);
  if (got_magic < 4)
    in.fail("header", "truncated (" + std::to_string(got_magic) + " bytes; an IDX file starts with a 4-byte magic number)");
  const std::uint32_t m = big_endian(magic);
  if (magic[0] != 0 || magic[1] != 0)
    in.fail("header", "magic " + hex(m, 8) + " is not an IDX file (its first two bytes must be zero)");
  if (magic[2] != kUnsignedByteType)
    in.fail("header", "magic " + hex(m, 8) + " is not an IDX file of unsigned bytes (type byte " + hex(magic[2], 2) +
                          "; expected " + hex(kUnsignedByteType, 2) + ")");
  const unsigned rank = magic[3];
  if (rank == 0) in.fail("header", "magic " + hex(m, 8) + " announces rank 0; an IDX array needs at least one dimension");

  std::vector<std::uint8_t> raw_dims(4 * std::size_t{rank});
  const std::size_t got_dims = in.read(raw_dims.data(), raw_dims.size());
  if (got_dims < raw_dims.size())
    in.fail("header", "truncated (" + std::to_string(4 + got_dims) + " of " + std::to_string(4 + raw_dims.size()) +
                          " header bytes)");
  std::vector<std::uint32_t> dims(rank);
  for (unsigned i = 0; i < rank; ++i) dims[i] = big_endian(&raw_dims[4 * i]);
  return dims;
}

}  // namespace

Array read_header(const std::string& path) {
  Reader in(path, std::nullopt);
  Array out;
  out.path = path;
  out.dims = read_dims(in);
  return out;
}

Array read(const std::string& path, const Limits& limits) {
  Reader in(path, inflate_whole(path, limits.max_bytes));
  Array out;
  out.path = path;
  out.dims = read_dims(in);

  // The product may overflow 64 bits (255 dimensions of 2^32); stop as soon as
  // it passes the limit. A zero dimension makes everything else irrelevant.
  std::uint64_t total = 1;
  const bool empty = std::find(out.dims.begin(), out.dims.end(), 0U) != out.dims.end();
  if (empty) total = 0;
  for (std::size_t i = 0; i < out.dims.size() && !empty; ++i) {
    if (out.dims[i] > limits.max_bytes / total)
      in.fail("header", join_dims(out.dims) + " bytes exceeds the limit of " + std::to_string(limits.max_bytes) +
                            " bytes (Limits::max_bytes, see docs/idx.md)");
    total *= out.dims[i];
  }

  // Grow with the data actually read: a short file claiming the limit costs
  // only what it holds (plus one doubling). The first allocation is what the
  // file itself can hold, so an honest file is read in one piece.
  std::size_t have = 0;
  const bool whole = in.take(out.bytes, total);  // inflated already: the data moved, nothing to read
  if (whole) have = out.bytes.size();
  std::ifstream file(path, std::ios::binary);
  const std::uint64_t first = whole ? 0 : std::max<std::uint64_t>(kFirstAllocation, file_facts(file).inflated);
  while (!whole && have < total) {
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(total, have == 0 ? first : 2 * std::uint64_t{have}));
    out.bytes.resize(want);
    const std::size_t r = in.read(out.bytes.data() + have, want - have);
    have += r;
    if (have < want) break;
  }
  if (have < total) {
    out.bytes.resize(have);
    in.fail("data", "truncated: the header announces " + count_of(total, "bytes") + ", the file holds " +
                        std::to_string(have));
  }

  // Surplus bytes mean the header and the data disagree. Counting them is capped
  // so that a huge (or endless) tail is not read to its end.
  const std::uint64_t cap = std::max<std::uint64_t>(limits.max_bytes, 1);
  const std::uint64_t extra = in.count_rest(cap);
  if (extra > cap)
    in.fail("data", "more than " + std::to_string(cap) + " bytes beyond the " + std::to_string(total) +
                        " the header announces");
  if (extra > 0)
    in.fail("data", std::to_string(extra) + " bytes beyond the " + std::to_string(total) + " the header announces");
  return out;
}

namespace {

// The shape of a rank-3 image array, checked: features per image and images
// kept (`first` >= 0 keeps the first ones; -1 all).
struct ImageShape {
  Index features = 0, count = 0;
};

ImageShape image_shape(const Array& array, Index first) {
  if (array.dims.size() != 3)
    throw InputError(array.path, "header",
                     "rank " + std::to_string(array.dims.size()) + " (" + join_dims(array.dims) +
                         "); images need rank 3 (count × rows × cols)");
  check_consistent(array);
  const auto count = static_cast<Index>(array.dims[0]);
  // A file of zero images passes the byte limit whatever its image size, and
  // rows·cols may not even fit an Index: no network takes more than max_layer_width inputs.
  const std::uint64_t pixels = std::uint64_t{array.dims[1]} * array.dims[2];
  if (pixels > static_cast<std::uint64_t>(max_layer_width))
    throw InputError(array.path, "header",
                     "images of " + std::to_string(array.dims[1]) + " × " + std::to_string(array.dims[2]) +
                         " pixels exceed the limit of " + std::to_string(max_layer_width) +
                         " features (max_layer_width, see docs/limits.md)");
  if (first < -1) throw std::invalid_argument("idx::images: first is " + std::to_string(first) + ", expected -1 or >= 0");
  if (first > count)
    throw InputError(array.path, "header",
                     "holds " + std::to_string(count) + " images, fewer than the " + std::to_string(first) + " asked for");
  return {static_cast<Index>(pixels), first < 0 ? count : first};
}

// What each byte stands for: the two readings differ only in this table.
std::array<double, 256> byte_values(ByteReading reading) {
  std::array<double, 256> value{};
  for (int b = 0; b < 256; ++b) {
    const int v = (reading == ByteReading::signed_char && b > 127) ? b - 256 : b;
    value[static_cast<std::size_t>(b)] = v / 255.0;
  }
  return value;
}

}  // namespace

Matrix<double> images(const Array& array, ByteReading reading, Index first) {
  const ImageShape shape = image_shape(array, first);
  const std::array<double, 256> value = byte_values(reading);
  Matrix<double> x(shape.features, shape.count);
  // Column-major features × count is exactly the file's byte order.
  const std::size_t size = static_cast<std::size_t>(shape.features) * static_cast<std::size_t>(shape.count);
  const std::uint8_t* src = array.bytes.data();
  double* dst = x.data();
  for (std::size_t i = 0; i < size; ++i) dst[i] = value[src[i]];
  return x;
}

ByteInputs<double> image_bytes(Array&& array, ByteReading reading, Index first) {
  const ImageShape shape = image_shape(array, first);
  ByteInputs<double> b{shape.features, shape.count, std::move(array.bytes), byte_values(reading)};
  b.codes.resize(static_cast<std::size_t>(shape.features) * static_cast<std::size_t>(shape.count));
  // Give back what --limit or the reader's doubling left unused; not the few
  // header bytes of a whole-file inflate, which would copy 47 MB to save 16.
  if (b.codes.capacity() - b.codes.size() > b.codes.size() / 8 + 4096) b.codes.shrink_to_fit();
  return b;
}

std::vector<int> labels(const Array& array) {
  if (array.dims.size() != 1)
    throw InputError(array.path, "header",
                     "rank " + std::to_string(array.dims.size()) + " (" + join_dims(array.dims) +
                         "); labels need rank 1 (count)");
  check_consistent(array);
  return std::vector<int>(array.bytes.begin(), array.bytes.end());
}

Dataset<double> load_bytes(const std::string& images_path, const std::string& labels_path, ByteReading reading,
                           Index limit, int classes, const Limits& limits) {
  if (classes < 1) throw std::invalid_argument("idx::load_bytes: classes is " + std::to_string(classes) + ", expected >= 1");
  if (limit < -1) throw std::invalid_argument("idx::load_bytes: limit is " + std::to_string(limit) + ", expected -1 or >= 0");

  Array image_array = read(images_path, limits);
  const Array label_array = read(labels_path, limits);
  if (image_array.dims.size() != 3) (void)image_shape(image_array, 0);  // throws the rank error
  std::vector<int> y = labels(label_array);
  if (label_array.count() != image_array.count())
    throw InputError(labels_path, "header",
                     "holds " + count_of(label_array.count(), "labels") + ", but " + images_path + " holds " +
                         count_of(image_array.count(), "images"));
  for (std::size_t i = 0; i < y.size(); ++i)
    if (y[i] >= classes)
      throw InputError(labels_path, "data[" + std::to_string(i) + "]",
                       "label " + std::to_string(y[i]) + " is outside 0.." + std::to_string(classes - 1));

  Dataset<double> d;
  d.bytes = image_bytes(std::move(image_array), reading, limit);
  y.resize(static_cast<std::size_t>(d.size()));
  d.targets = one_hot<double>(y, classes);
  d.labels = std::move(y);
  return d;
}

Dataset<double> load(const std::string& images_path, const std::string& labels_path, ByteReading reading,
                     Index limit, int classes, const Limits& limits) {
  Dataset<double> d = load_bytes(images_path, labels_path, reading, limit, classes, limits);
  d.inputs = d.dense_inputs();
  d.bytes.reset();
  return d;
}

}  // namespace gradcheck::idx
