// Tests for the internal matchers (credit_card, routing_number, hash, error_text, sql, int_phone,
// national_phone) through the public factory, plus the bundle length-bound helper.
#include "engine/internal_matcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/internal_card.h"
#include "engine/internal_error_text.h"
#include "engine/internal_hash.h"
#include "engine/internal_pattern_bundle.h"
#include "engine/internal_routing.h"

namespace leakscope {
namespace {

std::unique_ptr<InternalMatcher> Make(std::string_view name,
                                      const std::vector<std::string>& options = {}) {
  StatusOr<std::unique_ptr<InternalMatcher>> m = MakeInternalMatcher(name, options);
  EXPECT_TRUE(m.ok()) << name << ": " << m.status().message();
  if (!m.ok()) return nullptr;
  return std::move(m).value();
}

// Checks the FindAll contract and returns the matched substrings.
std::vector<std::string> Find(const InternalMatcher& m, std::string_view text,
                              size_t start_pos = 0) {
  std::vector<Span> spans;
  m.FindAll(text, start_pos, &spans);
  std::vector<std::string> out;
  size_t prev_end = start_pos;
  for (const Span& s : spans) {
    EXPECT_GE(s.begin, prev_end) << "overlapping, unordered or before start_pos";
    EXPECT_LT(s.begin, s.end) << "empty match";
    EXPECT_LE(s.end, text.size());
    EXPECT_LE(s.size(), m.MaxMatchLength()) << "MaxMatchLength is not a bound";
    prev_end = s.end;
    out.emplace_back(text.substr(s.begin, s.size()));
  }
  return out;
}

using Strings = std::vector<std::string>;

StatusCode CodeOf(std::string_view name, const std::vector<std::string>& options) {
  return MakeInternalMatcher(name, options).status().code();
}

std::string MessageOf(std::string_view name, const std::vector<std::string>& options) {
  return MakeInternalMatcher(name, options).status().message();
}

// Appends the Luhn check digit to `payload` (digits only).
std::string WithLuhn(std::string payload) {
  for (char d = '0'; d <= '9'; ++d) {
    if (LuhnValid(payload + d)) return payload + d;
  }
  ADD_FAILURE() << "no check digit for " << payload;
  return payload;
}

// A number of `length` digits starting with `prefix` and a valid Luhn check digit.
std::string CardNumber(const std::string& prefix, size_t length) {
  std::string payload = prefix;
  while (payload.size() + 1 < length) payload += static_cast<char>('1' + payload.size() % 7);
  return WithLuhn(payload);
}

// Groups digits with `sep` as 4-4-4-... (last group shorter).
std::string Grouped(const std::string& digits, char sep) {
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && i % 4 == 0) out += sep;
    out += digits[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Factory

TEST(InternalMatcherFactory, NamesListsEveryMatcher) {
  Strings names = InternalMatcherNames();
  for (const char* n : {"credit_card", "routing_number", "hash", "error_text", "sql", "int_phone",
                        "national_phone"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  EXPECT_EQ(names.size(), 7u);
}

TEST(InternalMatcherFactory, UnknownNameIsInvalidArgumentNamingIt) {
  EXPECT_EQ(CodeOf("credit_cards", {}), StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf("credit_cards", {}).find("credit_cards"), std::string::npos);
  EXPECT_EQ(CodeOf("", {}), StatusCode::kInvalidArgument);
}

TEST(InternalMatcherFactory, MatchersWithoutOptionsRejectOptions) {
  for (const char* n : {"credit_card", "routing_number", "sql"}) {
    EXPECT_EQ(CodeOf(n, {"x"}), StatusCode::kInvalidArgument) << n;
    EXPECT_NE(MessageOf(n, {"x"}).find("'x'"), std::string::npos) << n;
  }
}

TEST(InternalMatcherFactory, HashRejectsUnknownTypeNamingIt) {
  EXPECT_EQ(CodeOf("hash", {"bcrypt", "md6_crypt"}), StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf("hash", {"bcrypt", "md6_crypt"}).find("md6_crypt"), std::string::npos);
  EXPECT_EQ(CodeOf("hash", {""}), StatusCode::kInvalidArgument);
}

TEST(InternalMatcherFactory, HashAcceptsEveryDocumentedTypeAndPasslibAlias) {
  Strings types = HashTypeNames();
  EXPECT_EQ(types.size(), 29u);
  for (const std::string& t : types) EXPECT_EQ(CodeOf("hash", {t}), StatusCode::kOk) << t;
  EXPECT_EQ(CodeOf("hash", {"mysql41"}), StatusCode::kOk);
  EXPECT_EQ(CodeOf("hash", types), StatusCode::kOk);
  EXPECT_EQ(CodeOf("hash", {"bcrypt", "bcrypt"}), StatusCode::kOk);
}

TEST(InternalMatcherFactory, ErrorTextRejectsUnknownFamilyNamingIt) {
  EXPECT_EQ(CodeOf("error_text", {"js_error", "cobol_error"}), StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf("error_text", {"js_error", "cobol_error"}).find("cobol_error"), std::string::npos);
}

TEST(InternalMatcherFactory, ErrorTextFamiliesAndDefaultSet) {
  Strings all = ErrorTextFamilyNames();
  EXPECT_EQ(all.size(), 25u);
  for (const std::string& f : all) EXPECT_EQ(CodeOf("error_text", {f}), StatusCode::kOk) << f;
  Strings defaults = DefaultErrorTextFamilies();
  EXPECT_EQ(defaults, (Strings{"js_error", "py_error", "java_error", "rust_error", "ruby_error",
                               "go_error", "php_error", "mysql_error", "postgres_error",
                               "redis_error", "mongodb_error"}));
}

TEST(InternalMatcherFactory, OnlyNationalPhoneIsSecondaryOnly) {
  for (const char* n : {"credit_card", "routing_number", "hash", "error_text", "sql"}) {
    auto m = Make(n);
    ASSERT_NE(m, nullptr);
    EXPECT_FALSE(m->SecondaryOnly()) << n;
  }
}

// ---------------------------------------------------------------------------------------------
// credit_card

TEST(CreditCard, ConformanceCase) {
  auto m = Make("credit_card");
  EXPECT_EQ(Find(*m, "cards 4111111111111111 4111111111111112 378282246310005; routing 021000021 "
                     "123456789 011000015\n"),
            (Strings{"4111111111111111", "378282246310005"}));
}

TEST(CreditCard, LuhnHelper) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("79927398713"));
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid("79927398710"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("4111x11111111111"));
}

TEST(CreditCard, KnownTestNumbersOfEachIssuer) {
  auto m = Make("credit_card");
  const char* numbers[] = {
      "4111111111111111",  "4012888888881881", "4222222222222",     // Visa (16, 13)
      "5555555555554444",  "5105105105105100", "2223003122003222",  // Mastercard
      "378282246310005",   "371449635398431",                       // Amex
      "6011111111111117",  "6011000990139424",                      // Discover
      "30569309025904",    "38520000023237",                        // Diners
      "3530111333300000",  "3566002020360505",                      // JCB
      "6200000000000005",                                           // UnionPay
      "6759649826438453",                                           // Maestro
  };
  for (const char* n : numbers) {
    EXPECT_EQ(Find(*m, std::string("pay with ") + n + " today"), (Strings{n})) << n;
    EXPECT_TRUE(m->MatchesWhole(n)) << n;
  }
}

TEST(CreditCard, IssuerRangesAndLengths) {
  auto m = Make("credit_card");
  struct Case {
    std::string prefix;
    size_t length;
    bool card;
  };
  const Case cases[] = {
      {"4", 13, true},     {"4", 16, true},     {"4", 19, true},     {"4", 14, false},
      {"4", 15, false},    {"51", 16, true},    {"55", 16, true},    {"56", 16, false},
      {"50", 16, false},   {"2221", 16, true},  {"2720", 16, true},  {"2721", 16, false},
      {"2220", 16, false}, {"34", 15, true},    {"37", 15, true},    {"34", 16, false},
      {"35", 15, false},   {"6011", 16, true},  {"6011", 19, true},  {"644", 16, true},
      {"649", 16, true},   {"643", 16, false},  {"65", 16, true},    {"300", 14, true},
      {"305", 14, true},   {"306", 14, false},  {"36", 14, true},    {"38", 16, true},
      {"3528", 16, true},  {"3589", 16, true},  {"3527", 16, false}, {"3590", 16, false},
      {"62", 16, true},    {"62", 19, true},    {"62", 15, false},   {"5018", 12, true},
      {"6763", 19, true},  {"2200", 16, true},  {"9111", 16, false}, {"1", 16, false},
      {"0000", 16, false}, {"7", 16, false},
  };
  for (const Case& c : cases) {
    std::string n = CardNumber(c.prefix, c.length);
    ASSERT_EQ(n.size(), c.length);
    EXPECT_EQ(CardIssuerKnown(n), c.card) << n;
    EXPECT_EQ(Find(*m, "n=" + n + ".").size(), c.card ? 1u : 0u) << n;
  }
}

TEST(CreditCard, LuhnFailureIsNotAMatch) {
  auto m = Make("credit_card");
  for (const char* n : {"4111111111111112", "5555555555554443", "378282246310006",
                        "6011111111111110", "3530111333300001"}) {
    EXPECT_TRUE(Find(*m, n).empty()) << n;
    EXPECT_FALSE(m->MatchesWhole(n)) << n;
  }
}

TEST(CreditCard, GroupedWithSpacesOrDashes) {
  auto m = Make("credit_card");
  EXPECT_EQ(Find(*m, "card: 4111 1111 1111 1111."), (Strings{"4111 1111 1111 1111"}));
  EXPECT_EQ(Find(*m, "card: 4111-1111-1111-1111."), (Strings{"4111-1111-1111-1111"}));
  EXPECT_EQ(Find(*m, "amex 3782 822463 10005 ok"), (Strings{"3782 822463 10005"}));
  EXPECT_EQ(Find(*m, "amex 3782-822463-10005"), (Strings{"3782-822463-10005"}));
  EXPECT_EQ(Find(*m, "diners 3056 930902 5904"), (Strings{"3056 930902 5904"}));
  EXPECT_EQ(Find(*m, "visa13 4222 2222 2222 2"), (Strings{"4222 2222 2222 2"}));
  std::string visa19 = CardNumber("4", 19);
  EXPECT_EQ(Find(*m, "v " + Grouped(visa19, ' ')), (Strings{Grouped(visa19, ' ')}));
  EXPECT_EQ(Grouped(visa19, ' ').size(), 23u);
  EXPECT_TRUE(m->MatchesWhole("4111 1111 1111 1111"));
  EXPECT_TRUE(m->MatchesWhole("3782 822463 10005"));
}

TEST(CreditCard, UnusualGroupingsAreNotMatches) {
  auto m = Make("credit_card");
  for (const char* t : {
           "4111-1111 1111 1111",   // mixed separators
           "4111  1111 1111 1111",  // double space
           "41111 111 1111 1111",   // not 4-4-4-4
           "4111 111111111111",     // 4-12
           "4111.1111.1111.1111",   // dots are not card separators
           "4111_1111_1111_1111",
       }) {
    EXPECT_TRUE(Find(*m, t).empty()) << t;
    EXPECT_FALSE(m->MatchesWhole(t)) << t;
  }
}

TEST(CreditCard, DigitBoundaries) {
  auto m = Make("credit_card");
  EXPECT_TRUE(Find(*m, "41111111111111112").empty());   // 17 digits: not its first 16
  EXPECT_TRUE(Find(*m, "14111111111111111").empty());   // its last 16
  EXPECT_TRUE(Find(*m, "x41111111111111110").empty());
  EXPECT_EQ(Find(*m, "x4111111111111111y"), (Strings{"4111111111111111"}));
  EXPECT_EQ(Find(*m, "4111111111111111"), (Strings{"4111111111111111"}));  // whole text
  EXPECT_EQ(Find(*m, "4111111111111111,5555555555554444"),
            (Strings{"4111111111111111", "5555555555554444"}));
  // A CVV after the number is not part of it.
  EXPECT_EQ(Find(*m, "4111 1111 1111 1111 123"), (Strings{"4111 1111 1111 1111"}));
  EXPECT_EQ(Find(*m, "4111111111111111 123"), (Strings{"4111111111111111"}));
}

TEST(CreditCard, StartPosUsesContextBeforeIt) {
  auto m = Make("credit_card");
  std::string text = "ab4111111111111111 94111111111111111";
  EXPECT_EQ(Find(*m, text, 2), (Strings{"4111111111111111"}));
  // Starting inside a digit run does not start a candidate there.
  EXPECT_TRUE(Find(*m, text, 3).empty());
  EXPECT_TRUE(Find(*m, text, 20).empty());  // "4111..." preceded by '9'
  // A match must start at or after start_pos.
  EXPECT_EQ(Find(*m, "4111111111111111 5555555555554444", 1), (Strings{"5555555555554444"}));
}

TEST(CreditCard, MatchesWholeRequiresExactlyTheNumber) {
  auto m = Make("credit_card");
  EXPECT_TRUE(m->MatchesWhole("4111111111111111"));
  EXPECT_FALSE(m->MatchesWhole(" 4111111111111111"));
  EXPECT_FALSE(m->MatchesWhole("4111111111111111 "));
  EXPECT_FALSE(m->MatchesWhole("4111 1111 1111 1111 123"));
  EXPECT_FALSE(m->MatchesWhole(""));
  EXPECT_FALSE(m->MatchesWhole("0000-0000-0000-0000"));
}

// ---------------------------------------------------------------------------------------------
// routing_number

TEST(RoutingNumber, ConformanceCase) {
  auto m = Make("routing_number");
  EXPECT_EQ(Find(*m, "cards 4111111111111111 4111111111111112 378282246310005; routing 021000021 "
                     "123456789 011000015\n"),
            (Strings{"021000021", "011000015"}));
}

TEST(RoutingNumber, ChecksumAndPrefix) {
  for (const char* n : {"021000021", "011000015", "026009593", "121000358", "322271627",
                        "011401533", "091000019", "061000104", "800000006"}) {
    EXPECT_TRUE(AbaRoutingNumberValid(n)) << n;
  }
  EXPECT_FALSE(AbaRoutingNumberValid("123456789"));  // checksum
  EXPECT_FALSE(AbaRoutingNumberValid("021000022"));  // checksum
  EXPECT_FALSE(AbaRoutingNumberValid("500000005"));  // checksum ok, prefix 50 is not assigned
  EXPECT_FALSE(AbaRoutingNumberValid("000000000"));  // placeholder
  EXPECT_FALSE(AbaRoutingNumberValid("02100002"));
  EXPECT_FALSE(AbaRoutingNumberValid("02100002a"));
}

TEST(RoutingNumber, DigitBoundaries) {
  auto m = Make("routing_number");
  EXPECT_TRUE(Find(*m, "0210000210").empty());
  EXPECT_TRUE(Find(*m, "1021000021").empty());
  EXPECT_EQ(Find(*m, "aba:021000021/x"), (Strings{"021000021"}));
  EXPECT_EQ(Find(*m, "021000021"), (Strings{"021000021"}));
  EXPECT_EQ(Find(*m, "021000021-011000015"), (Strings{"021000021", "011000015"}));
  EXPECT_TRUE(Find(*m, "000000000 500000005").empty());
  // Context before start_pos: the run "1021000021" began before position 1.
  EXPECT_TRUE(Find(*m, "1021000021", 1).empty());
  EXPECT_EQ(Find(*m, "x021000021", 1), (Strings{"021000021"}));
}

TEST(RoutingNumber, MatchesWhole) {
  auto m = Make("routing_number");
  EXPECT_TRUE(m->MatchesWhole("021000021"));
  EXPECT_FALSE(m->MatchesWhole("021000021 "));
  EXPECT_FALSE(m->MatchesWhole("123456789"));
  EXPECT_EQ(m->MaxMatchLength(), 9u);
}

// ---------------------------------------------------------------------------------------------
// hash

// One real hash of each documented type (generated with passlib 1.7.4), and a near miss that the
// type's own recogniser must reject.
struct HashCase {
  const char* type;
  const char* hash;
  const char* near_miss;
};

const HashCase kHashCases[] = {
    {"bcrypt", "$2b$12$r3PfhfwqJgxIskvPbcp5Ou7Ax4gThHMGE084x3INTa7vLQ28HTqv2",
     "$2b$12$r3PfhfwqJgxIskvPbcp5Ou7Ax4gThHMGE084x3INTa7vLQ28HTqv"},
    {"bcrypt", "$2a$12$D3.jQKmuZyMkcC9FCoeEku9ugkfwwQ4Ozf9BtUApjEAIaKen6pnTy",
     "$2c$12$D3.jQKmuZyMkcC9FCoeEku9ugkfwwQ4Ozf9BtUApjEAIaKen6pnTy"},
    {"sha256_crypt",
     "$5$rounds=535000$APScG7KxBkMmKEbq$OKOJL.63lKPPgvQboU8zggaEdWLCjEZCXUBAVNyAKq6",
     "$5$rounds=535000$APScG7KxBkMmKEbq$OKOJL.63lKPPgvQboU8zggaEdWLCjEZCXUBAVNyAKq"},
    {"sha256_crypt", "$5$leirWt5zANQCNF0k$ElZl4CJE/DEDc8k6t3rwnW1u8XOfPKpShMYKuecKBS1",
     "$5$leirWt5zANQCNF0k$ElZl4CJE/DEDc8k6t3rwnW1u8XOfPKpShMYKuecKBS1x"},
    {"sha512_crypt",
     "$6$rounds=656000$Ft7tRW.GuGdeqsXE$nwcX14R5a6wPX3TmU0I7xtTpeJocupEDOvsrwvisWK9XN81iZ."
     "uFv9R71E.6TymlR6WLNEXfMd2RCcMvdVjoD.",
     "$6$rounds=656000$Ft7tRW.GuGdeqsXE$nwcX14R5a6wPX3TmU0I7xtTpeJocupEDOvsrwvisWK9XN81iZ."
     "uFv9R71E.6TymlR6WLNEXfMd2RCcMvdVjoD"},
    {"md5_crypt", "$1$wCI33Lx.$6lQtGWewGe.XkjRaea9qd0", "$1$wCI33Lx.$6lQtGWewGe.XkjRaea9qd"},
    {"sha1_crypt", "$sha1$480000$PVLKpTMN$qsgvAbENR5SIYHOMNXo6rUHEi1oy",
     "$sha1$480000$PVLKpTMN$qsgvAbENR5SIYHOMNXo6rUHEi1o"},
    {"sun_md5_crypt", "$md5,rounds=34000$0pcI5jXY$$b9BmS2OvQKcjcUXtqrqwN0",
     "$md5,rounds=34000$0pcI5jXY$$b9BmS2OvQKcjcUXtqrqwN"},
    {"argon2", "$argon2id$v=19$m=102400,t=2,p=8$2xvjvBeiVGoNISQkxFir1Q$S7zIEaFb/UtaAA+9vezvww",
     "$argon2x$v=19$m=102400,t=2,p=8$2xvjvBeiVGoNISQkxFir1Q$S7zIEaFb/UtaAA+9vezvww"},
    {"argon2", "$argon2i$v=19$m=102400,t=2,p=8$PAfAmFOqlTJmzJkzRsgZow$6W3R9byUsnt00d+ScJK9lg",
     "$argon2i$v=19$m=102400,t=2$PAfAmFOqlTJmzJkzRsgZow$6W3R9byUsnt00d+ScJK9lg"},
    {"bcrypt_sha256",
     "$bcrypt-sha256$v=2,t=2b,r=12$1v.KGMl3/NPlPsWLX9YxP.$3Ty9TJ2.Wrds1MIzYC19wVGCb2COXZe",
     "$bcrypt-sha256$v=2,t=2b,r=12$1v.KGMl3/NPlPsWLX9YxP.$3Ty9TJ2.Wrds1MIzYC19wVGCb2COXZ"},
    {"bcrypt_sha256", "$bcrypt-sha256$2b,12$VRmukJc8qcVBZd1bZR8pxe$GoEb97b5GhGvWGtlxUr74OOPodDkD.e",
     "$bcrypt-sha256$2b,12$VRmukJc8qcVBZd1bZR8px$GoEb97b5GhGvWGtlxUr74OOPodDkD.e"},
    {"phpass", "$P$H6/QKMLHi.t51N64Y2oedstFWWhUBA.", "$P$H6/QKMLHi.t51N64Y2oedstFWWhUBA"},
    {"pbkdf2_sha1", "$pbkdf2$131000$jXHOmfOe09q7t7bW.v./9w$Mi72yE/RQFDXb0Nh8K3MPimVmDY",
     "$pbkdf2$131000$jXHOmfOe09q7t7bW.v./9w$Mi72yE/RQFDXb0Nh8K3MPimVmD"},
    {"pbkdf2_sha256",
     "$pbkdf2-sha256$29000$TmktZcy5l3IuRai19t5bSw$4goarVZ7epZLOa.yHI9nemWuUAYN.j6rNifw/7yiciM",
     "$pbkdf2-sha256$29000$TmktZcy5l3IuRai19t5bSw$4goarVZ7epZLOa.yHI9nemWuUAYN.j6rNifw/7yici"},
    {"pbkdf2_sha512",
     "$pbkdf2-sha512$25000$NSaklJJyjjHG.L937t3bGw$dtds0a1MkHv2dCnHcd58K/dg50rZvCj8CGByBYKVjrqA495aq"
     "K8dbc.dnHirxH/9xS7s4iqr3r7IHr9076bDEQ",
     "$pbkdf2-sha512$25000$NSaklJJyjjHG.L937t3bGw$dtds0a1MkHv2dCnHcd58K/dg50rZvCj8CGByBYKVjrqA495aq"
     "K8dbc.dnHirxH/9xS7s4iqr3r7IHr9076bDE"},
    {"scram",
     "$scram$100000$LWUM4fzfew/hfE/p$sha-1=87gBImIIuS/8KZ1f6rPwxt9PGTk,sha-256=moGEWZ7ZPikcHqrlpR86Ut"
     "9xnVCgVpWj0oyyAxXhQPk,sha-512=NQhsN7ksDOdtweT6p84X3fjLm3MXZTj8sDRYtNuwtX1vkM2hSJpobr9UlE/"
     "OLl6.6URXC73jHEj1XmNydknStA",
     "$scram$100000$LWUM4fzfew/hfE/p$sha-1:87gBImIIuS/8KZ1f6rPwxt9PGTk"},
    {"scrypt",
     "$scrypt$ln=16,r=8,p=1$HqN0bi3FeE9pzfm/N+Zcyw$im1b34MBa60xYUXIctRw9kttabvCR+XL1ArJ6gRsA3s",
     "$scrypt$ln=16,r=8,p=1$HqN0bi3FeE9pzfm/N+Zcyw$im1b34MBa60xYUXIctRw9kttabvCR+XL1ArJ6gRsA3"},
    {"apr_md5_crypt", "$apr1$dE8HqOHi$RICx/DOVDokLWPaaxE6Z21", "$apr1$dE8HqOHi$RICx/DOVDokLWPaaxE6Z2"},
    {"cta_pbkdf2_sha1", "$p5k2$1ffb8$GMMYw3hPqXXOuTfmnBMiZA==$UOhVmqU5LgqKtPFhZ4N9lAoQ9Mw=",
     "$p5k2$1ffb8$GMMYw3hPqXXOuTfmnBMiZA==$UOhVmqU5LgqKtPFhZ4N9lAoQ9Mw"},
    {"dlitz_pbkdf2_sha1", "$p5k2$1ffb8$Q7zwaVolzAt82Ueu$vme.7BGom.C7IATCh3V6F.mpz/52zYAB",
     "$p5k2$1ffb8$Q7zwaVolzAt82Ueu$vme.7BGom.C7IATCh3V6F.mpz/52zYA"},
    {"mssql2000",
     "0x0100C5D8DB7B67F7C1964EE1FB1FC8866A87D2ECB8910E9FD285463AB94F6C1872FD4AAD5D4EFF41CEE892FF0A"
     "2C",
     "0x0100C5D8DB7B67F7C1964EE1FB1FC8866A87D2ECB8910E9FD285463AB94F6C1872FD4AAD5D4EFF41CEE892FF0A"
     "2"},
    {"mssql2005", "0x01002D4568ADF885F3E9EF15A82C6D7A38562DDF35320B7B64F3",
     "0x01002D4568ADF885F3E9EF15A82C6D7A38562DDF35320B7B64F"},
    {"mysql141", "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
     "*2470c0c06dee42fd1618bb99005adca2ec9d1e19"},
    {"postgres_md5", "md580a19f669b02edfbc208a5386ab5036b", "md580a19f669b02edfbc208a5386ab5036"},
    {"oracle11", "S:A5C20A2215D182302A95D7B5B9CB1991468EEB344D3E0CED26DC8F1B1039",
     "S:A5C20A2215D182302A95D7B5B9CB1991468EEB344D3E0CED26DC8F1B103"},
    {"bsd_nthash", "$3$$8846f7eaee8fb117ad06bdd830b7586c", "$3$$8846f7eaee8fb117ad06bdd830b7586"},
    {"django_pbkdf2_sha1", "pbkdf2_sha1$131000$e0PSbNtlds2D$/kyFr0GeywLWEhOScwdjS0X2Tgc=",
     "pbkdf2_sha1$131000$e0PSbNtlds2D$/kyFr0GeywLWEhOScwdjS0X2Tgc"},
    {"django_pbkdf2_sha256",
     "pbkdf2_sha256$29000$jSvTL4U3OQp5$cTFDLt+D2GgZVH3PylIJB6XJkY6+LXjBr1MOIQxHSiI=",
     "pbkdf2_sha256$29000$jSvTL4U3OQp5$cTFDLt+D2GgZVH3PylIJB6XJkY6+LXjBr1MOIQxHSiI"},
    {"django_salted_sha1", "sha1$Uiw9rIYXdn22$444f7f4c135d8d13c9dc2b219d75e721a82b25c8",
     "sha1$Uiw9rIYXdn22$444f7f4c135d8d13c9dc2b219d75e721a82b25c"},
    {"django_salted_md5", "md5$pmtstvOUe6Uw$cedaaeb107f95bece5c6b64a4f78099c",
     "md5$pmtstvOUe6Uw$cedaaeb107f95bece5c6b64a4f78099"},
    {"django_des_crypt", "crypt$1h$1hZxInB.IRI/A", "crypt$1h$1hZxInB.IRI/"},
    {"django_des_crypt", "crypt$$1hZxInB.IRI/A", "crypt$1hZxInB.IRI/A"},
    {"grub_pbkdf2_sha512",
     "grub.pbkdf2.sha512.25000.3F47484989712E45A83586504AE99D33668C3106602CE51C83F09E13E2FC3F8770CE99"
     "33E6DC5B4B29E5BC578AB19632E63C47A89552CA590B8190528A31660C.383587315E9561BBCE0C35150527A062F63B"
     "791693255B2701F65F761F53844E88DA892FE89CD3897959C9CE0C4228C7D7A34E7F2725F710B8F42125D68BFDAD",
     "grub.pbkdf2.sha512.25000.3F47484989712E45A83586504AE99D33668C3106602CE51C83F09E13E2FC3F8770CE99"
     "33E6DC5B4B29E5BC578AB19632E63C47A89552CA590B8190528A31660C.383587315E9561BBCE0C35150527A062F63B"
     "791693255B2701F65F761F53844E88DA892FE89CD3897959C9CE0C4228C7D7A34E7F2725F710B8F42125D68BFDA"},
};

TEST(Hash, EveryDocumentedTypeHasACase) {
  for (const std::string& t : HashTypeNames()) {
    bool found = false;
    for (const HashCase& c : kHashCases) found = found || t == c.type;
    EXPECT_TRUE(found) << t;
  }
}

TEST(Hash, EachTypeMatchesItsOwnFormatInText) {
  for (const HashCase& c : kHashCases) {
    auto own = Make("hash", {c.type});
    ASSERT_NE(own, nullptr);
    std::string h = c.hash;
    EXPECT_EQ(Find(*own, "{\"password\":\"" + h + "\"}"), (Strings{h})) << c.type;
    EXPECT_EQ(Find(*own, "hash " + h + ". next"), (Strings{h})) << c.type;  // sentence end
    EXPECT_EQ(Find(*own, h), (Strings{h})) << c.type;                       // whole text
    EXPECT_TRUE(own->MatchesWhole(h)) << c.type;
    EXPECT_FALSE(own->MatchesWhole(h + " ")) << c.type;
  }
}

TEST(Hash, DefaultSetMatchesEveryType) {
  auto all = Make("hash");
  for (const HashCase& c : kHashCases) {
    EXPECT_EQ(Find(*all, std::string("x ") + c.hash + "\n"), (Strings{c.hash})) << c.type;
  }
}

TEST(Hash, NearMissesAreRejectedByTheirType) {
  for (const HashCase& c : kHashCases) {
    auto own = Make("hash", {c.type});
    ASSERT_NE(own, nullptr);
    EXPECT_TRUE(Find(*own, std::string("x ") + c.near_miss + " y").empty())
        << c.type << ": " << c.near_miss;
    EXPECT_FALSE(own->MatchesWhole(c.near_miss)) << c.type;
  }
}

TEST(Hash, RunningOnIntoMoreHashCharactersIsNotAMatch) {
  for (const HashCase& c : kHashCases) {
    auto own = Make("hash", {c.type});
    ASSERT_NE(own, nullptr);
    std::string h = c.hash;
    if (h.back() == '=') continue;  // padding ends these; covered by the near misses
    if (std::string_view(c.type) == "argon2") continue;  // variable-length checksum
    EXPECT_TRUE(Find(*own, h + "a").empty()) << c.type;
    EXPECT_TRUE(Find(*own, h + "0").empty()) << c.type;
  }
}

TEST(Hash, WordPrefixedFormatsNeedABoundaryBefore) {
  auto m = Make("hash");
  EXPECT_TRUE(Find(*m, "xmd580a19f669b02edfbc208a5386ab5036b").empty());
  EXPECT_TRUE(Find(*m, "A0x01002D4568ADF885F3E9EF15A82C6D7A38562DDF35320B7B64F3").empty());
  EXPECT_EQ(Find(*m, "=md580a19f669b02edfbc208a5386ab5036b"),
            (Strings{"md580a19f669b02edfbc208a5386ab5036b"}));
  // With start_pos, the byte before it is context for the boundary.
  std::string text = "xmd580a19f669b02edfbc208a5386ab5036b";
  EXPECT_TRUE(Find(*m, text, 1).empty());
  EXPECT_EQ(Find(*m, " " + text.substr(1), 1), (Strings{text.substr(1)}));
}

TEST(Hash, OptionsSelectTypes) {
  auto bcrypt_only = Make("hash", {"bcrypt"});
  EXPECT_TRUE(Find(*bcrypt_only, "$1$wCI33Lx.$6lQtGWewGe.XkjRaea9qd0").empty());
  EXPECT_TRUE(Find(*bcrypt_only, "md580a19f669b02edfbc208a5386ab5036b").empty());
  auto two = Make("hash", {"md5_crypt", "postgres_md5"});
  EXPECT_EQ(Find(*two, "$1$wCI33Lx.$6lQtGWewGe.XkjRaea9qd0 md580a19f669b02edfbc208a5386ab5036b "
                       "$2b$12$r3PfhfwqJgxIskvPbcp5Ou7Ax4gThHMGE084x3INTa7vLQ28HTqv2"),
            (Strings{"$1$wCI33Lx.$6lQtGWewGe.XkjRaea9qd0", "md580a19f669b02edfbc208a5386ab5036b"}));
  // mssql2005 alone does not report the first 48 hex digits of a mssql2000 hash.
  auto mssql2005 = Make("hash", {"mssql2005"});
  for (const HashCase& c : kHashCases) {
    if (std::string_view(c.type) == "mssql2000") {
      EXPECT_TRUE(Find(*mssql2005, c.hash).empty());
    }
  }
  auto alias = Make("hash", {"mysql41"});
  EXPECT_EQ(Find(*alias, "pw *2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"),
            (Strings{"*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"}));
}

TEST(Hash, AdjacentHashesAndProse) {
  auto m = Make("hash");
  std::string a = "$1$wCI33Lx.$6lQtGWewGe.XkjRaea9qd0";
  std::string b = "$apr1$dE8HqOHi$RICx/DOVDokLWPaaxE6Z21";
  EXPECT_EQ(Find(*m, a + "," + b), (Strings{a, b}));
  EXPECT_TRUE(Find(*m, "The price is $1$ and $2 for md5 of the sha1 password crypt.").empty());
  EXPECT_TRUE(Find(*m, "deadbeef 5d41402abc4b2a76b9719d911017c592 S:short *note*").empty());
}

// ---------------------------------------------------------------------------------------------
// error_text

struct ErrorCase {
  const char* family;
  std::vector<std::string> positives;  // each is exactly one match of its family
  std::vector<std::string> negatives;  // prose that must not match the family
};

const std::vector<ErrorCase>& ErrorCases() {
  static const std::vector<ErrorCase> cases = {
      {"js_error",
       {"TypeError: foo.bar is not a function",
        "TypeError: Cannot read properties of undefined",
        "ReferenceError: x is not defined",
        "at Object.<anonymous> (/app/index.js:10:15)",
        "at processTicksAndRejections (node:internal/process/task_queues:95:5)",
        "at /srv/app/node_modules/express/lib/router/index.js:284:7",
        "Error: Cannot find module 'express'"},
       {"We met at the cafe (near the station) at 10:30.", "Look at index.js for details.",
        "There was a type error in the form.", "TypeError: please retry"}},
      {"py_error",
       {"Traceback (most recent call last):", "File \"/app/main.py\", line 12, in handler",
        R"(File \"/app/main.py\", line 12, in handler)",
        "ModuleNotFoundError: No module named", "AttributeError: 'NoneType' object has no attribute",
        "django.core.exceptions.ObjectDoesNotExist"},
       {"The traceback of events shows the file was saved on line 3.",
        "File \"report.pdf\" was uploaded.", "No module named here"}},
      {"java_error",
       {"Exception in thread \"main\"", "at com.example.service.UserService.find(UserService.java:42)",
        "at java.base/java.lang.Thread.run(Thread.java:833)",
        "at sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method)",
        "java.lang.NullPointerException", "Caused by: java.sql.SQLException",
        "org.springframework.beans.factory.BeanCreationException"},
       {"The exception in the thread of history.", "Look at com.example for details.",
        "Java is an island; coffee is a drink."}},
      {"rust_error",
       {"thread 'main' panicked at ", "run with `RUST_BACKTRACE=1`",
        "called `Option::unwrap()` on a `None` value", "error[E0382]: "},
       {"The main thread panicked at the thought of rust.", "error: see the docs"}},
      {"ruby_error",
       {"/app/models/user.rb:12:in `find_by_email'", "app.rb:3:in 'block in foo'",
        "undefined method `name' for ", "(NoMethodError)", "ActiveRecord::RecordNotFound"},
       {"I found a ruby gem in the garden (not an error).", "see user.rb for the model"}},
      {"go_error",
       {"panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:",
        R"(panic: boom\n\ngoroutine 1 [running]:)", "goroutine 17 [chan receive]:",
        "/usr/local/go/src/runtime/panic.go:212 +0x55",
        "runtime error: invalid memory address or nil pointer dereference",
        "fatal error: all goroutines are asleep - deadlock!"},
       {"Don't panic: the goroutine docs are helpful.", "see main.go for details"}},
      {"php_error",
       {"PHP Fatal error: ", "<b>Warning</b>: ", "in /var/www/html/index.php:3",
        "in <b>/var/www/x.php</b> on line <b>5</b>", "#0 /var/www/html/lib.php(12): ",
        "Call to undefined function foo()", "SQLSTATE[42S02]", "PDOException"},
       {"Warning: wet floor in the lobby.", "in index.php we call foo", "Fatal error rates"}},
      {"mysql_error",
       {"You have an error in your SQL syntax",
        "check the manual that corresponds to your MySQL server version", "ERROR 1064 (42000)",
        "Table 'shop.orders' doesn't exist", "Unknown column 'emal' in 'field list'",
        "Access denied for user 'root'@'localhost'", "mysqli_connect():"},
       {"You have an error in your essay.", "The table doesn't exist yet."}},
      {"postgres_error",
       {"ERROR:  syntax error at or near", "ERROR: relation \"users\" does not exist",
        R"(ERROR: relation \"users\" does not exist)", "pq: password authentication failed",
        "FATAL:  password authentication failed for user", "PG::UndefinedTable",
        "org.postgresql.util.PSQLException", "psycopg2.errors.UndefinedTable"},
       {"Error: please try again later.", "The relation does not exist."}},
      {"redis_error",
       {"WRONGTYPE Operation against a key holding the wrong kind of value",
        "ERR unknown command", "NOAUTH Authentication required",
        "redis.exceptions.ConnectionError"},
       {"ERR on the side of caution.", "Redis is a fast store."}},
      {"mongodb_error",
       {"MongoServerError: ", "E11000 duplicate key error", "pymongo.errors.ServerSelectionTimeoutError",
        "MongoNetworkError: ", "Cast to ObjectId failed for value"},
       {"The mongoose ate a mongo fruit.", "Mongo is a great database."}},
      {"type_error",
       {"TypeError: unsupported operand type(s) for +: 'int' and 'str'"},
       {"a type error", "TypeError without a colon"}},
      {"uncaught",
       {"Uncaught TypeError", "UnhandledPromiseRejectionWarning", "Uncaught (in promise)",
        "Unhandled exception."},
       {"the uncaught fish in the lake", "Uncaught fish"}},
      {"socket_error",
       {"ECONNREFUSED", "socket hang up", "[Errno 111] Connection refused",
        "dial tcp 10.0.0.1:6379: connect: connection refused", "java.net.ConnectException",
        ": broken pipe", "[Errno 32] Broken pipe"},
       {"The socket is on the wall.", "a broken pipe in the kitchen"}},
      {"operation_not_supported",
       {"Operation not supported", "UnsupportedOperationException", "EOPNOTSUPP",
        "NotImplementedError"},
       {"This operation is supported.", "not supported"}},
      {"callback",
       {"Callback was already called", "callback is not a function",
        "The \"callback\" argument must be of type function"},
       {"Please call back later.", "the callback runs later"}},
      {"segfault",
       {"Segmentation fault (core dumped)", "SIGSEGV", "segfault at 0 ip 00007f sp 00007ffd error 4"},
       {"a segment of the fault line"}},
      {"runtime_error",
       {"RuntimeError: maximum recursion depth exceeded",
        "terminate called after throwing an instance of 'std::runtime_error'",
        "runtime error: invalid memory address"},
       {"The runtime of the movie is 2 hours; no error."}},
      {"out_of_memory",
       {"OutOfMemoryError", "JavaScript heap out of memory",
        "Allowed memory size of 134217728 bytes exhausted", "Out of memory: Killed process 1234"},
       {"I ran out of memory cards."}},
      {"permission_denied",
       {": permission denied", "PermissionError: [Errno 13] Permission denied: '/root/x'", "EACCES",
        "[Errno 13] Permission denied"},
       {"Permission was denied by the manager."}},
      {"command_not_found",
       {"bash: foo: command not found", "sh: 1: curl: not found",
        "is not recognized as an internal or external command",
        "exec: \"python\": executable file not found in $PATH"},
       {"The command was not found in the manual."}},
      {"js_unknown_argument",
       {"Unknown argument `emial`", "Unknown arguments: foo, bar"},
       {"an unknown argument"}},
      {"js_invalid_invocation",
       {"Invalid `prisma.user.findUnique()` invocation", "Illegal invocation"},
       {"Invalid invitation"}},
      {"js_bug_message",
       {"This is caused by either a bug in Node.js or incorrect usage of Node.js internals",
        "This error is likely caused by a bug in React"},
       {"This is a bug in my code."}},
      {"envoy_segfault",
       {"Caught Segmentation fault, suspect faulting address 0x0",
        "Backtrace (use tools/stack_decode.py to get line numbers):"},
       {"Caught a fish, suspect it is a trout."}},
  };
  return cases;
}

TEST(ErrorText, EveryFamilyHasCases) {
  for (const std::string& f : ErrorTextFamilyNames()) {
    bool found = false;
    for (const ErrorCase& c : ErrorCases()) found = found || f == c.family;
    EXPECT_TRUE(found) << f;
  }
}

TEST(ErrorText, PositivesMatchTheirFamilyExactly) {
  for (const ErrorCase& c : ErrorCases()) {
    auto m = Make("error_text", {c.family});
    ASSERT_NE(m, nullptr);
    for (const std::string& p : c.positives) {
      EXPECT_EQ(Find(*m, "{\"error\":\"" + p + "\"}"), (Strings{p})) << c.family << ": " << p;
      EXPECT_TRUE(m->MatchesWhole(p)) << c.family << ": " << p;
    }
  }
}

TEST(ErrorText, NegativesDoNotMatchTheirFamily) {
  for (const ErrorCase& c : ErrorCases()) {
    auto m = Make("error_text", {c.family});
    ASSERT_NE(m, nullptr);
    for (const std::string& n : c.negatives) {
      EXPECT_EQ(Find(*m, n), Strings{}) << c.family << ": " << n;
      EXPECT_FALSE(m->MatchesWhole(n)) << c.family << ": " << n;
    }
  }
}

TEST(ErrorText, DefaultSetIsTheElevenLanguageAndDatabaseFamilies) {
  auto m = Make("error_text");
  Strings defaults = DefaultErrorTextFamilies();
  for (const ErrorCase& c : ErrorCases()) {
    bool in_default = std::find(defaults.begin(), defaults.end(), c.family) != defaults.end();
    if (!in_default) continue;
    for (const std::string& p : c.positives) {
      EXPECT_FALSE(Find(*m, p).empty()) << c.family << ": " << p;
    }
  }
  // Opt-in families are not in the default set.
  EXPECT_TRUE(Find(*m, "Segmentation fault (core dumped)").empty());
  EXPECT_TRUE(Find(*m, "TypeError: unsupported operand type(s) for +").empty());
  EXPECT_TRUE(Find(*m, "Caught Segmentation fault, suspect faulting address 0x0").empty());
}

TEST(ErrorText, RealStackTraces) {
  auto m = Make("error_text");
  std::string node =
      "{\"stack\":\"TypeError: Cannot read properties of undefined (reading 'id')\\n"
      "    at getUser (/srv/app/users.js:42:17)\\n"
      "    at Layer.handle [as handle_request] (/srv/app/node_modules/express/lib/router/"
      "layer.js:95:5)\"}";
  EXPECT_EQ(Find(*m, node),
            (Strings{"TypeError: Cannot read properties of undefined",
                     "at getUser (/srv/app/users.js:42:17)",
                     "at Layer.handle [as handle_request] (/srv/app/node_modules/express/lib/router/"
                     "layer.js:95:5)"}));
  std::string go =
      "panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\n"
      "main.main()\n\t/tmp/sandbox/prog.go:8 +0x1d\nexit status 2";
  EXPECT_EQ(Find(*m, go),
            (Strings{"panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 "
                     "[running]:",
                     "/tmp/sandbox/prog.go:8 +0x1d"}));
  std::string java =
      "Exception in thread \"main\" java.lang.IllegalStateException: boom\n"
      "\tat com.acme.App.run(App.java:17)\n\tat com.acme.App.main(App.java:9)\n";
  EXPECT_EQ(Find(*m, java),
            (Strings{"Exception in thread \"main\"", "java.lang.IllegalStateException",
                     "at com.acme.App.run(App.java:17)", "at com.acme.App.main(App.java:9)"}));
  std::string py =
      "Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in <module>\n"
      "    main()\nZeroDivisionError: division by zero\n";
  EXPECT_EQ(Find(*m, py),
            (Strings{"Traceback (most recent call last):", "File \"/app/x.py\", line 3, in <module>",
                     "ZeroDivisionError: division by zero"}));
}

TEST(ErrorText, ProseDoesNotMatchAnyFamily) {
  auto m = Make("error_text", ErrorTextFamilyNames());
  const char* prose =
      "At the meeting in Paris we looked at the results: the error rate fell, and the team "
      "found no exceptions in the thread about java, ruby or rust. Don't panic: the go-to "
      "plan works. Select a file (report.pdf) from the list, update your profile, or call "
      "back later. Permission was denied by the manager; the command was not found. The "
      "runtime of the film is 2 hours and the type of error was minor.";
  EXPECT_EQ(Find(*m, prose), Strings{});
}

TEST(ErrorText, StartPosAndMaxLength) {
  auto m = Make("error_text");
  std::string text = "xTraceback (most recent call last): Traceback (most recent call last):";
  EXPECT_EQ(Find(*m, text, 2).size(), 1u);
  EXPECT_EQ(Find(*m, text, 0).size(), 2u);
  // \b uses the byte before start_pos: "xERROR 1064 (42000)" has no boundary before ERROR.
  EXPECT_TRUE(Find(*m, "xERROR 1064 (42000)", 1).empty());
  EXPECT_EQ(Find(*m, " ERROR 1064 (42000)", 1), (Strings{"ERROR 1064 (42000)"}));
  // A gap longer than the window is not bridged.
  std::string long_panic = "panic: " + std::string(2000, 'x') + "\n\ngoroutine 1 [running]:";
  Strings found = Find(*m, long_panic);
  EXPECT_EQ(found, (Strings{"goroutine 1 [running]:"}));
  EXPECT_FALSE(m->MatchesWhole(long_panic));
}

// ---------------------------------------------------------------------------------------------
// sql

TEST(Sql, Statements) {
  auto m = Make("sql");
  EXPECT_EQ(Find(*m, "SELECT * FROM users WHERE id = 1"), (Strings{"SELECT * FROM users WHERE id = 1"}));
  EXPECT_EQ(Find(*m, "q: select id, email from users where id = 42; next"),
            (Strings{"select id, email from users where id = 42"}));
  EXPECT_EQ(Find(*m, R"({"q":"SELECT name FROM accounts WHERE owner = 'bob'","n":1})"),
            (Strings{"SELECT name FROM accounts WHERE owner = 'bob'"}));
  EXPECT_EQ(Find(*m, "INSERT INTO orders (id, total) VALUES (1, 9.99);"),
            (Strings{"INSERT INTO orders (id, total) VALUES (1, 9.99)"}));
  EXPECT_EQ(Find(*m, "insert into t select * from s;"), (Strings{"insert into t select * from s"}));
  EXPECT_EQ(Find(*m, "update users set password = 'x' where id = 1;"),
            (Strings{"update users set password = 'x' where id = 1"}));
  EXPECT_EQ(Find(*m, "UPDATE users u SET u.name='a';"), (Strings{"UPDATE users u SET u.name='a'"}));
  EXPECT_EQ(Find(*m, "DELETE FROM sessions WHERE expires < now();"),
            (Strings{"DELETE FROM sessions WHERE expires < now()"}));
  EXPECT_EQ(Find(*m, "drop table if exists audit_log;"), (Strings{"drop table if exists audit_log"}));
  EXPECT_EQ(Find(*m, "ALTER TABLE users ADD COLUMN age int;"),
            (Strings{"ALTER TABLE users ADD COLUMN age int"}));
  EXPECT_EQ(Find(*m, "create table t (id int primary key);"),
            (Strings{"create table t (id int primary key)"}));
  EXPECT_EQ(Find(*m, "id=1' UNION SELECT username, password FROM users--"),
            (Strings{"UNION SELECT username, password FROM users--"}));
  EXPECT_EQ(Find(*m, "1' union select null, version()-- -"),
            (Strings{"union select null, version()-- -"}));
}

TEST(Sql, SimpleLowerCaseStatementsNeedEvidence) {
  auto m = Make("sql");
  EXPECT_EQ(Find(*m, "SELECT name FROM users"), (Strings{"SELECT name FROM users"}));
  EXPECT_EQ(Find(*m, "select * from t"), (Strings{"select * from t"}));
  EXPECT_EQ(Find(*m, "select name from users order by name"),
            (Strings{"select name from users order by name"}));
  EXPECT_EQ(Find(*m, "select first_name from people"), (Strings{"select first_name from people"}));
  EXPECT_EQ(Find(*m, "delete from users;"), (Strings{"delete from users"}));
  EXPECT_EQ(Find(*m, "select a from b join c on b.id = c.id"),
            (Strings{"select a from b join c on b.id = c.id"}));
}

TEST(Sql, ProseIsNotSql) {
  auto m = Make("sql");
  for (const char* t : {
           "select from the menu",
           "Please select one from the list.",
           "Select one from list.",
           "You may delete from cart.",
           "Select a dish from our menu and enjoy.",
           "update your profile",
           "Update your profile settings to continue.",
           "Delete from your history any items you no longer need.",
           "drop table linens on the floor",
           "Insert into the slot and turn.",
           "SELECT",
           "the union select committee met",
           "alter table plans later",
           "Create table decorations for the party.",
       }) {
    EXPECT_EQ(Find(*m, t), Strings{}) << t;
    EXPECT_FALSE(m->MatchesWhole(t)) << t;
  }
}

TEST(Sql, LengthLimitAndBoundaries) {
  auto m = Make("sql");
  std::string text = "SELECT * FROM t WHERE a = '" + std::string(3000, 'a') + "'";
  Strings found = Find(*m, text);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].size(), m->MaxMatchLength());
  EXPECT_EQ(m->MaxMatchLength(), 1024u);
  // Keywords must be whole words.
  EXPECT_TRUE(Find(*m, "reselect * from t").empty());
  EXPECT_TRUE(Find(*m, "xselect * from t", 1).empty());
  EXPECT_EQ(Find(*m, "(select * from t)", 1), (Strings{"select * from t)"}));
  // Two statements.
  EXPECT_EQ(Find(*m, "SELECT 1, 2 FROM a; DROP TABLE b;"),
            (Strings{"SELECT 1, 2 FROM a", "DROP TABLE b"}));
  // Binary bytes end a statement.
  std::string bin = std::string("SELECT * FROM t\x01\x02 rest", 22);
  EXPECT_EQ(Find(*m, bin), (Strings{"SELECT * FROM t"}));
}

TEST(Sql, MatchesWhole) {
  auto m = Make("sql");
  EXPECT_TRUE(m->MatchesWhole("SELECT * FROM users"));
  EXPECT_TRUE(m->MatchesWhole("SELECT * FROM users;"));
  EXPECT_FALSE(m->MatchesWhole("SELECT * FROM users; DROP TABLE x"));
  EXPECT_FALSE(m->MatchesWhole("hello SELECT * FROM t"));
  EXPECT_FALSE(m->MatchesWhole(""));
}

// ---------------------------------------------------------------------------------------------
// int_phone / national_phone

#ifdef LEAKSCOPE_HAVE_PHONENUMBER

TEST(IntPhone, ValidInternationalNumbers) {
  auto m = Make("int_phone");
  for (const char* n : {"+1 650-253-0000", "+33 1 42 68 53 00", "+442079460958", "+44 20 7946 0958",
                        "+1 (650) 253-0000", "+31 20 123 4567", "+49 30 901820", "+81 3-3224-9999"}) {
    EXPECT_EQ(Find(*m, std::string("tel: ") + n + ", ok"), (Strings{n})) << n;
    EXPECT_TRUE(m->MatchesWhole(n)) << n;
  }
}

TEST(IntPhone, InvalidOrMalformed) {
  auto m = Make("int_phone");
  for (const char* t : {"+1 555 0000", "+12", "+999 12345678", "+1 650-253-00", "650-253-0000",
                        "1+16502530000", "+16502530000123", "a + 1 650 253 0000", "C++ 11"}) {
    EXPECT_EQ(Find(*m, t), Strings{}) << t;
  }
  EXPECT_FALSE(m->MatchesWhole("+1 650-253-0000 "));
  EXPECT_FALSE(m->MatchesWhole("650-253-0000"));
}

TEST(IntPhone, BoundariesAndTrailingGroups) {
  auto m = Make("int_phone");
  EXPECT_EQ(Find(*m, "+16502530000"), (Strings{"+16502530000"}));
  EXPECT_EQ(Find(*m, "x+16502530000y"), (Strings{"+16502530000"}));
  // A trailing group that makes the number invalid is dropped.
  EXPECT_EQ(Find(*m, "+33 1 42 68 53 00 12 items"), (Strings{"+33 1 42 68 53 00"}));
  EXPECT_EQ(Find(*m, "+16502530000,+442079460958"), (Strings{"+16502530000", "+442079460958"}));
  EXPECT_EQ(Find(*m, "+16502530000 +442079460958", 1), (Strings{"+442079460958"}));
  EXPECT_EQ(m->MaxMatchLength(), 24u);
}

TEST(NationalPhone, Options) {
  EXPECT_EQ(CodeOf("national_phone", {}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("national_phone", {"US", "NL"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("national_phone", {"XX"}), StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf("national_phone", {"XX"}).find("XX"), std::string::npos);
  EXPECT_EQ(CodeOf("national_phone", {""}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("national_phone", {"ZZ"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("national_phone", {"US"}), StatusCode::kOk);
  EXPECT_EQ(CodeOf("national_phone", {"nl"}), StatusCode::kOk);
  EXPECT_EQ(CodeOf("int_phone", {"US"}), StatusCode::kInvalidArgument);
}

TEST(NationalPhone, SecondaryOnlyAndMatchesWhole) {
  auto us = Make("national_phone", {"US"});
  auto gb = Make("national_phone", {"GB"});
  auto nl = Make("national_phone", {"NL"});
  EXPECT_TRUE(us->SecondaryOnly());
  EXPECT_FALSE(Make("int_phone")->SecondaryOnly());
  EXPECT_TRUE(us->MatchesWhole("650-253-0000"));
  EXPECT_TRUE(us->MatchesWhole("(650) 253-0000"));
  EXPECT_TRUE(us->MatchesWhole("1 650 253 0000"));
  EXPECT_TRUE(us->MatchesWhole("+1 650 253 0000"));
  EXPECT_FALSE(us->MatchesWhole("call 650-253-0000"));
  EXPECT_FALSE(us->MatchesWhole("020 7946 0958"));
  EXPECT_FALSE(us->MatchesWhole("+31 20 123 4567"));
  EXPECT_FALSE(us->MatchesWhole("123-4567"));
  EXPECT_FALSE(us->MatchesWhole(""));
  EXPECT_TRUE(gb->MatchesWhole("020 7946 0958"));
  EXPECT_FALSE(gb->MatchesWhole("650-253-0000"));
  EXPECT_TRUE(nl->MatchesWhole("020 123 4567"));
  EXPECT_TRUE(nl->MatchesWhole("+31 20 123 4567"));
}

TEST(NationalPhone, FindAll) {
  auto us = Make("national_phone", {"US"});
  EXPECT_EQ(Find(*us, "call 650-253-0000 or (650) 253-0001 now"),
            (Strings{"650-253-0000", "(650) 253-0001"}));
  EXPECT_EQ(Find(*us, "id 16502530000123"), Strings{});
  EXPECT_EQ(Find(*us, "16502530000", 1), Strings{});
}

#else  // !LEAKSCOPE_HAVE_PHONENUMBER

TEST(Phone, UnimplementedWithoutLibphonenumber) {
  EXPECT_EQ(CodeOf("int_phone", {}), StatusCode::kUnimplemented);
  EXPECT_EQ(MessageOf("int_phone", {}),
            "internal matcher int_phone needs libphonenumber, which this build (wasm32) does not "
            "include");
  EXPECT_EQ(CodeOf("national_phone", {"US"}), StatusCode::kUnimplemented);
  EXPECT_NE(MessageOf("national_phone", {"US"}).find("libphonenumber"), std::string::npos);
}

#endif  // LEAKSCOPE_HAVE_PHONENUMBER

// ---------------------------------------------------------------------------------------------
// All matchers

std::vector<std::pair<std::string, std::unique_ptr<InternalMatcher>>> AllMatchers() {
  std::vector<std::pair<std::string, std::unique_ptr<InternalMatcher>>> out;
  out.emplace_back("credit_card", Make("credit_card"));
  out.emplace_back("routing_number", Make("routing_number"));
  out.emplace_back("hash", Make("hash"));
  out.emplace_back("error_text", Make("error_text", ErrorTextFamilyNames()));
  out.emplace_back("sql", Make("sql"));
#ifdef LEAKSCOPE_HAVE_PHONENUMBER
  out.emplace_back("int_phone", Make("int_phone"));
  out.emplace_back("national_phone", Make("national_phone", {"US"}));
#endif
  return out;
}

TEST(AllMatchers, EveryMatchIsAWholeMatch) {
  // A match found in context is also a match on its own (what `and:` filters rely on).
  const std::string text =
      "card 4111 1111 1111 1111, aba 021000021, hash $1$wCI33Lx.$6lQtGWewGe.XkjRaea9qd0, "
      "ERROR 1064 (42000): You have an error in your SQL syntax; q=SELECT * FROM t WHERE a = 1; "
      "Traceback (most recent call last):\n  File \"/x.py\", line 2, in f\n tel +1 650-253-0000";
  size_t total = 0;
  for (auto& [name, m] : AllMatchers()) {
    ASSERT_NE(m, nullptr) << name;
    for (const std::string& s : Find(*m, text)) {
      ++total;
      EXPECT_TRUE(m->MatchesWhole(s)) << name << ": " << s;
    }
  }
  EXPECT_GE(total, 8u);
}

TEST(AllMatchers, LongRandomAndAdversarialInputs) {
  std::mt19937 rng(12345);
  std::string binary(1 << 20, '\0');
  for (char& c : binary) c = static_cast<char>(rng() & 0xff);
  // Digits and separators: worst case for the digit scanners and phone parsing.
  std::string digits(1 << 20, '\0');
  const char kDigitChars[] = "0123456789 -+().";
  for (char& c : digits) c = kDigitChars[rng() % (sizeof(kDigitChars) - 1)];
  // Dense recogniser prefixes: worst case for the pattern bundles.
  const char* words[] = {"Warning:", "panic:", "ERROR: ", "pq:", "TypeError:", "at", "in",
                         "File \"", "\"", "select", "from", "*", ",", "$2b$12$", "md5", "\n",
                         "goroutine", "Exception", "com.foo.Bar", "(", ")", ":", "'", "where"};
  std::string soup;
  while (soup.size() < (1 << 20)) {
    soup += words[rng() % (sizeof(words) / sizeof(*words))];
    soup += ' ';
  }
  for (auto& [name, m] : AllMatchers()) {
    ASSERT_NE(m, nullptr) << name;
    for (const std::string* input : {&binary, &digits, &soup}) {
      std::string_view text = *input;
      // national_phone is secondary-only (used through MatchesWhole); its FindAll parses up to a
      // few candidates per digit group, so it gets a smaller slice of the digit soup.
      if (name == "national_phone" && input == &digits) text = text.substr(0, 64 << 10);
      Find(*m, text);
      Find(*m, text, text.size() / 2);
      Find(*m, text, text.size());
    }
    EXPECT_FALSE(m->MatchesWhole(binary)) << name;
  }
}

TEST(AllMatchers, MatchesNeverDependOnBytesBeyondTheWindow) {
  // What streaming relies on: a match that starts at b is the same whether the text is cut at
  // b + MaxMatchLength() + 1 or not.
  const std::string text =
      "x 4111-1111-1111-1111 $6$rounds=656000$Ft7tRW.GuGdeqsXE$nwcX14R5a6wPX3TmU0I7xtTpeJocupEDOvsr"
      "wvisWK9XN81iZ.uFv9R71E.6TymlR6WLNEXfMd2RCcMvdVjoD. select * from users where name = 'x' "
      "panic: boom\n\ngoroutine 1 [running]:\n 021000021 +44 20 7946 0958 ";
  for (auto& [name, m] : AllMatchers()) {
    std::vector<Span> whole;
    m->FindAll(text, 0, &whole);
    for (const Span& s : whole) {
      size_t cut = std::min(text.size(), s.begin + m->MaxMatchLength() + 1);
      std::vector<Span> part;
      m->FindAll(std::string_view(text).substr(0, cut), s.begin, &part);
      ASSERT_FALSE(part.empty()) << name;
      EXPECT_EQ(part.front(), s) << name;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RegexMaxLength

TEST(RegexMaxLength, Bounds) {
  EXPECT_EQ(RegexMaxLength("abc"), 3u);
  EXPECT_EQ(RegexMaxLength(R"(\$2[ab]?\$[0-9]{2}\$[./A-Za-z0-9]{53})"), 60u);
  EXPECT_EQ(RegexMaxLength("a|bcd|ef"), 3u);
  EXPECT_EQ(RegexMaxLength("(?:ab){2,3}c?"), 7u);
  EXPECT_EQ(RegexMaxLength(R"(\bfoo\b$)"), 3u);
  EXPECT_EQ(RegexMaxLength("(?i)select"), 6u);
  EXPECT_EQ(RegexMaxLength("(?i:ab)|[]a]{4}"), 4u);
  EXPECT_EQ(RegexMaxLength(R"(\x41{3}\pL)"), 4u);
  EXPECT_EQ(RegexMaxLength("a{0,5}?"), 5u);
  EXPECT_EQ(RegexMaxLength("a*"), std::nullopt);
  EXPECT_EQ(RegexMaxLength("(?:ab)+"), std::nullopt);
  EXPECT_EQ(RegexMaxLength("a{2,}"), std::nullopt);
  EXPECT_EQ(RegexMaxLength("(ab"), std::nullopt);
  EXPECT_EQ(RegexMaxLength("[ab"), std::nullopt);
}

TEST(PatternBundle, RejectsUnboundedPatternsWithoutAWindow) {
  EXPECT_FALSE(PatternBundle::Create("t", {{"a", "b*"}}).ok());
  EXPECT_FALSE(PatternBundle::Create("t", {{"a*", ""}}).ok());
  PatternBundle::Options options;
  options.window = 16;
  StatusOr<std::unique_ptr<PatternBundle>> b = PatternBundle::Create("t", {{"a", "b*"}}, options);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->max_match_length(), 16u);
  Span m;
  std::string text = "xa" + std::string(40, 'b');
  ASSERT_TRUE((*b)->FindNext(text, 0, &m));
  EXPECT_EQ(m, (Span{1, 17}));
}

}  // namespace
}  // namespace leakscope
