// The `sql` internal matcher: non-trivial SQL statements (queries, data changes and schema
// changes) in request or response text.
#ifndef LEAKSCOPE_ENGINE_INTERNAL_SQL_H_
#define LEAKSCOPE_ENGINE_INTERNAL_SQL_H_

#include <memory>

#include "engine/internal_matcher.h"
#include "engine/status.h"

namespace leakscope {

// Longest reported statement, in bytes: a statement runs to a terminator or is cut here.
inline constexpr size_t kMaxSqlStatementLength = 1024;

StatusOr<std::unique_ptr<InternalMatcher>> MakeSqlMatcher();

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_INTERNAL_SQL_H_
