// The protocol's own cost per evaluation, in one process and without the
// pipe (docs/fd.md#protocol-overhead): gradcheck writing a loss request of
// 1024 single-shift points, fd_serve.hpp parsing and answering it with a
// constant-time loss, and gradcheck reading the losses; 200 rounds each.
//   ./build/examples/cpp/gradcheck_fd_protocol_cost
#include <gradcheck/probe/fd.hpp>
#include <gradcheck/probe/fd_serve.hpp>
#include <chrono>
#include <iostream>
#include <sstream>
using namespace gradcheck;
int main() {
  FdDescription d; d.parameters = {{"w", {20000}, std::vector<double>(20000, 0.3)}};
  std::vector<FdPoint> pts;
  for (std::size_t i = 0; i < 1024; ++i) pts.push_back({{{0, i * 7, 7.270812988235953e-06}}, {}, 0});
  auto t0 = std::chrono::steady_clock::now();
  std::string req;
  for (int k = 0; k < 200; ++k) req = detail::fd_loss_request(d, pts);
  auto t1 = std::chrono::steady_clock::now();
  std::vector<serve::Parameter> ps = {{"w", {20000}, std::vector<double>(20000, 0.3)}};
  std::string reply;
  for (int k = 0; k < 200; ++k) {
    std::istringstream in(req + "\n"); std::ostringstream out;
    serve::fd_serve(ps, [](const serve::Values& v) { return v[0][0] * 2.0; }, [](const serve::Values&, serve::Values&) { return 0.0; }, in, out);
    reply = out.str();
  }
  auto t2 = std::chrono::steady_clock::now();
  for (int k = 0; k < 200; ++k) detail::fd_parse_losses(reply, 1024, "x");
  auto t3 = std::chrono::steady_clock::now();
  auto us = [](auto a, auto b) { return std::chrono::duration<double, std::micro>(b - a).count() / (200.0 * 1024); };
  std::cout << "per point: request " << us(t0, t1) << " us, helper " << us(t1, t2) << " us, losses read " << us(t2, t3)
            << " us; " << double(req.size()) / 1024.0 << " bytes\n";
}
