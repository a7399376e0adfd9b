#include "controller/kube/node_decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <istream>
#include <nlohmann/json.hpp>
#include <streambuf>

namespace routelet::kube {
namespace {

using nlohmann::json;

// A Node as kube-apiserver serves it, including the bulky parts routelet skips.
json realisticNode(const std::string& name, int i) {
  json images = json::array();
  for (int k = 0; k < 50; ++k)
    images.push_back({{"names",
                       {"registry.example/img" + std::to_string(k) + "@sha256:abc",
                        "registry.example/img" + std::to_string(k) + ":v1"}},
                      {"sizeBytes", 123456789}});
  return {
      {"kind", "Node"},
      {"apiVersion", "v1"},
      {"metadata",
       {{"name", name},
        {"uid", "uid-" + name},
        {"resourceVersion", std::to_string(1000 + i)},
        {"labels", {{"kubernetes.io/hostname", name}}},
        {"annotations",
         {{"routelet.io/node-ip-v4", "192.168.1." + std::to_string(i)},
          {"node.alpha.kubernetes.io/ttl", "0"}}},
        {"managedFields",
         {{{"manager", "kubelet"},
           {"fieldsV1", {{"f:status", {{"f:conditions", json::object()}}}}}}}}}},
      {"spec",
       {{"podCIDR", "10.244." + std::to_string(i) + ".0/24"},
        {"podCIDRs",
         {"10.244." + std::to_string(i) + ".0/24", "fd00:10:244:" + std::to_string(i) + "::/64"}},
        {"providerID", "kind://x"}}},
      {"status",
       {{"addresses",
         {{{"type", "Hostname"}, {"address", name}},
          {{"type", "InternalIP"}, {"address", "192.168.1." + std::to_string(i)}},
          {{"type", "InternalIP"}, {"address", "fd00::" + std::to_string(i)}},
          {{"type", "ExternalIP"}, {"address", "203.0.113." + std::to_string(i)}}}},
        {"conditions",
         {{{"type", "Ready"}, {"status", "True"}},
          {{"type", "NetworkUnavailable"}, {"status", "False"}, {"reason", "RouteletReady"}}}},
        {"images", images},
        {"nodeInfo", {{"kubeletVersion", "v1.31.0"}}}}},
  };
}

TEST(DecodeNode, RealisticNode) {
  auto n = decodeNode(realisticNode("node-7", 7).dump());
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->name, "node-7");
  EXPECT_EQ(n->uid, "uid-node-7");
  EXPECT_EQ(n->resourceVersion, "1007");
  EXPECT_FALSE(n->deleting);
  ASSERT_EQ(n->podCIDRs.size(), 2u);
  EXPECT_EQ(n->podCIDRs[0].str(), "10.244.7.0/24");
  EXPECT_EQ(n->podCIDRs[1].str(), "fd00:10:244:7::/64");
  ASSERT_EQ(n->internalIPs.size(), 2u);
  EXPECT_EQ(n->internalIPs[0].str(), "192.168.1.7");
  EXPECT_EQ(n->internalIPs[1].str(), "fd00::7");
  ASSERT_EQ(n->externalIPs.size(), 1u);
  EXPECT_EQ(n->externalIPs[0].str(), "203.0.113.7");
  EXPECT_EQ(n->annotations,
            (std::map<std::string, std::string>{{"routelet.io/node-ip-v4", "192.168.1.7"}}));
  EXPECT_EQ(n->networkUnavailable, "False");
  EXPECT_TRUE(n->problems.empty()) << n->problems[0];
}

TEST(DecodeNode, LegacyPodCIDRAndDeletion) {
  json j = {{"metadata", {{"name", "a"}, {"deletionTimestamp", "2024-01-01T00:00:00Z"}}},
            {"spec", {{"podCIDR", "10.1.0.0/16"}}}};
  auto n = decodeNode(j.dump());
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->deleting);
  ASSERT_EQ(n->podCIDRs.size(), 1u);
  EXPECT_EQ(n->podCIDRs[0].str(), "10.1.0.0/16");
  EXPECT_FALSE(n->networkUnavailable.has_value());

  j["metadata"]["deletionTimestamp"] = nullptr;
  n = decodeNode(j.dump());
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->deleting) << "null is unset";
}

