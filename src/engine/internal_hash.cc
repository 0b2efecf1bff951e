#include "engine/internal_hash.h"

#include <string_view>
#include <utility>

#include "engine/internal_pattern_bundle.h"

namespace leakscope {
namespace {

// One recogniser per LeakSignal hash type. Formats follow passlib's documentation; the alphabets
// are passlib's: "hash64" `[./0-9A-Za-z]` (crypt-style and adapted base64), standard base64
// `[A-Za-z0-9+/]`, and hex. Every repetition is bounded (salts to passlib's usual sizes, at most
// 128 characters) so that the bundle has a real maximum match length for streaming.
//
// Patterns that begin with a word character start with `\b` so that, e.g., "xmd5<32 hex>" is not
// a postgres_md5 hash; the end of every match is checked in HashMatcher::AcceptEnd. The trigger
// is the fixed ident (plus a first hash character where the ident alone is a common word).
struct HashType {
  std::string_view name;
  std::string_view trigger;  // the fixed ident every hash of the type starts with
  std::string_view rest;
};

constexpr HashType kHashTypes[] = {
    // $2b$12$ + 22 salt + 31 checksum; idents 2, 2a, 2b, 2x, 2y; cost 04-31.
    {"bcrypt", R"(\$2[abxy]?\$)", R"((?:0[4-9]|[12][0-9]|3[01])\$[./0-9A-Za-z]{53})"},
    {"sha256_crypt", R"(\$5\$)", R"((?:rounds=[0-9]{1,9}\$)?[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{43})"},
    {"sha512_crypt", R"(\$6\$)", R"((?:rounds=[0-9]{1,9}\$)?[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{86})"},
    {"md5_crypt", R"(\$1\$)", R"([./0-9A-Za-z]{0,8}\$[./0-9A-Za-z]{22})"},
    {"sha1_crypt", R"(\$sha1\$)", R"([0-9]{1,10}\$[./0-9A-Za-z]{0,64}\$[./0-9A-Za-z]{28})"},
    // $md5$salt$chk, $md5$salt$$chk, $md5,rounds=N$salt$$chk.
    {"sun_md5_crypt", R"(\$md5[,$])",
     R"((?:rounds=[0-9]{1,10}\$)?[./0-9A-Za-z]{0,8}\$\$?[./0-9A-Za-z]{22})"},
    // PHC string format: $argon2id$v=19$m=65536,t=2,p=4$<b64 salt>$<b64 hash>.
    {"argon2", R"(\$argon2(?:id|i|d)\$)",
     R"((?:v=[0-9]{1,3}\$)?m=[0-9]{1,10},t=[0-9]{1,10},p=[0-9]{1,3})"
     R"((?:,keyid=[A-Za-z0-9+/]{0,64})?(?:,data=[A-Za-z0-9+/]{0,64})?)"
     R"(\$[A-Za-z0-9+/]{8,128}\$[A-Za-z0-9+/]{16,128})"},
    // v2: $bcrypt-sha256$v=2,t=2b,r=12$salt$chk; v1: $bcrypt-sha256$2a,12$salt$chk.
    {"bcrypt_sha256", R"(\$bcrypt-sha256\$)",
     R"((?:v=[0-9],t=2[ab],r=[0-9]{2}|2[ab],[0-9]{2})\$[./0-9A-Za-z]{22}\$[./0-9A-Za-z]{31})"},
    // $P$ or $H$ + 1 rounds char + 8 salt + 22 checksum.
    {"phpass", R"(\$[PH]\$)", R"([./0-9A-Za-z]{31})"},
    {"pbkdf2_sha1", R"(\$pbkdf2\$)", R"([0-9]{1,10}\$[./0-9A-Za-z]{0,128}\$[./0-9A-Za-z]{27})"},
    {"pbkdf2_sha256", R"(\$pbkdf2-sha256\$)",
     R"([0-9]{1,10}\$[./0-9A-Za-z]{0,128}\$[./0-9A-Za-z]{43})"},
    {"pbkdf2_sha512", R"(\$pbkdf2-sha512\$)",
     R"([0-9]{1,10}\$[./0-9A-Za-z]{0,128}\$[./0-9A-Za-z]{86})"},
    // $scram$rounds$salt$sha-1=chk,sha-256=chk,... (27, 43 or 86 hash64 chars per digest).
    {"scram", R"(\$scram\$)",
     R"([0-9]{1,10}\$[./0-9A-Za-z]{0,128}\$[a-z0-9-]{1,16}=[./0-9A-Za-z]{27,86})"
     R"((?:,[a-z0-9-]{1,16}=[./0-9A-Za-z]{27,86}){0,7})"},
    {"scrypt", R"(\$scrypt\$)",
     R"(ln=[0-9]{1,2},r=[0-9]{1,4},p=[0-9]{1,4}\$[A-Za-z0-9+/]{0,128}\$[A-Za-z0-9+/]{43})"},
    {"apr_md5_crypt", R"(\$apr1\$)", R"([./0-9A-Za-z]{0,8}\$[./0-9A-Za-z]{22})"},
    // Rounds in hex; salt and checksum in URL-safe base64 with padding (28 chars for SHA-1).
    {"cta_pbkdf2_sha1", R"(\$p5k2\$)", R"([0-9a-f]{1,8}\$[A-Za-z0-9_=-]{1,128}\$[A-Za-z0-9_-]{27}=)"},
    // Rounds in hex (omitted when 400); 32 hash64 checksum chars.
    {"dlitz_pbkdf2_sha1", R"(\$p5k2\$)", R"([0-9a-f]{0,8}\$[./0-9A-Za-z]{1,128}\$[./0-9A-Za-z]{32})"},
    // 0x0100 + 4-byte salt + SHA-1 of the password and of its upper-case form (2000) or only
    // the first (2005).
    {"mssql2000", R"(\b0x0100)", R"([0-9A-Fa-f]{88})"},
    {"mssql2005", R"(\b0x0100)", R"([0-9A-Fa-f]{48})"},
    // LeakSignal's documented name for passlib's mysql41: '*' + 40 upper-case hex.
    {"mysql141", R"(\*[0-9A-F])", R"([0-9A-F]{39})"},
    {"postgres_md5", R"(\bmd5[0-9a-fA-F])", R"([0-9a-fA-F]{31})"},
    // S: + 40 hex SHA-1 + 20 hex salt.
    {"oracle11", R"(\bS:[0-9A-Fa-f])", R"([0-9A-Fa-f]{59})"},
    {"bsd_nthash", R"(\$3\$\$)", R"([0-9a-fA-F]{32})"},
    {"django_pbkdf2_sha1", R"(\bpbkdf2_sha1\$)", R"([0-9]{1,10}\$[A-Za-z0-9]{1,128}\$[A-Za-z0-9+/]{27}=)"},
    {"django_pbkdf2_sha256", R"(\bpbkdf2_sha256\$)",
     R"([0-9]{1,10}\$[A-Za-z0-9]{1,128}\$[A-Za-z0-9+/]{43}=)"},
    {"django_salted_sha1", R"(\bsha1\$)", R"([A-Za-z0-9]{0,128}\$[0-9a-f]{40})"},
    {"django_salted_md5", R"(\bmd5\$)", R"([A-Za-z0-9]{0,128}\$[0-9a-f]{32})"},
    // crypt$<optional django-1.0 salt>$<13-char des_crypt hash>.
    {"django_des_crypt", R"(\bcrypt\$)", R"([./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{13})"},
    {"grub_pbkdf2_sha512", R"(\bgrub\.pbkdf2\.sha512\.)",
     R"([0-9]{1,10}\.[0-9A-Fa-f]{2,256}\.[0-9A-Fa-f]{128})"},
};

// Extra spellings accepted as options: passlib's own name for the MySQL 4.1 format.
constexpr std::pair<std::string_view, std::string_view> kHashAliases[] = {
    {"mysql41", "mysql141"},
};

class HashMatcher : public InternalMatcher {
 public:
  explicit HashMatcher(std::unique_ptr<PatternBundle> bundle) : bundle_(std::move(bundle)) {}

