#include "engine/json_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace leakscope {
namespace {

// Records scalars as "K:path=text" / "V:path=text" / "N:path=text" with raw ranges.
class Recorder : public JsonTokenizer::Sink {
 public:
  JsonTokenizer* tok = nullptr;
  std::vector<std::string> scalars;
  std::string current;
  std::string prefix;
  uint64_t raw_begin = 0;
  void OnScalarBegin(bool is_key, bool is_number, uint64_t raw_offset) override {
    // The path is read when the scalar ends, as the engine does: a key's own text is then known.
    prefix = std::string(is_key ? "K:" : is_number ? "N:" : "V:");
    current.clear();
    raw_begin = raw_offset;
  }
  void OnScalarData(std::string_view decoded, uint64_t rb, uint64_t re) override {
    EXPECT_LE(rb, re);
    EXPECT_GE(rb, raw_begin);
    current.append(decoded);
  }
  void OnScalarEnd(uint64_t) override { scalars.push_back(prefix + tok->CurrentPath() + "=" + current); }
};

std::vector<std::string> Tokenize(const std::string& json, size_t chunk, bool* ok, std::string* error = nullptr,
                                  JsonTokenizer::Limits limits = {}) {
  Recorder r;
  JsonTokenizer t(&r, limits);
  r.tok = &t;
  *ok = true;
  // Each chunk from a buffer that is overwritten once Feed returns, as a proxy's would be: the
  // tokenizer must keep nothing of it (a key it still needs for paths, say).
  std::string buffer;
  for (size_t i = 0; i < json.size() && *ok; i += chunk) {
    buffer.assign(json, i, chunk);
    *ok = t.Feed(buffer);
    buffer.assign(buffer.size(), '#');
  }
  if (*ok) *ok = t.Finish();
  if (error) *error = t.error();
  return r.scalars;
}

// Feeds `json` in chunks of `chunk` bytes to `t` (set up for `r`), as Tokenize does; returns the
// scalars, and whether and how it failed, as one comparable record.
std::vector<std::string> FeedAll(JsonTokenizer* t, Recorder* r, const std::string& json, size_t chunk) {
  r->tok = t;
  bool ok = true;
  for (size_t i = 0; i < json.size() && ok; i += chunk) ok = t->Feed(std::string_view(json).substr(i, chunk));
  if (ok) ok = t->Finish();
  std::vector<std::string> out = r->scalars;
  out.push_back(ok ? "ok" : "failed: " + t->error());
  out.push_back("documents " + std::to_string(t->documents()));
  return out;
}

TEST(JsonTokenizer, AResetTokenizerIsAFreshOne) {
  // Bodies that leave the tokenizer in every kind of state: inside a key, a string, an escape,
  // a \u escape after a high surrogate, a number and a literal; deep, with long keys; failed;
  // several documents. The next body on the same tokenizer, reset, must go as on a new one.
  const std::vector<std::string> bodies = {
      R"({"users":[{"ssn":"123-45-6789","n":42},{"a":[true,null,"x"]}]})",
      R"({"open key)",
      R"({"k":"open \n string)",
      R"({"k":"escape \)",
      R"({"k":"\ud83d\u00)",
      R"({"k":[1,2,-12.5e)",
      R"({"k":[tr)",
      R"({"a":{"b":{"c":{"a very long key indeed, longer than the limit":{"e":["deep"]}}}}})",
      R"({"a":1,,})",
      R"({"doc":1} {"doc":2} [3])",
      R"(["after", {"all": "that"}])",
  };
  JsonTokenizer::Limits small;
  small.max_depth = 4;
  small.max_key_bytes = 8;
  Recorder first;
  JsonTokenizer reused(&first);
  bool started = false;
  for (int round = 0; round < 2; ++round) {
    for (size_t b = 0; b < bodies.size(); ++b) {
      for (size_t chunk : {size_t{1}, size_t{5}, size_t{1000}}) {
        const JsonTokenizer::Limits limits = (b + chunk) % 2 == 0 ? small : JsonTokenizer::Limits();
        Recorder fresh_sink;
        JsonTokenizer fresh(&fresh_sink, limits);
        const std::vector<std::string> want = FeedAll(&fresh, &fresh_sink, bodies[b], chunk);
        Recorder sink;
        if (started) reused.Reset(&sink, limits);
        Recorder* used = started ? &sink : &first;
        EXPECT_EQ(FeedAll(&reused, used, bodies[b], chunk), want) << "body " << b << " chunk " << chunk;
        started = true;
      }
    }
  }
}