TEST(DecodeNode, PodCIDRsWinOverPodCIDR) {
  json j = {{"metadata", {{"name", "a"}}},
            {"spec", {{"podCIDR", "10.9.0.0/16"}, {"podCIDRs", {"10.1.0.0/16"}}}}};
  auto n = decodeNode(j.dump());
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->podCIDRs.size(), 1u);
  EXPECT_EQ(n->podCIDRs[0].str(), "10.1.0.0/16");
}

TEST(DecodeNode, BadValuesAreLeftOutAndNamed) {
  json j = {{"metadata", {{"name", "bad"}}},
            {"spec", {{"podCIDRs", {"garbage", "10.0.0.1/24", "10.2.0.0/16", "10.3.0.0/16", 7}}}},
            {"status",
             {{"addresses",
               {{{"type", "InternalIP"}, {"address", "300.1.1.1"}},
                {{"type", "InternalIP"}, {"address", "10.0.0.2"}},
                "not-an-object"}}}}};
  auto n = decodeNode(j.dump());
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->podCIDRs.size(), 1u);
  EXPECT_EQ(n->podCIDRs[0].str(), "10.2.0.0/16");
  ASSERT_EQ(n->internalIPs.size(), 1u);
  EXPECT_EQ(n->internalIPs[0].str(), "10.0.0.2");
  std::vector<std::string> expected = {
      "spec.podCIDRs[4]: expected a string, got a number",
      "status.addresses[0].address \"300.1.1.1\": invalid IP address",
      "status.addresses[2]: expected an object, got a string",
      "spec.podCIDRs[0] \"garbage\": invalid CIDR: missing /length",
      "spec.podCIDRs[1] \"10.0.0.1/24\": invalid CIDR: host bits set (network is 10.0.0.0/24)",
      "spec.podCIDRs[3] \"10.3.0.0/16\": a second IPv4 podCIDR; only the first of a family is "
      "used",
  };
  EXPECT_EQ(n->problems, expected);
}

// Problem lines are logged and dumped into status.json (whose dump() throws on invalid
// UTF-8): a cut never splits a character, and control characters arrive escaped.
TEST(DecodeNode, ProblemLinesAndNamesAreSafeText) {
  std::string a63(63, 'a');
  json j = {{"metadata", {{"name", "n\x1b[2J"}}},
            {"spec", {{"podCIDR", a63 + "é"}}},
            {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "\x1b]0;x\x07"}}}}}}};
  auto n = decodeNode(j.dump());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->name, "n\\x1b[2J");
  std::vector<std::string> expected = {
      "status.addresses[0].address \"\\x1b]0;x\\x07\": invalid IP address",
      "spec.podCIDR \"" + a63 + "...\": invalid CIDR: missing /length",
  };
  EXPECT_EQ(n->problems, expected);
}

TEST(DecodeNode, WrongTypesAreProblemsNotErrors) {
  json j = {{"metadata", {{"name", "a"}, {"annotations", "x"}, {"uid", 5}}},
            {"spec", {{"podCIDRs", "10.0.0.0/8"}}},
            {"status", {{"addresses", {{"type", "InternalIP"}}}, {"conditions", 3}}}};
  auto n = decodeNode(j.dump());
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->name, "a");
  EXPECT_TRUE(n->podCIDRs.empty());
  std::vector<std::string> expected = {
      "annotations: expected an object, got a string",
      "uid: expected a string, got a number",
      "podCIDRs: expected an array, got a string",
      "addresses: expected an array, got an object",
      "conditions: expected an array, got a number",
  };
  ASSERT_EQ(n->problems.size(), expected.size()) << ::testing::PrintToString(n->problems);
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NE(n->problems[i].find(expected[i]), std::string::npos) << n->problems[i];
  EXPECT_EQ(n->problems[0], "metadata.annotations: expected an object, got a string");
}

