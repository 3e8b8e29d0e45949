#include <iostream>
#include <string_view>

#include "app/backup_command.hpp"
#include "app/bench_command.hpp"
#include "app/config.hpp"
#include "app/wiring.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "bench") {
    return concertd::run_bench(argc - 1, argv + 1);
  }
  concertd::Config config;
  if (auto exit_code = concertd::parse_config(argc, argv, config)) {
    return *exit_code;
  }
  if (config.command == concertd::Command::print_config) {
    std::cout << concertd::config_toml(config);  // opens no store and listens nowhere
    return 0;
  }
  if (config.command == concertd::Command::backup) {
    return concertd::backup(config);
  }
  return concertd::serve(config);
}
