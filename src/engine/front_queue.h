// FrontQueue: a queue over a std::vector, taken from the front (and, when a later element is
// cancelled, from the back), for queues that are usually empty or short; it can also be kept
// ordered (insert_ordered), which costs nothing more while elements come in order.
//
// std::deque allocates a map and a block as soon as it is constructed, even if nothing is ever
// queued (a correlation's candidate queues, in most transactions); a FrontQueue allocates on its
// first push. Popped elements leave the vector in bulk once they are half of it, so pushes and
// pops are amortised O(1) and memory follows what is queued. Unlike std::deque, a push may move
// the queued elements: hold no reference to one across a push.
#ifndef LEAKSCOPE_ENGINE_FRONT_QUEUE_H_
#define LEAKSCOPE_ENGINE_FRONT_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace leakscope {

template <typename T>
class FrontQueue {
 public:
  using const_iterator = typename std::vector<T>::const_iterator;

  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  const T& back() const { return items_.back(); }
  const_iterator begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  const_iterator end() const { return items_.end(); }

  template <typename... Args>
  T& emplace_back(Args&&... args) {
    return items_.emplace_back(std::forward<Args>(args)...);
  }
  // Inserts `value` after the queued elements that are not `less` than it: at the back when
  // it is not less than the last one (elements mostly come in order), else in its place, so a
  // queue kept this way stays ordered.
  template <typename Less>
  void insert_ordered(T value, Less less) {
    if (empty() || !less(value, items_.back())) {
      items_.push_back(std::move(value));
      return;
    }
    auto at = std::upper_bound(items_.begin() + static_cast<std::ptrdiff_t>(head_), items_.end(), value, less);
    items_.insert(at, std::move(value));
  }
  void pop_front() {
    ++head_;
    if (head_ == items_.size()) {
      clear();
    } else if (head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void pop_back() {
    items_.pop_back();
    if (head_ == items_.size()) clear();
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  std::vector<T> items_;
  size_t head_ = 0;  // items_[0, head_) are popped
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_FRONT_QUEUE_H_
