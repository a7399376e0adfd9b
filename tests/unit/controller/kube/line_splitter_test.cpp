#include "controller/kube/line_splitter.h"

#include <gtest/gtest.h>

#include <vector>

namespace routelet::kube {
namespace {

struct Collect {
  std::vector<std::string> lines;
  std::function<Status(std::string_view)> fn() {
    return [this](std::string_view l) {
      lines.emplace_back(l);
      return okStatus();
    };
  }
};

TEST(LineSplitter, ChunkBoundariesAreNotLineBoundaries) {
  LineSplitter s(100);
  Collect c;
  ASSERT_TRUE(s.feed("{\"a\":1}\n{\"b\"", c.fn()).ok());
  EXPECT_EQ(c.lines, std::vector<std::string>{"{\"a\":1}"});
  EXPECT_EQ(s.pending(), 4u);
  ASSERT_TRUE(s.feed(":2", c.fn()).ok());
  ASSERT_TRUE(s.feed("}\n\n{\"c\":3}\r\n{", c.fn()).ok());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  EXPECT_EQ(s.pending(), 1u);
}

TEST(LineSplitter, EveryByteSeparately) {
  std::string stream = "line one\nline two\nthree\n";
  LineSplitter s(100);
  Collect c;
  for (char ch : stream) ASSERT_TRUE(s.feed(std::string_view(&ch, 1), c.fn()).ok());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"line one", "line two", "three"}));
  EXPECT_EQ(s.pending(), 0u);
}

TEST(LineSplitter, LineOverLimitIsAnError) {
  LineSplitter s(8);
  Collect c;
  ASSERT_TRUE(s.feed("12345678\n", c.fn()).ok());  // exactly the limit is fine
  ASSERT_TRUE(s.feed("12345", c.fn()).ok());
  Status st = s.feed("6789", c.fn());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "watch stream line longer than 8 bytes");
  EXPECT_LE(s.pending(), 8u) << "memory stays bounded";
  // Also in a single chunk without newline.
  LineSplitter t(8);
  EXPECT_FALSE(t.feed(std::string(1000, 'x'), c.fn()).ok());
  EXPECT_EQ(t.pending(), 0u);
}

TEST(LineSplitter, CallbackErrorStopsAndPropagates) {
  LineSplitter s(100);
  int calls = 0;
  Status st = s.feed("a\nb\nc\n", [&](std::string_view l) -> Status {
    ++calls;
    if (l == "b") return makeError("bad b");
    return okStatus();
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "bad b");
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace routelet::kube