TEST(DecodeNode, HostileAnnotationsAreBounded) {
  json ann = {{"routelet.io/big", std::string(64 * 1024, 'x')},
              {"routelet.io/aok", "fine"},
              {"other.io/big", std::string(64 * 1024, 'y')},
              {"routelet.io/bobj", {{"a", 1}}}};
  for (int i = 0; i < 60; ++i) ann["routelet.io/k" + std::to_string(100 + i)] = "v";
  json j = {{"metadata", {{"name", "a"}, {"annotations", ann}}}};
  auto n = decodeNode(j.dump());
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->annotations.contains("routelet.io/big"));
  EXPECT_FALSE(n->annotations.contains("other.io/big"));
  EXPECT_EQ(n->annotations.at("routelet.io/aok"), "fine");
  EXPECT_EQ(n->annotations.size(), 32u);
  size_t total = 0;
  for (const auto& [k, v] : n->annotations) total += k.size() + v.size();
  EXPECT_LT(total, 4096u);
  // nlohmann orders keys: "routelet.io/big" sorts first.
  EXPECT_EQ(n->problems[0],
            "metadata.annotations[\"routelet.io/big\"]: value of 65536 bytes is over the "
            "1024-byte limit, ignored");
  EXPECT_NE(
      std::find(n->problems.begin(), n->problems.end(),
                "metadata.annotations[\"routelet.io/bobj\"]: expected a string, got an object"),
      n->problems.end());
  // 2 bad values + 29 over the count limit: 16 kept, the rest summarised.
  ASSERT_EQ(n->problems.size(), 17u);
  EXPECT_EQ(n->problems.back(), "... and 15 more problems");
}

TEST(DecodeNode, ProblemsAreBounded) {
  json addrs = json::array();
  for (int i = 0; i < 1000; ++i) addrs.push_back({{"type", "InternalIP"}, {"address", "bad"}});
  json j = {{"metadata", {{"name", "a"}}}, {"status", {{"addresses", addrs}}}};
  auto n = decodeNode(j.dump());
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->problems.size(), 17u);
  EXPECT_EQ(n->problems.back(), "... and 984 more problems");
}

TEST(DecodeNode, MissingNameDecodesEmpty) {
  auto n = decodeNode(R"({"metadata":{"uid":"u"}})");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->name.empty());
}

TEST(DecodeNode, InvalidJsonIsAnError) {
  for (const char* bad : {"", "[]", "\"x\"", "{\"metadata\":", "{} trailing", "{\"a\":tru}"}) {
    auto n = decodeNode(bad);
    EXPECT_FALSE(n.ok()) << bad;
    if (!n.ok()) {
      EXPECT_EQ(n.error().message.rfind("decode Node: ", 0), 0u) << n.error().message;
    }
  }
  EXPECT_NE(decodeNode("[]").error().message.find("expected a JSON object, got an array"),
            std::string::npos);
}

TEST(DecodeNode, DeepNestingInSkippedFieldsIsFine) {
  std::string deep = std::string(2000, '[') + std::string(2000, ']');
  auto n = decodeNode(R"({"metadata":{"name":"a"},"x":)" + deep + "}");
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->name, "a");
}

TEST(DecodeNodeList, PageOfNodesOneAtATime) {
  json items = json::array();
  for (int i = 1; i <= 500; ++i) items.push_back(realisticNode("n" + std::to_string(i), i % 250));
  json list = {{"kind", "NodeList"},
               {"apiVersion", "v1"},
               {"metadata", {{"resourceVersion", "4242"}, {"continue", "tok=="}}},
               {"items", items}};
  std::string text = list.dump();
  EXPECT_GT(text.size(), 2'000'000u) << "a realistic page is megabytes";
  std::vector<std::string> names;
  auto meta = decodeNodeList(text, [&](model::Node&& n) {
    EXPECT_EQ(n.podCIDRs.size(), 2u);
    EXPECT_TRUE(n.problems.empty());
    names.push_back(n.name);
  });
  ASSERT_TRUE(meta.ok()) << meta.error().message;
  EXPECT_EQ(meta->resourceVersion, "4242");
  EXPECT_EQ(meta->continueToken, "tok==");
  ASSERT_EQ(names.size(), 500u);
  EXPECT_EQ(names.front(), "n1");
  EXPECT_EQ(names.back(), "n500");
}

TEST(DecodeNodeList, MetadataAfterItemsAndNoContinue) {
  std::string text = R"({"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}],)"
                     R"("metadata":{"resourceVersion":"7"}})";
  std::vector<std::string> names;
  auto meta = decodeNodeList(text, [&](model::Node&& n) { names.push_back(n.name); });
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->resourceVersion, "7");
  EXPECT_EQ(meta->continueToken, "");
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
}

