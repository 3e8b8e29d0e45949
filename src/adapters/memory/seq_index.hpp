#pragma once
// An open-addressing hash table of sequence numbers, the MemoryCoordinator's lookups by token id
// and by user id. It keeps no key: a cell is 8 bytes, the key's 32-bit hash (the tag) and the low
// 32 bits of a sequence number; the caller compares keys by reading its own record of that number.
// Linear probing, power-of-two capacity, backward-shift deletion (no tombstones).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

namespace concertd {

class SeqIndex {
 public:
  /// The home cell is the tag's low bits; the tag's top bit marks a cell in use.
  static constexpr std::size_t kMaxCells = std::size_t{1} << 31;
  static constexpr std::size_t kMinCells = 16;

  /// The sequence number under `hash` for which `matches(seq)` holds.
  template <class Matches>
  std::optional<std::uint32_t> find(std::uint32_t hash, Matches&& matches) const {
    if (_cells.empty()) {
      return std::nullopt;
    }
    const std::uint64_t tag = tag_of(hash);
    /// Bounded by the capacity; the load stays below 0.7, so an empty cell ends every run.
    for (std::size_t i = tag & mask(), n = 0; n < _cells.size(); i = (i + 1) & mask(), ++n) {
      const std::uint64_t cell = _cells[i];
      if (cell == 0) {
        return std::nullopt;
      }
      if ((cell >> 32) == tag && matches(static_cast<std::uint32_t>(cell))) {
        return static_cast<std::uint32_t>(cell);
      }
    }
    return std::nullopt;
  }

  /// Adds `seq` under `hash`; the caller knows that it is not there yet.
  void insert(std::uint32_t hash, std::uint32_t seq) {
    if ((_size + 1) * 10 > _cells.size() * 7) {
      if (_cells.size() >= kMaxCells) {
        throw std::length_error("sequence index full");
      }
      rehash(_cells.empty() ? kMinCells : _cells.size() * 2);
    }
    place(cell_of(hash, seq));
    ++_size;
  }

  /// Removes `seq` under `hash`; false when it is not there.
  bool erase(std::uint32_t hash, std::uint32_t seq) {
    if (_cells.empty()) {
      return false;
    }
    const std::uint64_t wanted = cell_of(hash, seq);
    std::size_t i = wanted >> 32 & mask();
    /// Bounded by the capacity, as in find.
    for (std::size_t n = 0; _cells[i] != wanted; i = (i + 1) & mask(), ++n) {
      if (_cells[i] == 0 || n == _cells.size()) {
        return false;
      }
    }
    /// Backward shift: a later cell of the run moves into the hole unless its home lies
    /// cyclically after the hole, so that every run stays unbroken. Bounded by the capacity.
    for (std::size_t j = (i + 1) & mask(), n = 0; _cells[j] != 0 && n < _cells.size(); j = (j + 1) & mask(), ++n) {
      const std::size_t home = _cells[j] >> 32 & mask();
      if (((j - home) & mask()) >= ((j - i) & mask())) {
        _cells[i] = _cells[j];
        i = j;
      }
    }
    _cells[i] = 0;
    --_size;
    /// Memory follows the entries: released when empty, halved below 1/8 load.
    if (_size == 0) {
      _cells = {};
    } else if (_size * 8 < _cells.size() && _cells.size() > kMinCells) {
      rehash(_cells.size() / 2);
    }
    return true;
  }

  std::size_t size() const { return _size; }
  std::size_t capacity() const { return _cells.size(); }

 private:
  static std::uint64_t tag_of(std::uint32_t hash) { return hash | 0x8000'0000u; }
  static std::uint64_t cell_of(std::uint32_t hash, std::uint32_t seq) { return tag_of(hash) << 32 | seq; }
  std::size_t mask() const { return _cells.size() - 1; }

  void place(std::uint64_t cell) {
    std::size_t i = cell >> 32 & mask();
    /// Bounded: the table is never full.
    while (_cells[i] != 0) {
      i = (i + 1) & mask();
    }
    _cells[i] = cell;
  }

  void rehash(std::size_t cells) {
    std::vector<std::uint64_t> old(cells, 0);
    old.swap(_cells);
    for (const std::uint64_t cell : old) {
      if (cell != 0) {
        place(cell);
      }
    }
  }

  std::vector<std::uint64_t> _cells;  // 0: empty
  std::size_t _size = 0;
};

}  // namespace concertd
