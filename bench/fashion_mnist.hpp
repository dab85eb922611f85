#pragma once
// Fashion-MNIST for the benchmarks, through the engine's IDX reader: 784 × N
// inputs scaled to [0, 1], one-hot targets, labels.
#include <gradcheck/engine/idx.hpp>

#include <string>

namespace gradcheck::bench {

inline const char* default_data_dir() { return "/usr/share/datasets/fashion-mnist"; }

// split: "train" or "t10k"; limit -1 keeps every sample.
inline Dataset<double> load_fashion_mnist(const std::string& dir, const std::string& split, Index limit = -1) {
  return idx::load(dir + "/" + split + "-images-idx3-ubyte.gz", dir + "/" + split + "-labels-idx1-ubyte.gz",
                   idx::ByteReading::unsigned_bytes, limit);
}

}  // namespace gradcheck::bench
