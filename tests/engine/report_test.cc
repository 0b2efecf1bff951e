#include "engine/report.h"

#include <gtest/gtest.h>

namespace leakscope {
namespace {

// SHA-256("abc"), FIPS 180-2 appendix B.1.
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(ReportStyle, Sha256IsTheWholeDigestInLowerCaseHex) {
  EXPECT_EQ(Sha256Hex("abc"), kAbc);
  EXPECT_EQ(ApplyReportStyle("abc", ReportStyle::kSha256, 0), kAbc);
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ReportStyle, PartialSha256KeepsExactlyTheLeadingBits) {
  EXPECT_EQ(ApplyReportStyle("abc", ReportStyle::kPartialSha256, 32), "ba7816bf");
  EXPECT_EQ(ApplyReportStyle("abc", ReportStyle::kPartialSha256, 24), "ba7816");
  // 10 bits: "ba" and the leading two bits of '7' (0111 -> 0100).
  EXPECT_EQ(ApplyReportStyle("abc", ReportStyle::kPartialSha256, 10), "ba4");
  // 3 bits of 'b' (1011 -> 1010).
  EXPECT_EQ(ApplyReportStyle("abc", ReportStyle::kPartialSha256, 3), "a");
  EXPECT_EQ(ApplyReportStyle("abc", ReportStyle::kPartialSha256, 0), "");
  EXPECT_EQ(ApplyReportStyle("abc", ReportStyle::kPartialSha256, 256), kAbc);
  EXPECT_EQ(ApplyReportStyle("abc", ReportStyle::kPartialSha256, 1000), kAbc);
}

TEST(ReportStyle, RawAndNone) {
  EXPECT_EQ(ApplyReportStyle("123-45-6789", ReportStyle::kRaw, 0), "123-45-6789");
  EXPECT_EQ(ApplyReportStyle("123-45-6789", ReportStyle::kNone, 0), "");
}

}  // namespace
}  // namespace leakscope
