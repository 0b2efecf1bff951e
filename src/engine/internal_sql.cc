#include "engine/internal_sql.h"

#include <re2/re2.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/internal_pattern_bundle.h"

namespace leakscope {
namespace {

// Building blocks of the statement heads (RE2 syntax, used under (?i)).
//
// A name is a bare identifier, possibly qualified or quoted with backticks or brackets
// (`db.table`, `t.*`, `[dbo].[users]`), or a double-quoted identifier without escapes. Bare names
// never contain '"', so a statement inside a JSON string does not swallow the closing quote.
//
// Repetitions are unbounded: the bundle's window (kMaxSqlStatementLength) bounds every match, and
// counted repetitions would make the program, and so the DFA, much larger.
const char kName[] = R"((?:[\w$.`\[\]]+|"[\w$ .-]+"))";
const char kSpace[] = R"(\s+)";
const char kOptSpace[] = R"(\s*)";

std::string SelectItem() {
  // *, a name (optionally t.*), a function call, or a string literal; optionally aliased.
  return std::string("(?:\\*|") + kName + R"((?:\.\*)?|[\w$.]+\([^()\n\r;"]*\)|'[^'\n\r]*'))" +
         "(?:" + kSpace + "AS" + kSpace + kName + ")?";
}

std::string SelectList() {
  std::string item = SelectItem();
  return std::string(R"((?:(?:DISTINCT|ALL|TOP\s+[0-9]+))") + kSpace + ")?" + item + "(?:" +
         kOptSpace + "," + kOptSpace + item + ")*";
}

// The structural part ("head") of each statement kind: keywords in order with identifiers
// between them. Prose such as "select from the menu" or "update your profile" lacks the
// identifiers or the operators, so it never forms a head. Each head's trigger is its first
// keyword (see PatternBundle); matching is case-insensitive.
std::vector<BundlePattern> StatementHeads() {
  const std::string name = kName;
  const std::string s = kSpace;
  const std::string os = kOptSpace;
  const std::string list = SelectList();
  // The trigger takes the first keyword and one whitespace byte, the rest any further ones.
  const std::string rs = kOptSpace;
  return {
      // SELECT <list> FROM <table>
      {R"(\bSELECT\s)", rs + list + s + "FROM" + s + name},
      // UNION [ALL] SELECT <list>  (typical of injection payloads, which often lack FROM)
      {R"(\bUNION\s)", rs + "(?:ALL" + s + ")?SELECT" + s + list},
      // INSERT INTO <table> [(<columns>)] VALUES ( | SELECT | DEFAULT VALUES | SET <column> =
      {R"(\bINSERT\s)", rs + "(?:(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY)" + s + ")?INTO" +
                            s + name + os + R"((?:\([^()\n\r;]+\))" + os + ")?" +
                            R"((?:VALUES?)" + os + R"(\(|SELECT\s|DEFAULT)" + s +
                            R"(VALUES\b|SET)" + s + name + os + "=)"},
      // UPDATE <table> [[AS] alias] SET <column> =
      {R"(\bUPDATE\s)", rs + "(?:(?:LOW_PRIORITY|IGNORE|ONLY)" + s + ")?" + name + "(?:" + s +
                            "(?:AS" + s + ")?" + R"([a-z_]\w*)?)" + s + "SET" + s + name +
                            os + "="},
      // DELETE FROM <table>
      {R"(\bDELETE\s)", rs + "(?:(?:LOW_PRIORITY|QUICK|IGNORE)" + s + ")?FROM" + s + name},
      // DROP TABLE|DATABASE|SCHEMA|VIEW [IF EXISTS] <name>
      {R"(\bDROP\s)", rs + "(?:TEMPORARY" + s + ")?(?:TABLE|DATABASE|SCHEMA|VIEW)" + s + "(?:IF" +
                          s + "EXISTS" + s + ")?" + name},
      // ALTER TABLE <table> ADD | DROP | RENAME | ALTER | MODIFY | CHANGE | OWNER TO | SET
      {R"(\bALTER\s)", rs + "TABLE" + s + "(?:IF" + s + "EXISTS" + s + ")?(?:ONLY" + s + ")?" +
                           name + s + "(?:ADD|DROP|RENAME|ALTER|MODIFY|CHANGE|OWNER" + s +
                           R"(TO|SET)\b)"},
      // CREATE [OR REPLACE] [TEMP] TABLE [IF NOT EXISTS] <table> ( | AS SELECT | LIKE
      {R"(\bCREATE\s)", rs + "(?:OR" + s + "REPLACE" + s + ")?(?:(?:GLOBAL|LOCAL)" + s +
                            ")?(?:TEMP(?:ORARY)?" + s + "|UNLOGGED" + s + ")?TABLE" + s +
                            "(?:IF" + s + "NOT" + s + "EXISTS" + s + ")?" + name + os +
                            R"((?:\(|AS)" + s + R"(SELECT\b|LIKE\s))"},
  };
}

