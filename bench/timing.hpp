#pragma once
// Medians of the wall time and of the process CPU time (every thread's), each
// over `repeat` runs: on a shared machine the CPU time of a single-threaded
// measurement is the steadier number. Shared by the benchmark programs.
//
//   const Timing t = median_seconds(5, [&] { work(); });   // t.wall, t.cpu in seconds

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <vector>

struct Timing {
  double wall = 0, cpu = 0;
};

inline Timing median_seconds(int repeat, const std::function<void()>& run) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < repeat; ++i) {
    const std::clock_t c0 = std::clock();
    const auto start = std::chrono::steady_clock::now();
    run();
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    cpu.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}
