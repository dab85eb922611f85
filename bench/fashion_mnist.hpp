#pragma once
// Fashion-MNIST for the benchmarks: 784 × N inputs scaled to [0, 1], one-hot
// targets, labels. A bench-local reader of the gzip'd IDX files until the
// engine's idx::load is available.
#include <gradcheck/engine/dataset.hpp>

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace gradcheck::bench {

inline const char* default_data_dir() { return "/usr/share/datasets/fashion-mnist"; }

inline std::vector<unsigned char> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  const bool failed = n < 0;
  gzclose(f);
  if (failed) throw std::runtime_error(path + ": corrupt gzip stream");
  return out;
}

inline std::uint32_t be32(const std::vector<unsigned char>& b, std::size_t at) {
  return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 | std::uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// split: "train" or "t10k".
inline Dataset<double> load_fashion_mnist(const std::string& dir, const std::string& split) {
  const std::string ipath = dir + "/" + split + "-images-idx3-ubyte.gz";
  const std::string lpath = dir + "/" + split + "-labels-idx1-ubyte.gz";
  const auto images = read_gz(ipath);
  const auto labels = read_gz(lpath);
  if (images.size() < 16 || be32(images, 0) != 0x803) throw std::runtime_error(ipath + ": not an IDX image file");
  if (labels.size() < 8 || be32(labels, 0) != 0x801) throw std::runtime_error(lpath + ": not an IDX label file");
  const Index n = be32(images, 4), rows = be32(images, 8), cols = be32(images, 12);
  if (Index(be32(labels, 4)) != n) throw std::runtime_error(lpath + ": label count differs from the images");
  if (images.size() != std::size_t(16 + n * rows * cols) || labels.size() != std::size_t(8 + n))
    throw std::runtime_error(ipath + ": size does not match its header");
  Dataset<double> d;
  d.inputs.resize(rows * cols, n);
  for (Index c = 0; c < n; ++c)
    for (Index k = 0; k < rows * cols; ++k) d.inputs(k, c) = images[std::size_t(16 + c * rows * cols + k)] / 255.0;
  for (Index c = 0; c < n; ++c) d.labels.push_back(labels[std::size_t(8 + c)]);
  d.targets = one_hot(d.labels, 10);
  return d;
}

}  // namespace gradcheck::bench