TEST(JsonTokenizer, KeysValuesAndPaths) {
  bool ok;
  auto s = Tokenize(R"({"users":[{"ssn":"123-45-6789","n":42},{"a":[true,null,"x"]}]})", 1000, &ok);
  ASSERT_TRUE(ok);
  std::vector<std::string> want = {"K:users=users",     "K:users[0].ssn=ssn", "V:users[0].ssn=123-45-6789",
                                   "K:users[0].n=n",    "N:users[0].n=42",    "K:users[1].a=a",
                                   "V:users[1].a[2]=x"};
  EXPECT_EQ(s, want);
}

TEST(JsonTokenizer, SameResultForEveryChunkSize) {
  const std::string json =
      R"({"a\"b":"line\nbreak \u00e9 \ud83d\ude00 \/","num":-12.5e3,"arr":[1,2,[3,{"k":"v"}]],"t":true} {"second":"doc"})";
  bool ok;
  auto whole = Tokenize(json, json.size(), &ok);
  ASSERT_TRUE(ok);
  for (size_t chunk = 1; chunk < 12; ++chunk) {
    EXPECT_EQ(Tokenize(json, chunk, &ok), whole) << chunk;
    EXPECT_TRUE(ok);
  }
  EXPECT_EQ(whole[0], "K:a\"b=a\"b");
  EXPECT_EQ(whole[1], "V:a\"b=line\nbreak \xc3\xa9 \xf0\x9f\x98\x80 /");
  EXPECT_EQ(whole.back(), "V:second=doc");
}

TEST(JsonTokenizer, PrettyPrintedAndCompactGiveTheSameScalars) {
  // Whitespace runs shorter and longer than 16 bytes (skipped in blocks), tabs and CRLF, around
  // every structural byte; commas and colons right after values (taken without a loop turn).
  const std::string compact = R"({"users":[{"ssn":"123-45-6789","n":42,"tags":["a","b"]},{"x":{"y":[1,2.5,"z"]}}],"k":"v"})";
  std::string pretty;
  int depth = 0;
  for (char c : compact) {
    if (c == '}' || c == ']') pretty += "\r\n" + std::string(static_cast<size_t>(--depth) * 9, ' ');
    pretty += c;
    if (c == '{' || c == '[') {
      ++depth;
      pretty += "\n" + std::string(static_cast<size_t>(depth) * 9, depth % 2 ? ' ' : '\t');
    }
    if (c == ',') pretty += "\n" + std::string(static_cast<size_t>(depth) * 9, ' ');
    if (c == ':') pretty += "  \t ";
  }
  bool ok;
  const auto want = Tokenize(compact, compact.size(), &ok);
  ASSERT_TRUE(ok);
  for (size_t chunk = 1; chunk <= 40; ++chunk) {
    EXPECT_EQ(Tokenize(compact, chunk, &ok), want) << "compact " << chunk;
    EXPECT_TRUE(ok);
    EXPECT_EQ(Tokenize(pretty, chunk, &ok), want) << "pretty " << chunk;
    EXPECT_TRUE(ok);
  }
  EXPECT_EQ(Tokenize(pretty, pretty.size(), &ok), want);
  // Errors after whitespace runs are still reported where they are.
  std::string error;
  const std::string bad = "[1," + std::string(40, ' ') + "]";
  Tokenize(bad, bad.size(), &ok, &error);
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find("at byte 43"), std::string::npos) << error;
  const std::string bad_key = "{\"a\"" + std::string(20, '\n') + "1}";
  Tokenize(bad_key, bad_key.size(), &ok, &error);
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find("expected ':' at byte 24"), std::string::npos) << error;
}