// What may follow a head and shows it is SQL rather than prose: a terminator or a clause whose
// own structure is unmistakable (WHERE <column> <operator>, JOIN <table>, ORDER BY, LIMIT <n>).
std::string ClauseAfterHead() {
  const std::string name = kName;
  const std::string s = kSpace;
  return R"((?i)(?:\s*;|)" + s + "(?:(?:AS" + s + R"()?[a-z_]\w*)" + s + ")?(?:WHERE" +
         s + name + kOptSpace + R"((?:=|<|>|!=|LIKE\b|IN\s*\(|IS\s|BETWEEN\s|NOT\s)|)" +
         "(?:(?:INNER|CROSS|NATURAL|(?:LEFT|RIGHT|FULL)(?:" + s + "OUTER)?)" + s + ")?JOIN" + s +
         name + "|ORDER" + s + "BY" + s + "|GROUP" + s + "BY" + s + "|(?:LIMIT|OFFSET)" + s +
         "[0-9]|HAVING" + s + "|UNION" + s + "|CASCADE\\b|RESTRICT\\b|FOR" + s + "UPDATE\\b))";
}

inline bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || IsUpper(c); }
inline char Lower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool StartsWithWord(std::string_view text, std::string_view lower_word) {
  if (text.size() < lower_word.size()) return false;
  for (size_t i = 0; i < lower_word.size(); ++i) {
    if (Lower(text[i]) != lower_word[i]) return false;
  }
  return true;
}

class SqlMatcher : public InternalMatcher {
 public:
  SqlMatcher(std::unique_ptr<PatternBundle> heads, std::unique_ptr<RE2> clause)
      : heads_(std::move(heads)), clause_(std::move(clause)) {}

  void FindAll(std::string_view text, size_t start_pos, std::vector<Span>* out) const override {
    size_t pos = start_pos;
    Span head;
    while (heads_->FindNext(text, pos, &head)) {
      Span statement;
      if (Accept(text, head, &statement)) {
        out->push_back(statement);
        pos = statement.end;
      } else {
        // Heads start at a keyword, so the next candidate starts later; resuming one byte on
        // keeps the scan linear (a rejected head is never rescanned from its start).
        pos = head.begin + 1;
      }
    }
  }

  bool MatchesWhole(std::string_view text) const override {
    // A statement's own terminator is not part of the match; allow it (and trailing space) here.
    while (!text.empty() && (IsSpace(text.back()) || text.back() == ';')) text.remove_suffix(1);
    Span head, statement;
    if (!heads_->FindNext(text, 0, &head) || head.begin != 0) return false;
    return Accept(text, head, &statement) && statement.end == text.size();
  }

  size_t MaxMatchLength() const override { return kMaxSqlStatementLength; }

 private:
  // Decides whether `head` is a statement and, if so, extends it to the statement's end.
  bool Accept(std::string_view text, const Span& head, Span* statement) const {
    size_t limit = static_cast<size_t>(std::min<uint64_t>(text.size(), head.begin + kMaxSqlStatementLength));
    if (head.end <= head.begin || head.end > limit) return false;
    if (!HasSqlEvidence(text, head)) return false;

    // The statement runs to ';', to the quote that opened it (SQL embedded in a JSON or code
    // string), to a control byte (binary data), or to the length limit.
    char quote = 0;
    if (head.begin > 0) {
      char before = text[head.begin - 1];
      if (before == '"' || before == '\'' || before == '`') quote = before;
    }
    size_t end = head.end;
    while (end < limit) {
      char c = text[end];
      if (c == ';') break;
      if (quote != 0 && c == quote && text[end - 1] != '\\') break;
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
      ++end;
    }
    while (end > head.end && IsSpace(text[end - 1])) --end;
    *statement = Span{head.begin, end};
    return true;
  }

