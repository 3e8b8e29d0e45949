#include "app/config.hpp"
#include "app/wiring.hpp"

int main(int argc, char** argv) {
  concertd::Config config;
  if (auto exit_code = concertd::parse_config(argc, argv, config)) {
    return *exit_code;
  }
  return concertd::serve(config);
}
