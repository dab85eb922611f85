// The IDX reader: values, the two byte readings, one test per malformed-input
// class with its exact message, and the facts of the installed Fashion-MNIST.
#include "test_helpers.hpp"

#include <gradcheck/engine/idx.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
// Writing gzip'd fixtures; zlib reaches this binary through gradcheck::engine's link line.
#include <zlib.h>

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <new>
#include <string>
#include <vector>

// The largest single allocation while a tracker is active: the proof that an
// absurd header is refused before allocating, and that memory follows the data.
// Replacing the global operator new is program-wide; it only counts.
namespace {
std::atomic<bool> g_tracking{false};
std::atomic<std::size_t> g_largest{0};
}  // namespace

// GCC flags free() in an inlined replacement operator delete as a mismatch with
// `new`; here both sides are this file's malloc/free pair.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// Every unaligned form is replaced, so that no allocation made by one of
// them is released by a sanitizer's (or the library's) counterpart: the
// nothrow form is what std::stable_sort's temporary buffer uses.
namespace {
void* tracked_malloc(std::size_t n) noexcept {
  if (g_tracking.load(std::memory_order_relaxed)) {
    std::size_t seen = g_largest.load(std::memory_order_relaxed);
    while (n > seen && !g_largest.compare_exchange_weak(seen, n)) {
    }
  }
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace
void* operator new(std::size_t n) {
  if (void* p = tracked_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = tracked_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return tracked_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return tracked_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace gradcheck {
namespace {

using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;
using testing::input_error_of;

std::size_t largest_allocation_during(const std::function<void()>& f) {
  g_largest = 0;
  g_tracking = true;
  try {
    f();
  } catch (...) {
    g_tracking = false;
    throw;
  }
  g_tracking = false;
  return g_largest;
}

// An IDX file in memory: magic 0 0 type rank, big-endian dims, data.
Bytes idx_file(const std::vector<std::uint32_t>& dims, const Bytes& data, std::uint8_t type = 0x08) {
  Bytes out = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(d >> shift));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "gradcheck-idx-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  std::string write(const std::string& name, const Bytes& bytes) const {
    const std::string p = file(name);
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + p);
    return p;
  }

  std::string write_gzip(const std::string& name, const Bytes& bytes) const {
    const std::string p = file(name);
    gzFile f = gzopen(p.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot gzopen " + p);
    if (!bytes.empty() && gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size()))
      throw std::runtime_error("gzwrite failed");
    if (gzclose(f) != Z_OK) throw std::runtime_error("gzclose failed");
    return p;
  }

  static Bytes slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  fs::path path_;
};

// 3 images of 2 × 2 with distinctive pixels, and their labels.
const Bytes kPixels = {0, 255, 200, 127,  /**/ 128, 1, 254, 0,  /**/ 10, 20, 30, 40};
const Bytes kLabels = {2, 0, 9};

TEST(IdxReader, ReadsPlainAndGzipFilesToTheSameValues) {
  TempDir dir;
  const auto plain = idx::read(dir.write("plain", idx_file({3, 2, 2}, kPixels)));
  const auto gz = idx::read(dir.write_gzip("packed.gz", idx_file({3, 2, 2}, kPixels)));
  EXPECT_EQ(plain.dims, (std::vector<std::uint32_t>{3, 2, 2}));
  EXPECT_EQ(plain.bytes, kPixels);
  EXPECT_EQ(gz.dims, plain.dims);
  EXPECT_EQ(gz.bytes, plain.bytes);
  EXPECT_EQ(plain.count(), 3U);
}

TEST(IdxReader, ReadsAGzipFileOfTwoMembersAsOneStream) {
  // libdeflate inflates one member; a second sends the file to zlib, which reads both.
  TempDir dir;
  const Bytes whole = idx_file({3, 2, 2}, kPixels);
  Bytes two = TempDir::slurp(dir.write_gzip("a.gz", Bytes(whole.begin(), whole.begin() + 10)));
  const Bytes second = TempDir::slurp(dir.write_gzip("b.gz", Bytes(whole.begin() + 10, whole.end())));
  two.insert(two.end(), second.begin(), second.end());
  const auto a = idx::read(dir.write("two.gz", two));
  EXPECT_EQ(a.dims, (std::vector<std::uint32_t>{3, 2, 2}));
  EXPECT_EQ(a.bytes, kPixels);
}

TEST(IdxReader, AWholeGzipFileWithTheHeaderAloneIsTruncatedData) {
  TempDir dir;
  const auto p = dir.write_gzip("empty.gz", idx_file({4}, {}));
  EXPECT_EQ(input_error_of([&] { idx::read(p); }), p + ": data: truncated: the header announces 4 bytes, the file holds 0");
}

TEST(IdxReader, AGzipSizeFieldThatDisagreesWithTheDataIsZlibsLengthError) {
  TempDir dir;
  Bytes gz = TempDir::slurp(dir.write_gzip("f.gz", idx_file({3, 2, 2}, kPixels)));
  gz[gz.size() - 4] ^= 1;  // the trailer's size field, mod 2^32
  const auto p = dir.write("lying.gz", gz);
  const std::string message = input_error_of([&] { idx::read(p); });
  EXPECT_EQ(message, p + ": gzip: corrupt data (zlib: incorrect length check)");
}

TEST(IdxImages, MapsByte255ToOneAndZeroToZeroWithOneColumnPerImage) {
  TempDir dir;
  const auto x = idx::images(idx::read(dir.write("i", idx_file({3, 2, 2}, kPixels))));
  ASSERT_EQ(x.rows(), 4);
  ASSERT_EQ(x.cols(), 3);
  EXPECT_EQ(x(0, 0), 0.0) << "byte 0";
  EXPECT_EQ(x(1, 0), 1.0) << "byte 255";
  EXPECT_EQ(x(2, 0), 200.0 / 255.0) << "byte 200, image 0 pixel (1, 0)";
  EXPECT_EQ(x(0, 1), 128.0 / 255.0) << "image 1 starts at byte 4";
  EXPECT_EQ(x(3, 2), 40.0 / 255.0) << "last pixel of image 2";
}

TEST(IdxImages, SignedCharReadingWrapsBytesAbove127Negative) {
  TempDir dir;
  const auto a = idx::read(dir.write("i", idx_file({3, 2, 2}, kPixels)));
  const auto x = idx::images(a, idx::ByteReading::signed_char);
  EXPECT_EQ(x(2, 0), -56.0 / 255.0) << "byte 200";
  EXPECT_EQ(x(3, 0), 127.0 / 255.0) << "byte 127";
  EXPECT_EQ(x(0, 1), -128.0 / 255.0) << "byte 128";
  EXPECT_EQ(x(1, 0), -1.0 / 255.0) << "byte 255";
  EXPECT_EQ(x(2, 1), -2.0 / 255.0) << "byte 254";
  EXPECT_EQ(x(1, 1), 1.0 / 255.0) << "byte 1";
  EXPECT_EQ(x(0, 0), 0.0) << "byte 0";
}

TEST(IdxLoad, GivesImagesLabelsAndOneHotTargets) {
  TempDir dir;
  const auto d = idx::load(dir.write_gzip("i.gz", idx_file({3, 2, 2}, kPixels)), dir.write("l", idx_file({3}, kLabels)));
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.features(), 4);
  EXPECT_EQ(d.labels, (std::vector<int>{2, 0, 9}));
  ASSERT_EQ(d.targets.rows(), 10);
  for (Index j = 0; j < 3; ++j)
    for (Index k = 0; k < 10; ++k)
      EXPECT_EQ(d.targets(k, j), k == d.labels[static_cast<std::size_t>(j)] ? 1.0 : 0.0) << "sample " << j << " class " << k;
  EXPECT_EQ(d.inputs(1, 0), 1.0);
}

TEST(IdxLoad, KeepsTheFirstLimitSamples) {
  TempDir dir;
  const auto images = dir.write("i", idx_file({3, 2, 2}, kPixels));
  const auto labels = dir.write("l", idx_file({3}, kLabels));
  const auto d = idx::load(images, labels, idx::ByteReading::unsigned_bytes, 2);
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.labels, (std::vector<int>{2, 0}));
  EXPECT_EQ(d.targets.cols(), 2);
  EXPECT_EQ(d.inputs(0, 1), 128.0 / 255.0);
  EXPECT_EQ(idx::load(images, labels, idx::ByteReading::unsigned_bytes, 0).size(), 0);
  EXPECT_EQ(input_error_of([&] { idx::load(images, labels, idx::ByteReading::unsigned_bytes, 4); }),
            images + ": header: holds 3 images, fewer than the 4 asked for");
}

TEST(IdxReader, RejectsAMissingFile) {
  TempDir dir;
  const auto p = dir.file("absent.gz");
  EXPECT_EQ(input_error_of([&] { idx::read(p); }), p + ": cannot open: No such file or directory");
}

TEST(IdxReader, RejectsADirectory) {
  TempDir dir;
  const auto p = dir.file("");
  EXPECT_EQ(input_error_of([&] { idx::read(p); }), p + ": cannot read: Is a directory");
}

TEST(IdxReader, RejectsAMagicNumberOfAnotherElementType) {
  TempDir dir;
  const auto p = dir.write("f", idx_file({3}, {0, 0, 0}, 0x09));
  EXPECT_EQ(input_error_of([&] { idx::read(p); }),
            p + ": header: magic 0x00000901 is not an IDX file of unsigned bytes (type byte 0x09; expected 0x08)");
}

TEST(IdxReader, RejectsAFileThatIsNotIdx) {
  TempDir dir;
  const auto p = dir.write("f", {0x89, 'P', 'N', 'G', 13, 10, 26, 10});
  EXPECT_EQ(input_error_of([&] { idx::read(p); }),
            p + ": header: magic 0x89504e47 is not an IDX file (its first two bytes must be zero)");
}

TEST(IdxReader, RejectsRankZero) {
  TempDir dir;
  const auto p = dir.write("f", {0, 0, 8, 0, 7});
  EXPECT_EQ(input_error_of([&] { idx::read(p); }),
            p + ": header: magic 0x00000800 announces rank 0; an IDX array needs at least one dimension");
}

TEST(IdxReader, RejectsATruncatedHeader) {
  TempDir dir;
  Bytes b = idx_file({60000, 28, 28}, {});
  b.resize(8);
  const auto p = dir.write("f", b);
  EXPECT_EQ(input_error_of([&] { idx::read(p); }), p + ": header: truncated (8 of 16 header bytes)");
  const auto q = dir.write("g", {0, 0});
  EXPECT_EQ(input_error_of([&] { idx::read(q); }),
            q + ": header: truncated (2 bytes; an IDX file starts with a 4-byte magic number)");
  const auto e = dir.write("empty", {});
  EXPECT_EQ(input_error_of([&] { idx::read(e); }),
            e + ": header: truncated (0 bytes; an IDX file starts with a 4-byte magic number)");
}

TEST(IdxReader, RejectsTruncatedDataPlainOrGzip) {
  TempDir dir;
  const Bytes b = idx_file({60000, 28, 28}, Bytes(1000, 7));
  const auto p = dir.write("f", b);
  EXPECT_EQ(input_error_of([&] { idx::read(p); }),
            p + ": data: truncated: the header announces 47040000 bytes, the file holds 1000");
  // A complete gzip stream of a short file: zlib is content, the IDX layout is not.
  const auto g = dir.write_gzip("f.gz", b);
  EXPECT_EQ(input_error_of([&] { idx::read(g); }),
            g + ": data: truncated: the header announces 47040000 bytes, the file holds 1000");
}

TEST(IdxReader, RejectsDataBeyondWhatTheHeaderAnnounces) {
  TempDir dir;
  Bytes b = idx_file({3, 2, 2}, kPixels);
  b.insert(b.end(), 12, 0);
  const auto p = dir.write("f", b);
  EXPECT_EQ(input_error_of([&] { idx::read(p); }), p + ": data: 12 bytes beyond the 12 the header announces");
  const auto g = dir.write_gzip("f.gz", b);
  EXPECT_EQ(input_error_of([&] { idx::read(g); }), g + ": data: 12 bytes beyond the 12 the header announces");
}

TEST(IdxReader, StopsCountingAHugeSurplusAtTheLimit) {
  TempDir dir;
  Bytes b = idx_file({2}, {1, 2});
  b.insert(b.end(), 1 << 17, 0);
  const auto p = dir.write("f", b);
  idx::Limits small;
  small.max_bytes = 1000;
  EXPECT_EQ(input_error_of([&] { idx::read(p, small); }), p + ": data: more than 1000 bytes beyond the 2 the header announces");
}

// A gzip'd file with incompressible data, so that cutting it in half cuts the data.
Bytes gzip_of_noise(const TempDir& dir, std::uint32_t n) {
  Bytes data(n);
  std::uint32_t s = 12345;
  for (auto& v : data) v = static_cast<std::uint8_t>((s = s * 1664525U + 1013904223U) >> 24);
  return TempDir::slurp(dir.write_gzip("noise.gz", idx_file({n}, data)));
}

TEST(IdxReader, RejectsAGzipStreamCutInTheMiddle) {
  TempDir dir;
  Bytes gz = gzip_of_noise(dir, 100000);
  gz.resize(gz.size() / 2);
  const auto p = dir.write("cut.gz", gz);
  const std::string message = input_error_of([&] { idx::read(p); });
  EXPECT_EQ(message.rfind(p + ": gzip: stream cut short after ", 0), 0U) << message;
  EXPECT_NE(message.find("decompressed bytes (zlib: unexpected end of file)"), std::string::npos) << message;
}

TEST(IdxReader, RejectsAGzipStreamThatLacksOnlyItsTrailer) {
  TempDir dir;
  Bytes gz = gzip_of_noise(dir, 1000);
  gz.resize(gz.size() - 4);  // the uncompressed length; every data byte is still there
  const auto p = dir.write("cut.gz", gz);
  EXPECT_EQ(input_error_of([&] { idx::read(p); }),
            p + ": gzip: stream cut short after 1008 decompressed bytes (zlib: unexpected end of file)");
}

TEST(IdxReader, RejectsCorruptGzipData) {
  TempDir dir;
  Bytes gz = gzip_of_noise(dir, 1000);
  gz[gz.size() - 8] ^= 0xff;  // the CRC-32 of the data
  const auto p = dir.write("crc.gz", gz);
  EXPECT_EQ(input_error_of([&] { idx::read(p); }),
            p + ": gzip: corrupt data (zlib: incorrect data check)");

  Bytes gz2 = gzip_of_noise(dir, 1000);
  gz2[10] = 0xff;  // the first deflate block header: block type 3 does not exist
  const auto q = dir.write("bad.gz", gz2);
  EXPECT_EQ(input_error_of([&] { idx::read(q); }),
            q + ": gzip: corrupt data (zlib: invalid block type)");
}

TEST(IdxReader, RefusesAnAbsurdCountBeforeAllocating) {
  TempDir dir;
  const auto p = dir.write_gzip("huge.gz", idx_file({1000000000, 28, 28}, Bytes(100, 1)));
  std::string message;
  const std::size_t largest = largest_allocation_during([&] { message = input_error_of([&] { idx::read(p); }); });
  EXPECT_EQ(message, p + ": header: 1000000000 × 28 × 28 bytes exceeds the limit of 268435456 bytes "
                         "(Limits::max_bytes, see docs/idx.md)");
  EXPECT_LT(largest, std::size_t{1} << 20) << "largest single allocation, bytes";

  // Products that overflow 64 bits are refused the same way.
  const auto q = dir.write("wide", idx_file({4294967295U, 4294967295U, 4294967295U}, {}));
  EXPECT_EQ(input_error_of([&] { idx::read(q); }),
            q + ": header: 4294967295 × 4294967295 × 4294967295 bytes exceeds the limit of 268435456 bytes "
                "(Limits::max_bytes, see docs/idx.md)");
}

TEST(IdxReader, AllocatesWhatAShortFileHoldsNotWhatItsHeaderAnnounces) {
  TempDir dir;
  // Announces 47 MB (within the limit), holds 100 bytes.
  const auto p = dir.write("short", idx_file({60000, 28, 28}, Bytes(100, 1)));
  std::string message;
  const std::size_t largest = largest_allocation_during([&] { message = input_error_of([&] { idx::read(p); }); });
  EXPECT_EQ(message, p + ": data: truncated: the header announces 47040000 bytes, the file holds 100");
  EXPECT_LT(largest, std::size_t{1} << 20) << "largest single allocation, bytes";
}

TEST(IdxLoad, RejectsImageAndLabelCountsThatDiffer) {
  TempDir dir;
  const auto images = dir.write("i", idx_file({3, 2, 2}, kPixels));
  const auto labels = dir.write("l", idx_file({2}, {1, 2}));
  EXPECT_EQ(input_error_of([&] { idx::load(images, labels); }),
            labels + ": header: holds 2 labels, but " + images + " holds 3 images");
}

TEST(IdxLoad, RejectsALabelOutsideTheClassesNamingItsIndex) {
  TempDir dir;
  const auto images = dir.write("i", idx_file({3, 2, 2}, kPixels));
  const auto labels = dir.write("l", idx_file({3}, kLabels));
  EXPECT_EQ(input_error_of([&] { idx::load(images, labels, idx::ByteReading::unsigned_bytes, -1, 5); }),
            labels + ": data[2]: label 9 is outside 0..4");
  // The check covers the whole file, not only the samples kept.
  EXPECT_EQ(input_error_of([&] { idx::load(images, labels, idx::ByteReading::unsigned_bytes, 1, 5); }),
            labels + ": data[2]: label 9 is outside 0..4");
}

TEST(IdxLoad, RejectsFilesOfTheWrongRank) {
  TempDir dir;
  const auto images = dir.write("i", idx_file({3, 2, 2}, kPixels));
  const auto labels = dir.write("l", idx_file({3}, kLabels));
  EXPECT_EQ(input_error_of([&] { idx::images(idx::read(labels)); }),
            labels + ": header: rank 1 (3); images need rank 3 (count × rows × cols)");
  EXPECT_EQ(input_error_of([&] { idx::labels(idx::read(images)); }),
            images + ": header: rank 3 (3 × 2 × 2); labels need rank 1 (count)");
  EXPECT_EQ(input_error_of([&] { idx::load(labels, labels); }),
            labels + ": header: rank 1 (3); images need rank 3 (count × rows × cols)");
  EXPECT_EQ(input_error_of([&] { idx::load(images, images); }),
            images + ": header: rank 3 (3 × 2 × 2); labels need rank 1 (count)");
}

TEST(IdxImages, RejectsAnArrayWhoseBytesDisagreeWithItsDimensions) {
  idx::Array a{"made-by-hand", {2, 2, 2}, Bytes(7, 0)};
  EXPECT_EQ(input_error_of([&] { idx::images(a); }), "made-by-hand: data: holds 7 bytes, the dimensions 2 × 2 × 2 need 8");
}

// Any valid file reads back exactly; every strict prefix and every extension of
// it is an InputError, plain or gzip'd.
RC_GTEST_PROP(IdxReader, ReadsEveryValidFileAndRejectsEveryPrefixAndExtension, ()) {
  const auto rank = *rc::gen::inRange<std::size_t>(1, 4);
  const auto dims = *rc::gen::container<std::vector<std::uint32_t>>(rank, rc::gen::inRange<std::uint32_t>(0, 5));
  std::size_t total = 1;
  for (auto d : dims) total *= d;
  const auto data = *rc::gen::container<Bytes>(total, rc::gen::arbitrary<std::uint8_t>());
  const bool gzip = *rc::gen::arbitrary<bool>();
  const Bytes file = idx_file(dims, data);
  TempDir dir;
  const auto write = [&](const Bytes& b) { return gzip ? dir.write_gzip("f.gz", b) : dir.write("f", b); };

  const auto a = idx::read(write(file));
  RC_ASSERT(a.dims == dims);
  RC_ASSERT(a.bytes == data);

  const auto cut = *rc::gen::inRange<std::size_t>(0, file.size());
  const auto p = write(Bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut)));
  RC_ASSERT_THROWS_AS(idx::read(p), InputError);

  Bytes longer = file;
  const auto tail = *rc::gen::nonEmpty(rc::gen::arbitrary<Bytes>());
  longer.insert(longer.end(), tail.begin(), tail.end());
  RC_ASSERT_THROWS_AS(idx::read(write(longer)), InputError);
}