  // INSERT, UPDATE, ALTER and CREATE heads need operators or parentheses and are SQL by
  // construction. SELECT, DELETE, DROP and UNION heads can be formed by prose ("select one from
  // the list", "delete from your history"), so they also need one piece of evidence: keywords
  // written in upper case, SQL punctuation in the head, IF EXISTS, or a clause or ';' after it.
  bool HasSqlEvidence(std::string_view text, const Span& head) const {
    std::string_view h = text.substr(head.begin, head.size());
    if (!StartsWithWord(h, "select") && !StartsWithWord(h, "delete") &&
        !StartsWithWord(h, "drop") && !StartsWithWord(h, "union")) {
      return true;
    }
    size_t first_word_end = 0;
    while (first_word_end < h.size() && IsLetter(h[first_word_end])) ++first_word_end;

    bool first_upper = true;
    for (size_t i = 0; i < first_word_end; ++i) first_upper = first_upper && IsUpper(h[i]);
    if (first_upper && HasUpperKeyword(h.substr(first_word_end))) return true;

    // A '.' that ends the head ends a sentence ("... select one from list."), not a name.
    size_t punct_end = h.size();
    while (punct_end > first_word_end && h[punct_end - 1] == '.') --punct_end;
    for (size_t i = first_word_end; i < punct_end; ++i) {
      switch (h[i]) {
        case '*': case ',': case '(': case '.': case '\'': case '"': case '`': case '[':
        case '_': case '=':
          return true;
        default:
          break;
      }
    }
    if (ContainsWordIgnoringCase(h, "exists")) return true;

    // The clause must lie within the statement's length limit.
    re2::StringPiece whole(text.data(), text.size());
    size_t limit = static_cast<size_t>(std::min<uint64_t>(text.size(), head.begin + kMaxSqlStatementLength));
    return clause_->Match(whole, head.end, limit, RE2::ANCHOR_START, nullptr, 0);
  }

  // True if `s` contains the second keyword of a head (FROM, TABLE, SELECT, ...) in upper case.
  static bool HasUpperKeyword(std::string_view s) {
    for (std::string_view kw : {"FROM", "TABLE", "SELECT", "DATABASE", "SCHEMA", "VIEW"}) {
      for (size_t at = s.find(kw); at != std::string_view::npos; at = s.find(kw, at + 1)) {
        bool left = at == 0 || !IsLetter(s[at - 1]);
        bool right = at + kw.size() >= s.size() || !IsLetter(s[at + kw.size()]);
        if (left && right) return true;
      }
    }
    return false;
  }

  static bool ContainsWordIgnoringCase(std::string_view s, std::string_view lower_word) {
    for (size_t i = 0; i + lower_word.size() <= s.size(); ++i) {
      if ((i == 0 || !IsLetter(s[i - 1])) && StartsWithWord(s.substr(i), lower_word) &&
          (i + lower_word.size() == s.size() || !IsLetter(s[i + lower_word.size()]))) {
        return true;
      }
    }
    return false;
  }

  std::unique_ptr<PatternBundle> heads_;
  std::unique_ptr<RE2> clause_;
};

}  // namespace

StatusOr<std::unique_ptr<InternalMatcher>> MakeSqlMatcher() {
  PatternBundle::Options bundle_options;
  bundle_options.case_insensitive = true;
  bundle_options.window = kMaxSqlStatementLength;
  StatusOr<std::unique_ptr<PatternBundle>> bundle =
      PatternBundle::Create("sql", StatementHeads(), bundle_options);
  if (!bundle.ok()) return bundle.status();

  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  auto clause = std::make_unique<RE2>(ClauseAfterHead(), options);
  if (!clause->ok()) return InternalError("sql: RE2 rejected the clause pattern: " + clause->error());
  return std::unique_ptr<InternalMatcher>(
      new SqlMatcher(std::move(bundle).value(), std::move(clause)));
}

}  // namespace leakscope
