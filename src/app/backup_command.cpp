#include "app/backup_command.hpp"

#include <filesystem>
#include <iostream>

#include "adapters/sqlite/connection.hpp"

namespace concertd {

int backup(const Config& config) {
  if (config.postgres) {
    std::cerr << "concertd backup: the store is PostgreSQL; back it up with pg_dump (README, Backup)\n";
    return 2;
  }
  const std::string source = (std::filesystem::path(config.data_dir) / sqlite::kFileName).string();
  try {
    sqlite::copy_database(source, *config.backup_to);
  } catch (const std::exception& e) {
    std::cerr << "concertd backup: " << e.what() << "\n";
    return 1;
  }
  std::cout << "copied " << source << " to " << *config.backup_to << "\n";
  return 0;
}

}  // namespace concertd