// Every strict prefix of a real gzip stream is rejected, wherever the cut falls
// (inside the gzip header, the deflate data or the trailer).
RC_GTEST_PROP(IdxReader, RejectsEveryPrefixOfAGzipStream, ()) {
  TempDir dir;
  const Bytes gz = gzip_of_noise(dir, 300);
  const auto cut = *rc::gen::inRange<std::size_t>(0, gz.size());
  const auto p = dir.write("cut.gz", Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(cut)));
  RC_ASSERT_THROWS_AS(idx::read(p), InputError);
}

// The installed Fashion-MNIST (Debian dataset-fashion-mnist).
const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

TEST(FashionMnist, TrainingSetHas60000ImagesOf784PixelsAnd6000OfEachClass) {
  const std::string images = kFashion + "train-images-idx3-ubyte.gz", labels = kFashion + "train-labels-idx1-ubyte.gz";
  if (!fs::exists(images) || !fs::exists(labels))
    GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
  const auto a = idx::read(images);
  EXPECT_EQ(a.dims, (std::vector<std::uint32_t>{60000, 28, 28}));

  // A fact of the dataset: how many pixel bytes a signed `char` turns negative.
  std::size_t above127 = 0;
  for (std::uint8_t b : a.bytes) above127 += b > 127;
  EXPECT_EQ(above127, 14801503U);
  EXPECT_NEAR(static_cast<double>(above127) / static_cast<double>(a.bytes.size()), 0.315, 0.0005) << "0.31466 measured";

  const auto d = idx::load(images, labels);
  EXPECT_EQ(d.size(), 60000);
  EXPECT_EQ(d.features(), 784);
  std::map<int, int> per_class;
  for (int y : d.labels) ++per_class[y];
  ASSERT_EQ(per_class.size(), 10U);
  for (const auto& [label, n] : per_class) {
    EXPECT_GE(label, 0);
    EXPECT_LE(label, 9);
    EXPECT_EQ(n, 6000) << "class " << label;
  }
  EXPECT_EQ(d.targets.rows(), 10);
  EXPECT_EQ(d.targets.sum(), 60000.0);
  EXPECT_EQ(d.inputs.minCoeff(), 0.0);
  EXPECT_EQ(d.inputs.maxCoeff(), 1.0);

  const auto s = idx::load(images, labels, idx::ByteReading::signed_char);
  std::size_t mismatches = 0;
  for (Index i = 0; i < s.inputs.size(); ++i) {
    const std::uint8_t b = a.bytes[static_cast<std::size_t>(i)];
    const double expected = b > 127 ? (b - 256) / 255.0 : b / 255.0;
    mismatches += (s.inputs.data()[i] < 0) != (b > 127) || s.inputs.data()[i] != expected;
  }
  EXPECT_EQ(mismatches, 0U) << "signed_char values that are not (byte - 256) / 255 exactly where byte > 127";
  EXPECT_EQ(s.labels, d.labels);
}

TEST(FashionMnist, TestSetHas10000ImagesAnd1000OfEachClass) {
  const std::string images = kFashion + "t10k-images-idx3-ubyte.gz", labels = kFashion + "t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(images) || !fs::exists(labels))
    GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
  const auto d = idx::load(images, labels);
  EXPECT_EQ(d.size(), 10000);
  EXPECT_EQ(d.features(), 784);
  const Vector<double> per_class = d.targets.rowwise().sum();
  for (Index k = 0; k < 10; ++k) EXPECT_EQ(per_class(k), 1000.0) << "class " << k;
}

}  // namespace
}  // namespace gradcheck
