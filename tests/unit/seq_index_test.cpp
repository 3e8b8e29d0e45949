#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

#include "adapters/memory/seq_index.hpp"

namespace concertd {
namespace {

/// Keys are the seqs themselves here: a match compares the seq the table proposes with the one
/// looked for, as the coordinator compares the ids of its slots.
std::optional<std::uint32_t> find(const SeqIndex& index, std::uint32_t hash, std::uint32_t seq) {
  return index.find(hash, [&](std::uint32_t candidate) { return candidate == seq; });
}

TEST(SeqIndex, FindsEveryKeyUnderOneHash) {
  SeqIndex index;
  for (std::uint32_t seq = 1; seq <= 10; ++seq) {
    index.insert(7, seq);
  }
  for (std::uint32_t seq = 1; seq <= 10; ++seq) {
    EXPECT_EQ(find(index, 7, seq), seq);
  }
  EXPECT_FALSE(find(index, 7, 11));
  EXPECT_FALSE(find(index, 8, 1));
  EXPECT_TRUE(index.erase(7, 4));
  EXPECT_FALSE(index.erase(7, 4));
  EXPECT_FALSE(find(index, 7, 4));
  for (std::uint32_t seq = 1; seq <= 10; ++seq) {
    EXPECT_EQ(find(index, 7, seq).has_value(), seq != 4);
  }
}

TEST(SeqIndex, BackwardShiftKeepsRunsThatWrapAround) {
  SeqIndex index;
  // 16 cells: hashes 14 and 15 home at the end, so their runs wrap to cells 0, 1, 2.
  index.insert(15, 1);
  index.insert(15, 2);
  index.insert(14, 3);
  index.insert(0, 4);
  index.insert(1, 5);
  ASSERT_EQ(index.capacity(), 16u);
  EXPECT_TRUE(index.erase(15, 1));
  EXPECT_EQ(find(index, 15, 2), 2u);
  EXPECT_EQ(find(index, 14, 3), 3u);
  EXPECT_EQ(find(index, 0, 4), 4u);
  EXPECT_EQ(find(index, 1, 5), 5u);
  EXPECT_TRUE(index.erase(14, 3));
  EXPECT_EQ(find(index, 0, 4), 4u);
  EXPECT_EQ(find(index, 1, 5), 5u);
  index.insert(15, 1);
  EXPECT_EQ(find(index, 15, 1), 1u);
  EXPECT_EQ(index.size(), 4u);
}

TEST(SeqIndex, GrowsShrinksAndReleasesItsCells) {
  SeqIndex index;
  constexpr std::uint32_t kCount = 100'000;
  for (std::uint32_t seq = 0; seq < kCount; ++seq) {
    index.insert(seq * 2654435761u, seq);
  }
  EXPECT_EQ(index.size(), kCount);
  EXPECT_LE(index.size() * 10, index.capacity() * 7);
  for (std::uint32_t seq = 0; seq < kCount; ++seq) {
    ASSERT_EQ(find(index, seq * 2654435761u, seq), seq);
  }
  for (std::uint32_t seq = 0; seq < kCount; ++seq) {
    ASSERT_TRUE(index.erase(seq * 2654435761u, seq));
    if (index.size() > 0) {
      ASSERT_GE(index.size() * 8, index.capacity() / 2);
    }
  }
  EXPECT_EQ(index.capacity(), 0u);
  index.insert(3, 3);
  EXPECT_EQ(find(index, 3, 3), 3u);
}

TEST(SeqIndex, AgreesWithAMapUnderRandomInsertsAndErases) {
  SeqIndex index;
  std::unordered_map<std::uint32_t, std::uint32_t> model;  // seq -> hash
  std::mt19937 random(42);
  for (int step = 0; step < 100'000; ++step) {
    const std::uint32_t seq = random() % 5000;
    const std::uint32_t hash = random() % 64;  // few hashes: long runs and many collisions
    if (auto it = model.find(seq); it != model.end()) {
      ASSERT_TRUE(index.erase(it->second, seq));
      model.erase(it);
    } else {
      index.insert(hash, seq);
      model.emplace(seq, hash);
    }
    if (step % 2000 == 0) {
      ASSERT_EQ(index.size(), model.size());
      for (const auto& [s, h] : model) {
        ASSERT_EQ(find(index, h, s), s);
      }
    }
  }
}

}  // namespace
}  // namespace concertd
