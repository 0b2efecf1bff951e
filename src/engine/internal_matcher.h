// InternalMatcher: a natively implemented matcher named by a policy's `internal:` rule
// (credit_card, routing_number, hash, error_text, sql, int_phone, national_phone).
//
// Internal matchers validate what a regex cannot (checksums, phone number plans) or bundle many
// patterns behind one name. They are stateless after construction and safe to share.
#ifndef LEAKSCOPE_ENGINE_INTERNAL_MATCHER_H_
#define LEAKSCOPE_ENGINE_INTERNAL_MATCHER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/span.h"
#include "engine/status.h"

namespace leakscope {

class InternalMatcher {
 public:
  virtual ~InternalMatcher() = default;

  // Appends to `out`, in increasing order, the non-overlapping matches that start at or after
  // `start_pos` in `text`. Bytes before `start_pos` are context only (for boundary checks), and a
  // match may not extend past text.size(). Must run in time linear in text.size() - start_pos.
  virtual void FindAll(std::string_view text, size_t start_pos, std::vector<Span>* out) const = 0;

  // True if the whole of `text` is a match (used when the matcher filters another rule's match,
  // as in `and: [internal: !national_phone US]`).
  virtual bool MatchesWhole(std::string_view text) const = 0;

  // Upper bound on the length of a match, used to size the streaming window.
  virtual size_t MaxMatchLength() const = 0;

  // A secondary-only matcher (national_phone) can only be used inside `and`.
  virtual bool SecondaryOnly() const { return false; }
};

// Builds the matcher `name` with its options (e.g. {"US"} for national_phone, a list of hash
// types for hash, error families for error_text; empty for the documented default set).
// Unknown names or options give kInvalidArgument naming the bad value; a matcher that this
// build cannot carry (libphonenumber in wasm32) gives kUnimplemented.
StatusOr<std::unique_ptr<InternalMatcher>> MakeInternalMatcher(
    std::string_view name, const std::vector<std::string>& options);

// The names MakeInternalMatcher accepts, for error messages and `policy check`.
std::vector<std::string> InternalMatcherNames();

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_INTERNAL_MATCHER_H_
