#pragma once
#include "app/config.hpp"

namespace concertd {

/// Builds the adapters and services the config asks for and serves until SIGINT/SIGTERM.
int serve(const Config& config);

}  // namespace concertd
