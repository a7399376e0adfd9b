#include "cni/config/env.h"

#include <gtest/gtest.h>

#include "cni/config/codes.h"
#include "cni/config/names.h"

namespace routelet::cni::config {
namespace {

using Vars = std::map<std::string, std::string>;

Result<Env> parseVars(const Vars& vars) {
  return parseEnv([&](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

Vars addVars() {
  return {{"CNI_COMMAND", "ADD"},
          {"CNI_CONTAINERID", "abc123"},
          {"CNI_NETNS", "/var/run/netns/x"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", "/opt/cni/bin"}};
}

TEST(EnvTest, ParsesAnAddInvocation) {
  auto vars = addVars();
  vars["CNI_ARGS"] =
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
      "K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1";
  auto env = parseVars(vars);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->command, Command::kAdd);
  EXPECT_EQ(env->containerId, "abc123");
  EXPECT_EQ(env->netns, "/var/run/netns/x");
  EXPECT_EQ(env->ifname, "eth0");
  EXPECT_EQ(env->path, "/opt/cni/bin");
  EXPECT_EQ(env->args.at("K8S_POD_NAME"), "web-0");
}

TEST(EnvTest, EveryVerbIsRecognised) {
  for (auto [text, cmd] :
       std::vector<std::pair<std::string, Command>>{{"ADD", Command::kAdd},
                                                    {"DEL", Command::kDel},
                                                    {"CHECK", Command::kCheck},
                                                    {"VERSION", Command::kVersion},
                                                    {"GC", Command::kGc},
                                                    {"STATUS", Command::kStatus}}) {
    auto vars = addVars();
    vars["CNI_COMMAND"] = text;
    auto env = parseVars(vars);
    ASSERT_TRUE(env.ok()) << text << ": " << env.error().message;
    EXPECT_EQ(env->command, cmd);
    EXPECT_EQ(commandName(cmd), text);
  }
}

TEST(EnvTest, MissingCommandAndUnknownVerbAreCode4) {
  auto env = parseVars({});
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code, kCodeInvalidEnv);
  EXPECT_NE(env.error().message.find("CNI_COMMAND"), std::string::npos);
  env = parseVars({{"CNI_COMMAND", "add"}});
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code, kCodeInvalidEnv);
  EXPECT_NE(env.error().message.find("CNI_COMMAND \"add\""), std::string::npos);
}

TEST(EnvTest, MissingVariablesAreEachNamed) {
  auto env = parseVars({{"CNI_COMMAND", "ADD"}});
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code, kCodeInvalidEnv);
  for (const char* name : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"})
    EXPECT_NE(env.error().message.find(name), std::string::npos) << env.error().message;
  // Empty counts as missing for required variables.
  auto vars = addVars();
  vars["CNI_NETNS"] = "";
  env = parseVars(vars);
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.error().message.find("CNI_NETNS"), std::string::npos);
  EXPECT_EQ(env.error().message.find("CNI_IFNAME"), std::string::npos);
  // CHECK needs the same as ADD.
  env = parseVars({{"CNI_COMMAND", "CHECK"}, {"CNI_CONTAINERID", "c"}, {"CNI_IFNAME", "eth0"}});
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.error().message.find("CNI_NETNS"), std::string::npos);
}

TEST(EnvTest, DelNeedsNoNetns) {
  for (bool present : {false, true}) {
    Vars vars = {{"CNI_COMMAND", "DEL"}, {"CNI_CONTAINERID", "c1"}, {"CNI_IFNAME", "eth0"}};
    if (present) vars["CNI_NETNS"] = "";
    auto env = parseVars(vars);
    ASSERT_TRUE(env.ok()) << env.error().message;
    EXPECT_EQ(env->netns, "");
  }
  auto env = parseVars({{"CNI_COMMAND", "DEL"}, {"CNI_IFNAME", "eth0"}});
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.error().message.find("CNI_CONTAINERID"), std::string::npos);
}

TEST(EnvTest, VersionGcAndStatusIgnoreAttachmentVariables) {
  // libcni passes "dummy" for VERSION and "" for GC/STATUS.
  for (const char* verb : {"VERSION", "GC", "STATUS"}) {
    auto env = parseVars({{"CNI_COMMAND", verb},
                          {"CNI_CONTAINERID", verb == std::string("VERSION") ? "dummy" : ""},
                          {"CNI_NETNS", "dummy"},
                          {"CNI_IFNAME", "not valid/name"},
                          {"CNI_ARGS", "garbage"}});
    ASSERT_TRUE(env.ok()) << verb << ": " << env.error().message;
    EXPECT_EQ(env->containerId, "");
  }
}

TEST(EnvTest, BadContainerIdIsCode4NamingIt) {
  for (const char* id : {"-abc", ".abc", "a b", "a/b", "ab;c", "_x"}) {
    auto vars = addVars();
    vars["CNI_CONTAINERID"] = id;
    auto env = parseVars(vars);
    ASSERT_FALSE(env.ok()) << id;
    EXPECT_EQ(env.error().code, kCodeInvalidEnv);
    EXPECT_NE(env.error().message.find(std::string("CNI_CONTAINERID \"") + id), std::string::npos)
        << env.error().message;
  }
  auto vars = addVars();
  vars["CNI_CONTAINERID"] = "Ab9_.-x";
  EXPECT_TRUE(parseVars(vars).ok());
}

TEST(EnvTest, ContainerIdLongerThanTheStoreAcceptsIsCode4NamingIt) {
  auto vars = addVars();
  vars["CNI_CONTAINERID"] = std::string(kMaxContainerIdBytes, 'a');
  EXPECT_TRUE(parseVars(vars).ok());
  vars["CNI_CONTAINERID"] = std::string(kMaxContainerIdBytes + 1, 'a');
  for (const char* verb : {"ADD", "CHECK"}) {
    vars["CNI_COMMAND"] = verb;
    auto env = parseVars(vars);
    ASSERT_FALSE(env.ok()) << verb;
    EXPECT_EQ(env.error().code, kCodeInvalidEnv);
    EXPECT_NE(env.error().message.find("CNI_CONTAINERID \"aaaa"), std::string::npos)
        << env.error().message;
    EXPECT_NE(env.error().message.find("121 bytes"), std::string::npos) << env.error().message;
  }
}

// ADD refuses these attachments with code 4 before making anything, so their DEL has nothing
// to undo and must succeed: a failing DEL is retried by the runtime for ever.
TEST(EnvTest, DelOfAnAttachmentNoAddAcceptsIsMarkedNeverAdded) {
  for (auto [var, value] : std::vector<std::pair<std::string, std::string>>{
           {"CNI_CONTAINERID", std::string(kMaxContainerIdBytes + 1, 'a')},
           {"CNI_CONTAINERID", "a/b"},
           {"CNI_IFNAME", ".eth0"}}) {
    auto vars = addVars();
    vars["CNI_COMMAND"] = "DEL";
    vars[var] = value;
    auto env = parseVars(vars);
    ASSERT_TRUE(env.ok()) << value << ": " << env.error().message;
    ASSERT_TRUE(env->neverAdded.has_value()) << value;
    EXPECT_NE(env->neverAdded->find(var), std::string::npos) << *env->neverAdded;
  }
  auto vars = addVars();
  vars["CNI_COMMAND"] = "DEL";
  auto env = parseVars(vars);
  ASSERT_TRUE(env.ok());
  EXPECT_FALSE(env->neverAdded.has_value());
}

TEST(EnvTest, BadIfnameIsCode4NamingIt) {
  for (const char* name : {"1234567890123456", ".", "..", ".eth0", "a/b", "a:b", "a b", "a\tb"}) {
    auto vars = addVars();
    vars["CNI_IFNAME"] = name;
    auto env = parseVars(vars);
    ASSERT_FALSE(env.ok()) << name;
    EXPECT_EQ(env.error().code, kCodeInvalidEnv);
    EXPECT_NE(env.error().message.find("CNI_IFNAME"), std::string::npos);
  }
  for (const auto& [name, shown] : std::vector<std::pair<std::string, std::string>>{
           {std::string("eth\0x", 5), "CNI_IFNAME \"eth\\x00x\" may not contain a NUL byte"},
           {"eth\x01", "CNI_IFNAME \"eth\\x01\" may not contain control characters"}}) {
    auto vars = addVars();
    vars["CNI_IFNAME"] = name;
    auto env = parseVars(vars);
    ASSERT_FALSE(env.ok()) << shown;
    EXPECT_EQ(env.error().code, kCodeInvalidEnv);
    EXPECT_EQ(env.error().message, shown);
  }
  auto vars = addVars();
  vars["CNI_IFNAME"] = "123456789012345";  // exactly 15 bytes is fine
  EXPECT_TRUE(parseVars(vars).ok());
}

TEST(EnvTest, CniArgsUnknownKeyNeedsIgnoreUnknown) {
  auto vars = addVars();
  vars["CNI_ARGS"] = "K8S_POD_NAME=p;FOO=bar";
  auto env = parseVars(vars);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code, kCodeInvalidEnv);
  EXPECT_NE(env.error().message.find("CNI_ARGS key \"FOO\""), std::string::npos);
  for (const char* ignore : {"IgnoreUnknown=1", "IgnoreUnknown=true", "IgnoreUnknown=True"}) {
    vars["CNI_ARGS"] = std::string(ignore) + ";K8S_POD_NAME=p;FOO=bar";
    env = parseVars(vars);
    ASSERT_TRUE(env.ok()) << ignore;
    EXPECT_EQ(env->args.at("FOO"), "bar");
  }
  vars["CNI_ARGS"] = "IgnoreUnknown=0;FOO=bar";
  EXPECT_FALSE(parseVars(vars).ok());
}

TEST(CniArgsTest, ParsesPairsAndRejectsMalformedOnes) {
  auto a = parseCniArgs("K8S_POD_NAMESPACE=ns;K8S_POD_NAME=a=b;");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->at("K8S_POD_NAMESPACE"), "ns");
  EXPECT_EQ(a->at("K8S_POD_NAME"), "a=b");  // the value may hold '='
  EXPECT_TRUE(parseCniArgs("").ok());
  for (const char* bad : {"K8S_POD_NAME", "=v", "IgnoreUnknown=maybe"}) {
    auto r = parseCniArgs(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, kCodeInvalidEnv);
    EXPECT_NE(r.error().message.find("CNI_ARGS"), std::string::npos);
  }
}

}  // namespace
}  // namespace routelet::cni::config