TEST(JsonTokenizer, StructureAndLiteralsTakenAsTheStateMachineTakesThem) {
  // Whole in one chunk, every value and literal is taken in the tokenizer's fast run; cut by
  // chunk ends, strings, numbers and literals go through its state machine, and errors are
  // found where the fast run stops. Every chunking gives the same scalars, paths, documents,
  // and errors at the same offsets, also around depth limits and literals that are wrong or cut.
  const std::vector<std::string> valid = {
      R"({"a":true,"b":[false,null,{"c":[]},{}],"d":{"e":{"f":"g"}},"h":null})",
      R"([true,false,null,[[[]]],{"k":[1,true]}] [null] {"x":false} true null)",
      "{ \"a\" : [ true , false ] ,\n\t\"b\" : { } }  ",
      R"([[[[["deep"]]]]])",
      R"({"a":[[[[1]]]]})",
  };
  const std::vector<std::string> invalid = {
      R"({"a":tru})", R"({"a":truex})", R"([nul])",    R"([true false])", R"({"a":1,})", R"([1,])",
      R"({"a":{]})",  R"([{"a":1}}])",  R"({"a"})",    R"({,})",          R"({"a":1]})", R"([1}])",
  };
  std::vector<std::string> inputs = valid;
  inputs.insert(inputs.end(), invalid.begin(), invalid.end());
  JsonTokenizer::Limits shallow;
  shallow.max_depth = 4;
  for (const std::string& json : inputs) {
    for (const JsonTokenizer::Limits& limits : {JsonTokenizer::Limits(), shallow}) {
      Recorder whole_r;
      JsonTokenizer whole_t(&whole_r, limits);
      const std::vector<std::string> whole = FeedAll(&whole_t, &whole_r, json, json.size());
      const bool deep = json.rfind("[[[[", 0) == 0 || json.find("[[[[1") != std::string::npos;
      const bool want_ok = std::find(valid.begin(), valid.end(), json) != valid.end() && !(deep && limits.max_depth == 4);
      EXPECT_EQ(whole[whole.size() - 2] == "ok", want_ok) << json << ": " << whole[whole.size() - 2];
      for (size_t chunk = 1; chunk < json.size(); ++chunk) {
        Recorder r;
        JsonTokenizer t(&r, limits);
        EXPECT_EQ(FeedAll(&t, &r, json, chunk), whole) << json << " in chunks of " << chunk << ", depth " << limits.max_depth;
      }
    }
  }
  // And what they give, for two of them.
  Recorder r;
  JsonTokenizer t(&r);
  EXPECT_EQ(FeedAll(&t, &r, inputs[0], inputs[0].size()),
            (std::vector<std::string>{"K:a=a", "K:b=b", "K:b[2].c=c", "K:d=d", "K:d.e=e", "K:d.e.f=f", "V:d.e.f=g",
                                      "K:h=h", "ok", "documents 1"}));
  Recorder r2;
  JsonTokenizer t2(&r2);
  const std::vector<std::string> bad = FeedAll(&t2, &r2, invalid[1], invalid[1].size());
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_NE(bad[1].find("at byte 9"), std::string::npos) << bad[1];
}

TEST(JsonTokenizer, LoneSurrogateBecomesReplacementCharacter) {
  bool ok;
  auto s = Tokenize(R"(["\ud800x"])", 1, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(s[0], "V:[0]=\xef\xbf\xbdx");
}

TEST(JsonTokenizer, DeepNestingFailsCleanly) {
  std::string json(100000, '[');
  bool ok;
  std::string error;
  Tokenize(json, 4096, &ok, &error);
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find("nested deeper"), std::string::npos) << error;
}

TEST(JsonTokenizer, TruncatedInputReportsButKeepsPartialString) {
  bool ok;
  std::string error;
  auto s = Tokenize(R"({"ssn":"123-45-67)", 3, &ok, &error);
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find("truncated"), std::string::npos);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1], "V:ssn=123-45-67");
}

TEST(JsonTokenizer, SyntaxErrorsAreReportedWithOffset) {
  for (const char* bad : {"{\"a\" 1}", "[1,,2]", "{\"a\":tru}", "\"\\x\"", "}", "{\"a\":\"\\u12G4\"}"}) {
    bool ok;
    std::string error;
    Tokenize(bad, 1, &ok, &error);
    EXPECT_FALSE(ok) << bad;
    EXPECT_NE(error.find("at byte"), std::string::npos) << bad;
  }
}

TEST(JsonTokenizer, RandomBinaryNeverCrashes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string junk(1 + rng() % 300, '\0');
    for (char& c : junk) c = static_cast<char>(rng() % 256);
    if (round % 2) junk = "{\"k\":\"" + junk;
    bool ok;
    Tokenize(junk, 1 + rng() % 7, &ok);
  }
}

TEST(JsonTokenizer, LongKeysAreTruncatedInPaths) {
  JsonTokenizer::Limits limits;
  limits.max_key_bytes = 4;
  bool ok;
  auto s = Tokenize(R"({"abcdefgh":"v"})", 2, &ok, nullptr, limits);
  ASSERT_TRUE(ok);
  EXPECT_EQ(s[1], "V:abcd...=v");
}

}  // namespace
}  // namespace leakscope
