#pragma once
// Each subcommand lives in its own file and registers itself on the app.
// A command's callback stores its exit code in `exit_code`:
//   0  everything agrees (notes allowed)
//   1  a divergence, or a failing implementation (crash, timeout, malformed reply)
//   2  gradcheck's own usage or input error (thrown as gradcheck::InputError)

#include <CLI/CLI.hpp>

namespace gradcheck::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_divergence = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_interrupted = 130;  // SIGINT with nothing failed so far (128 + SIGINT)
// The shell's convention, 128 + the signal: 130 for SIGINT, 143 for SIGTERM.
inline constexpr int exit_interrupted_by(int signal_number) { return 128 + signal_number; }

// Registration functions, one per subcommand file (cli/<name>_cmd.cpp).
void add_fixtures_command(CLI::App& app, int& exit_code);
void add_probe_command(CLI::App& app, int& exit_code);
void add_fd_command(CLI::App& app, int& exit_code);
void add_check_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_train_command(CLI::App& app, int& exit_code);

}  // namespace gradcheck::cli