TEST(DecodeNodeList, ProblemsStayWithTheirNode) {
  std::string text = R"({"items":[{"metadata":{"name":"a"},"spec":{"podCIDR":"x"}},)"
                     R"({"metadata":{"name":"b"},"spec":{"podCIDR":"10.0.0.0/8"}}]})";
  std::vector<model::Node> nodes;
  auto meta = decodeNodeList(text, [&](model::Node&& n) { nodes.push_back(std::move(n)); });
  ASSERT_TRUE(meta.ok());
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].problems.size(), 1u);
  EXPECT_TRUE(nodes[1].problems.empty());
  EXPECT_EQ(nodes[1].podCIDRs.size(), 1u);
}

// The API client's path: a page read from a stream as it arrives, in small pieces.
class TrickleBuf : public std::streambuf {
 public:
  explicit TrickleBuf(std::string text) : text_(std::move(text)) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (pos_ == text_.size()) return traits_type::eof();
    size_t n = std::min<size_t>(7, text_.size() - pos_);  // pieces split tokens
    char* begin = text_.data() + pos_;
    pos_ += n;
    setg(begin, begin, begin + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::string text_;
  size_t pos_ = 0;
};

TEST(DecodeNodeList, FromAStreamDecodesLikeFromAString) {
  json items = json::array();
  for (int i = 1; i <= 20; ++i) items.push_back(realisticNode("n" + std::to_string(i), i));
  std::string text =
      json{{"metadata", {{"resourceVersion", "9"}, {"continue", "c"}}}, {"items", items}}.dump();
  std::vector<model::Node> fromString, fromStream;
  auto a = decodeNodeList(text, [&](model::Node&& n) { fromString.push_back(std::move(n)); });
  TrickleBuf buf(text);
  std::istream in(&buf);
  auto b = decodeNodeList(in, [&](model::Node&& n) { fromStream.push_back(std::move(n)); });
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->resourceVersion, "9");
  EXPECT_EQ(b->continueToken, "c");
  ASSERT_EQ(fromStream.size(), 20u);
  for (size_t i = 0; i < fromStream.size(); ++i) {
    EXPECT_EQ(fromStream[i].name, fromString[i].name);
    EXPECT_EQ(fromStream[i].podCIDRs, fromString[i].podCIDRs);
    EXPECT_EQ(fromStream[i].internalIPs, fromString[i].internalIPs);
    EXPECT_EQ(fromStream[i].annotations, fromString[i].annotations);
  }
  // A body cut short (the connection dropped) is an error, not a shorter list.
  TrickleBuf cut(text.substr(0, text.size() / 2));
  std::istream cutIn(&cut);
  auto c = decodeNodeList(cutIn, [](model::Node&&) {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("decode NodeList"), std::string::npos) << c.error().message;
}

TEST(DecodeNodeList, ItemsPastTheBudgetStopTheDecoding) {
  json items = json::array();
  for (int i = 1; i <= 5; ++i) items.push_back(realisticNode("n" + std::to_string(i), i));
  std::string text = json{{"metadata", {{"resourceVersion", "9"}}}, {"items", items}}.dump();
  DecodeLimits limits;
  limits.maxItems = 3;
  std::vector<std::string> names;
  auto meta = decodeNodeList(
      text, [&](model::Node&& n) { names.push_back(n.name); }, limits);
  ASSERT_FALSE(meta.ok());
  EXPECT_EQ(meta.error().code, E2BIG);
  EXPECT_EQ(meta.error().message, "decode NodeList: items[3]: more than 3 items");
  EXPECT_EQ(names, (std::vector<std::string>{"n1", "n2", "n3"}));
  limits.maxItems = 5;
  EXPECT_TRUE(decodeNodeList(
                  text, [](model::Node&&) {}, limits)
                  .ok())
      << "exactly the budget";
}

// The parser holds each JSON value whole: in a streamed page one huge string would take as
// much memory as the page is long.
TEST(DecodeNodeList, AValueLongerThanTheBoundStopsAStream) {
  DecodeLimits limits;
  limits.maxValueBytes = 1000;
  auto decode = [&](const std::string& text) {
    TrickleBuf buf(text);
    std::istream in(&buf);
    return decodeNodeList(
        in, [](model::Node&&) {}, limits);
  };
  std::string fits = std::string(1000, 'a');
  auto ok = decode(R"({"items":[{"metadata":{"name":"a","labels":{"x":")" + fits +
                   R"("}}}],"metadata":{"resourceVersion":"1"}})");
  EXPECT_TRUE(ok.ok()) << ok.error().message;
  for (const std::string& text :
       {R"({"items":[{"metadata":{"name":"a","labels":{"x":")" + fits + R"(b"}}}]})",
        R"({"items":[{"metadata":{"name":"a","labels":{"x":")" + fits + R"(\\"}}}]})",
        R"({"items":[)" + std::string(1001, '1') + "]}", R"({"items":[{")" + fits + R"(k":1}]})"}) {
    auto meta = decode(text);
    ASSERT_FALSE(meta.ok()) << text.substr(0, 40);
    EXPECT_EQ(meta.error().code, E2BIG);
    EXPECT_EQ(meta.error().message,
              "decode NodeList: a JSON value longer than 1000 bytes (maxValueBytes)");
  }
  // Escapes and structure inside a string are the string's bytes, not ends of a value.
  std::string tricky = std::string(600, 'a') + R"(\",:{}[] )" + std::string(300, 'a');
  auto escaped = decode(R"({"items":[{"metadata":{"name":")" + tricky +
                        R"("}}],"metadata":{"resourceVersion":"1"}})");
  EXPECT_TRUE(escaped.ok()) << escaped.error().message;
}

