// gradcheck: the command line, a thin layer over the libraries. Each subcommand
// is in cli/<name>_cmd.cpp; this file only dispatches and turns bad input into
// a one-line message and exit code 2.
#include "commands.hpp"
#include "huge_pages.hpp"

#include <gradcheck/engine/errors.hpp>
#include <gradcheck/engine/version.hpp>

#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  namespace cli = gradcheck::cli;
  cli::heap_on_huge_pages();
  CLI::App app{"gradcheck: are your neural-network gradients right, and if training fails, why?"};
  app.set_version_flag("--version", gradcheck::version());
  app.require_subcommand(1);
  int exit_code = cli::exit_ok;
  cli::add_fixtures_command(app, exit_code);
  cli::add_probe_command(app, exit_code);
  cli::add_fd_command(app, exit_code);
  cli::add_check_command(app, exit_code);
  cli::add_verify_command(app, exit_code);
  cli::add_train_command(app, exit_code);
  // CLI11 would answer a mistyped command with "A subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    std::string known;
    bool found = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known += (known.empty() ? "" : ", ") + sub->get_name();
      found = found || sub->check_name(argv[1]);
    }
    if (!found) {
      std::cerr << "gradcheck: unknown command '" << argv[1] << "' (known: " << known << ")\n";
      return cli::exit_usage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : cli::exit_usage;
  } catch (const gradcheck::InputError& e) {
    std::cerr << "gradcheck: " << e.what() << "\n";
    return cli::exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "gradcheck: " << e.what() << "\n";
    return cli::exit_usage;
  }
  return exit_code;
}
