#pragma once
#include "app/config.hpp"

namespace concertd {

/// `concertd backup --to FILE`: a consistent copy of the embedded store (data-dir/concertd.db),
/// safe while a server runs on it. The PostgreSQL store is backed up with pg_dump instead.
int backup(const Config& config);

}  // namespace concertd
