#include "engine/front_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace leakscope {
namespace {

// Random pushes and pops at either end, in runs long and short, against std::deque: same order,
// size and contents at every step (the bulk compaction of popped elements included).
TEST(FrontQueue, BehavesAsADeque) {
  std::mt19937 rng(7);
  FrontQueue<std::string> queue;
  std::deque<std::string> reference;
  int next = 0;
  for (int step = 0; step < 20000; ++step) {
    const int run = static_cast<int>(rng() % 9);
    if (rng() % 2 == 0) {
      for (int i = 0; i < run; ++i) {
        // Long enough not to fit in a string's own bytes: moves must carry the heap text along.
        std::string text = "candidate number " + std::to_string(next++) + " with some text to carry";
        queue.emplace_back(text);
        reference.push_back(text);
      }
    } else if (rng() % 4 != 0) {
      for (int i = 0; i < run && !reference.empty(); ++i) {
        ASSERT_EQ(queue.front(), reference.front()) << step;
        queue.pop_front();
        reference.pop_front();
      }
    } else {
      for (int i = 0; i < run && !reference.empty(); ++i) {
        ASSERT_EQ(queue.back(), reference.back()) << step;
        queue.pop_back();
        reference.pop_back();
      }
    }
    ASSERT_EQ(queue.size(), reference.size()) << step;
    ASSERT_EQ(queue.empty(), reference.empty()) << step;
    ASSERT_EQ(std::vector<std::string>(queue.begin(), queue.end()),
              std::vector<std::string>(reference.begin(), reference.end()))
        << step;
    if (step % 5000 == 4999) {
      queue.clear();
      reference.clear();
      ASSERT_TRUE(queue.empty());
      ASSERT_EQ(queue.begin(), queue.end());
    }
  }
}

// Ordered insertion mixed with pops from the front: the queue stays ordered by key, and elements
// with equal keys keep the order they came in (as std::stable_sort of everything would).
TEST(FrontQueue, InsertOrderedKeepsTheQueueOrderedAndStable) {
  std::mt19937 rng(11);
  using Item = std::pair<int, int>;  // key, arrival
  auto by_key = [](const Item& a, const Item& b) { return a.first < b.first; };
  FrontQueue<Item> queue;
  std::vector<Item> reference;
  int arrival = 0;
  for (int step = 0; step < 5000; ++step) {
    if (rng() % 3 != 0) {
      // Mostly increasing keys, sometimes an earlier one, sometimes a repeat.
      const int key = rng() % 4 == 0 ? static_cast<int>(rng() % 64) : step / 4;
      queue.insert_ordered(Item{key, arrival}, by_key);
      reference.push_back(Item{key, arrival});
      ++arrival;
      std::stable_sort(reference.begin(), reference.end(), by_key);
    } else if (!reference.empty()) {
      ASSERT_EQ(queue.front(), reference.front()) << step;
      queue.pop_front();
      reference.erase(reference.begin());
    }
    ASSERT_EQ(std::vector<Item>(queue.begin(), queue.end()), reference) << step;
  }
}

}  // namespace
}  // namespace leakscope