TEST(DecodeNodeList, AnnotationsKeptOnlyForTheNamedNode) {
  json items = json::array({realisticNode("self", 1), realisticNode("peer", 2)});
  std::string text = json{{"items", items}}.dump();
  DecodeLimits limits;
  limits.annotationsOnlyFor = "self";
  std::vector<model::Node> nodes;
  auto meta = decodeNodeList(
      text, [&](model::Node&& n) { nodes.push_back(std::move(n)); }, limits);
  ASSERT_TRUE(meta.ok());
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].annotations.size(), 1u);
  EXPECT_EQ(nodes[0].networkUnavailable, "False");
  EXPECT_TRUE(nodes[1].annotations.empty());
  EXPECT_FALSE(nodes[1].networkUnavailable.has_value());
  EXPECT_EQ(nodes[1].podCIDRs.size(), 2u);  // routing fields stay
}

TEST(DecodeWatchEvent, Types) {
  json node = realisticNode("w", 3);
  for (const char* t : {"ADDED", "MODIFIED", "DELETED"}) {
    auto ev = decodeWatchEvent(json({{"type", t}, {"object", node}}).dump());
    ASSERT_TRUE(ev.ok()) << ev.error().message;
    EXPECT_STREQ(watchEventTypeName(ev->type), t);
    EXPECT_EQ(ev->node.name, "w");
    EXPECT_EQ(ev->node.podCIDRs.size(), 2u);
  }
  // "object" before "type" is valid JSON too.
  auto ev = decodeWatchEvent(
      R"({"object":{"kind":"Node","metadata":{"resourceVersion":"999"}},"type":"BOOKMARK"})");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->type, WatchEventType::kBookmark);
  EXPECT_EQ(ev->node.resourceVersion, "999");
}

TEST(DecodeWatchEvent, ErrorCarriesStatusCode) {
  auto ev = decodeWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)"
      R"j("status":"Failure","message":"too old resource version: 5 (900)","reason":"Expired",)j"
      R"("code":410}})");
  ASSERT_TRUE(ev.ok()) << ev.error().message;
  EXPECT_EQ(ev->type, WatchEventType::kError);
  EXPECT_EQ(ev->errorCode, 410);
  EXPECT_EQ(ev->errorMessage, "too old resource version: 5 (900)");
  EXPECT_TRUE(ev->node.problems.empty());
}

TEST(DecodeWatchEvent, BadEvents) {
  EXPECT_FALSE(decodeWatchEvent(R"({"type":"EXPLODED","object":{}})").ok());
  EXPECT_FALSE(decodeWatchEvent(R"({"object":{}})").ok());
  EXPECT_FALSE(decodeWatchEvent(R"({"type":"ADDED","object":{)").ok());
  EXPECT_EQ(decodeWatchEvent(R"({"type":"NOPE"})").error().message,
            "decode watch event: type \"NOPE\" unknown");
}

}  // namespace
}  // namespace routelet::kube