  void FindAll(std::string_view text, size_t start_pos, std::vector<Span>* out) const override {
    size_t pos = start_pos;
    Span m;
    while (bundle_->FindNext(text, pos, &m)) {
      if (m.end > m.begin && AcceptEnd(text, m.end)) {
        out->push_back(m);
        pos = m.end;
      } else {
        // A longer or shorter hash may still start later (even inside this candidate).
        pos = m.begin + 1;
      }
    }
  }

  bool MatchesWhole(std::string_view text) const override { return bundle_->FullMatch(text); }

  size_t MaxMatchLength() const override { return bundle_->max_match_length(); }

 private:
  // The hash must not run on into more hash-alphabet characters: every checksum has a fixed or
  // bounded length, so a following alphanumeric (or base64 '+', '/', '=' or a '$' field
  // separator) means this is a fragment of something longer. '.' is allowed so that a hash at
  // the end of a sentence still matches.
  static bool AcceptEnd(std::string_view text, size_t end) {
    if (end >= text.size()) return true;
    char c = text[end];
    bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    return !alnum && c != '_' && c != '+' && c != '/' && c != '=' && c != '$';
  }

  std::unique_ptr<PatternBundle> bundle_;
};

const HashType* FindHashType(std::string_view name) {
  for (const auto& [alias, canonical] : kHashAliases) {
    if (name == alias) name = canonical;
  }
  for (const HashType& t : kHashTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> HashTypeNames() {
  std::vector<std::string> names;
  for (const HashType& t : kHashTypes) names.emplace_back(t.name);
  return names;
}

StatusOr<std::unique_ptr<InternalMatcher>> MakeHashMatcher(const std::vector<std::string>& types) {
  std::vector<BundlePattern> patterns;
  if (types.empty()) {
    for (const HashType& t : kHashTypes) {
      patterns.push_back({std::string(t.trigger), std::string(t.rest)});
    }
  } else {
    std::vector<const HashType*> chosen;
    for (const std::string& name : types) {
      const HashType* t = FindHashType(name);
      if (t == nullptr) {
        std::string known;
        for (const HashType& k : kHashTypes) {
          if (!known.empty()) known += ", ";
          known += k.name;
        }
        return InvalidArgumentError("internal matcher hash: unknown hash type '" + name +
                                    "' (known: " + known + ")");
      }
      bool seen = false;
      for (const HashType* c : chosen) seen = seen || c == t;
      if (!seen) {
        chosen.push_back(t);
        patterns.push_back({std::string(t->trigger), std::string(t->rest)});
      }
    }
  }
  StatusOr<std::unique_ptr<PatternBundle>> bundle = PatternBundle::Create("hash", patterns);
  if (!bundle.ok()) return bundle.status();
  return std::unique_ptr<InternalMatcher>(new HashMatcher(std::move(bundle).value()));
}

}  // namespace leakscope
