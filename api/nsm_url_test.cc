#include "api/nsm_url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nsm::api {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

using Scheme = NsmUrl::Scheme;

MATCHER_P(IsInvalid, message, "") {
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         ::testing::ExplainMatchResult(::testing::Eq(message), std::string(arg.message()),
                                       result_listener);
}

TEST(NsmUrlTest, Unix) {
  absl::StatusOr<NsmUrl> url = ParseNsmUrl("unix:///var/lib/nsm/nsm.io.sock");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, Scheme::kUnix);
  EXPECT_EQ(url->path, "/var/lib/nsm/nsm.io.sock");
  EXPECT_EQ(url->ToString(), "unix:///var/lib/nsm/nsm.io.sock");
  EXPECT_EQ(*url->GrpcDialTarget(), "unix:/var/lib/nsm/nsm.io.sock");
  EXPECT_EQ(*url->GrpcListenAddress(), "unix:/var/lib/nsm/nsm.io.sock");
  EXPECT_EQ(ParseNsmUrl("UNIX:///x.sock")->path, "/x.sock");  // scheme is case-insensitive
  EXPECT_EQ(ParseNsmUrl("unix:///proc/12/fd/7")->path, "/proc/12/fd/7");
}

TEST(NsmUrlTest, Tcp) {
  struct Case {
    const char* url;
    const char* host;
    uint16_t port;
    const char* canonical;
    const char* dial;
    const char* listen;
  };
  const Case cases[] = {
      {"tcp://127.0.0.1:5001", "127.0.0.1", 5001, "tcp://127.0.0.1:5001", "127.0.0.1:5001",
       "127.0.0.1:5001"},
      {"tcp://[::1]:5001", "::1", 5001, "tcp://[::1]:5001", "[::1]:5001", "[::1]:5001"},
      {"tcp://[fe80::1%eth0]:80", "fe80::1%eth0", 80, "tcp://[fe80::1%eth0]:80",
       "[fe80::1%eth0]:80", "[fe80::1%eth0]:80"},
      {"tcp://nsmgr.nsm-system:5001", "nsmgr.nsm-system", 5001, "tcp://nsmgr.nsm-system:5001",
       "nsmgr.nsm-system:5001", "nsmgr.nsm-system:5001"},
      {"tcp://my_host:65535", "my_host", 65535, "tcp://my_host:65535", "my_host:65535",
       "my_host:65535"},
      {"TCP://h:0/", "h", 0, "tcp://h:0", "h:0", "h:0"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<NsmUrl> url = ParseNsmUrl(c.url);
    ASSERT_TRUE(url.ok()) << c.url << ": " << url.status();
    EXPECT_EQ(url->scheme, Scheme::kTcp);
    EXPECT_EQ(url->host, c.host);
    EXPECT_EQ(url->port, c.port);
    EXPECT_EQ(url->ToString(), c.canonical);
    EXPECT_EQ(*url->GrpcDialTarget(), c.dial);
    EXPECT_EQ(*url->GrpcListenAddress(), c.listen);
    EXPECT_EQ(*ParseNsmUrl(url->ToString()), *url);
  }
}

TEST(NsmUrlTest, TcpListenWithoutHost) {
  absl::StatusOr<NsmUrl> url = ParseNsmUrl("tcp://:5001");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "");
  EXPECT_EQ(url->port, 5001);
  EXPECT_EQ(url->ToString(), "tcp://:5001");
  EXPECT_EQ(*url->GrpcListenAddress(), "[::]:5001");
  EXPECT_THAT(url->GrpcDialTarget().status(), IsInvalid("URL \"tcp://:5001\" has no host to dial"));
}

TEST(NsmUrlTest, Inode) {
  absl::StatusOr<NsmUrl> url = ParseNsmUrl("inode://2049/18446744073709551615");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->scheme, Scheme::kInode);
  EXPECT_EQ(url->dev, 2049u);
  EXPECT_EQ(url->ino, 18446744073709551615u);
  EXPECT_EQ(url->ToString(), "inode://2049/18446744073709551615");
  EXPECT_THAT(url->GrpcDialTarget().status(),
              IsInvalid("URL \"inode://2049/18446744073709551615\" is an inode URL: resolve it "
                        "to a file descriptor path first"));
  EXPECT_THAT(url->GrpcListenAddress().status(),
              IsInvalid(url->GrpcDialTarget().status().message()));
}

TEST(NsmUrlTest, BadUrls) {
  struct Case {
    const char* url;
    const char* error;
  };
  const Case cases[] = {
      {"", "invalid URL \"\": empty"},
      {"/var/lib/nsm.sock",
       "invalid URL \"/var/lib/nsm.sock\": no scheme (want unix://, tcp:// or "
       "inode://)"},
      {"unix:/x.sock",
       "invalid URL \"unix:/x.sock\": no scheme (want unix://, tcp:// or inode://)"},
      {"http://h:80",
       "invalid URL \"http://h:80\": unknown scheme \"http\" (want unix, tcp or "
       "inode)"},
      {"://h:80", "invalid URL \"://h:80\": unknown scheme \"\" (want unix, tcp or inode)"},
      {"unix://relative/x.sock",
       "invalid URL \"unix://relative/x.sock\": unix socket path is not "
       "absolute (want unix:///absolute/path)"},
      {"unix://",
       "invalid URL \"unix://\": unix socket path is not absolute (want "
       "unix:///absolute/path)"},
      {"tcp://host", "invalid URL \"tcp://host\": missing port (want tcp://host:port)"},
      {"tcp://host:", "invalid URL \"tcp://host:\": missing port (want tcp://host:port)"},
      {"tcp://", "invalid URL \"tcp://\": missing port (want tcp://host:port)"},
      {"tcp://[::1]", "invalid URL \"tcp://[::1]\": missing port (want tcp://host:port)"},
      {"tcp://host:http",
       "invalid URL \"tcp://host:http\": port \"http\" is not a number in "
       "0..65535"},
      {"tcp://host:65536",
       "invalid URL \"tcp://host:65536\": port \"65536\" is not a number in "
       "0..65535"},
      {"tcp://host:-1", "invalid URL \"tcp://host:-1\": port \"-1\" is not a number in 0..65535"},
      {"tcp://host:+80",
       "invalid URL \"tcp://host:+80\": port \"+80\" is not a number in "
       "0..65535"},
      {"tcp://::1:5001", "invalid URL \"tcp://::1:5001\": IPv6 host \"::1\" must be in brackets"},
      {"tcp://[::1:5001", "invalid URL \"tcp://[::1:5001\": missing ']' after the IPv6 host"},
      {"tcp://[1.2.3.4]:80",
       "invalid URL \"tcp://[1.2.3.4]:80\": \"1.2.3.4\" is not an IPv6 "
       "address"},
      {"tcp://[zz]:80", "invalid URL \"tcp://[zz]:80\": \"zz\" is not an IPv6 address"},
      {"tcp://[::1]x:80", "invalid URL \"tcp://[::1]x:80\": missing port (want tcp://host:port)"},
      {"tcp://300.1.1.1:80",
       "invalid URL \"tcp://300.1.1.1:80\": \"300.1.1.1\" is not an IPv4 "
       "address"},
      {"tcp://a b:80", "invalid URL \"tcp://a b:80\": \"a b\" is not a valid host name"},
      {"tcp://user@h:80", "invalid URL \"tcp://user@h:80\": \"user@h\" is not a valid host name"},
      {"tcp://h:80/path",
       "invalid URL \"tcp://h:80/path\": a tcp URL has no path (want "
       "tcp://host:port)"},
      {"inode://", "invalid URL \"inode://\": want inode://<dev>/<ino>"},
      {"inode://12", "invalid URL \"inode://12\": want inode://<dev>/<ino>"},
      {"inode://1/2/3", "invalid URL \"inode://1/2/3\": want inode://<dev>/<ino>"},
      {"inode://x/2", "invalid URL \"inode://x/2\": device \"x\" is not a decimal number"},
      {"inode:///2", "invalid URL \"inode:///2\": device \"\" is not a decimal number"},
      {"inode://1/0x2", "invalid URL \"inode://1/0x2\": inode \"0x2\" is not a decimal number"},
      {"inode://1/-2", "invalid URL \"inode://1/-2\": inode \"-2\" is not a decimal number"},
      {"inode://1/18446744073709551616",
       "invalid URL \"inode://1/18446744073709551616\": inode \"18446744073709551616\" is not a "
       "decimal number"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseNsmUrl(c.url).status(), IsInvalid(c.error)) << c.url;
  }
}

TEST(NsmUrlTest, FromGrpcTarget) {
  EXPECT_EQ(NsmUrlFromGrpcTarget("unix:/a/b.sock")->ToString(), "unix:///a/b.sock");
  EXPECT_EQ(NsmUrlFromGrpcTarget("unix:///a/b.sock")->ToString(), "unix:///a/b.sock");
  EXPECT_EQ(NsmUrlFromGrpcTarget("10.0.0.1:5001")->ToString(), "tcp://10.0.0.1:5001");
  EXPECT_EQ(NsmUrlFromGrpcTarget("[fd00::1]:5001")->ToString(), "tcp://[fd00::1]:5001");
  EXPECT_EQ(NsmUrlFromGrpcTarget("dns:///nsmgr:5001")->ToString(), "tcp://nsmgr:5001");
  for (const char* url : {"unix:///run/x.sock", "tcp://1.2.3.4:1", "tcp://[::]:2", "tcp://h:3"}) {
    absl::StatusOr<NsmUrl> parsed = ParseNsmUrl(url);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*NsmUrlFromGrpcTarget(*parsed->GrpcDialTarget()), *parsed) << url;
  }
  EXPECT_THAT(NsmUrlFromGrpcTarget("").status(), IsInvalid("invalid gRPC target \"\": empty"));
  EXPECT_THAT(NsmUrlFromGrpcTarget("unix:rel.sock").status(),
              IsInvalid("invalid URL \"unix://rel.sock\": unix socket path is not absolute (want "
                        "unix:///absolute/path)"));
  EXPECT_THAT(NsmUrlFromGrpcTarget("host").status(),
              IsInvalid("invalid URL \"host\": missing port (want tcp://host:port)"));
}

TEST(NscRequestUrlTest, Full) {
  absl::StatusOr<NscRequestUrl> url =
      ParseNscRequestUrl("kernel://my-ns/nsm-1?app=web&color=blue+green&enc=a%2Fb%3D&app=second");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->mechanism_type, "KERNEL");
  EXPECT_EQ(url->network_service, "my-ns");
  EXPECT_EQ(url->interface_name, "nsm-1");
  EXPECT_THAT(url->labels,
              ElementsAre(Pair("app", "web"), Pair("color", "blue green"), Pair("enc", "a/b=")));
  connection::Mechanism m = url->ToMechanism();
  EXPECT_EQ(m.cls(), "LOCAL");
  EXPECT_EQ(m.type(), "KERNEL");
  EXPECT_THAT(m.parameters(), UnorderedElementsAre(Pair("name", "nsm-1")));
}

TEST(NscRequestUrlTest, ShortForms) {
  absl::StatusOr<NscRequestUrl> url = ParseNscRequestUrl("memif://svc");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->mechanism_type, "MEMIF");
  EXPECT_EQ(url->network_service, "svc");
  EXPECT_EQ(url->interface_name, "");
  EXPECT_TRUE(url->labels.empty());
  EXPECT_TRUE(url->ToMechanism().parameters().empty());

  url = ParseNscRequestUrl("kernel://svc@my.domain/eth7");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->network_service, "svc@my.domain");
  EXPECT_EQ(url->interface_name, "eth7");

  url = ParseNscRequestUrl("Kernel://svc/?flag&k=");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->mechanism_type, "KERNEL");
  EXPECT_EQ(url->interface_name, "");
  EXPECT_THAT(url->labels, ElementsAre(Pair("flag", ""), Pair("k", "")));

  url = ParseNscRequestUrl("vfio://svc/123456789012345");  // exactly 15 characters
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->mechanism_type, "VFIO");
}

TEST(NscRequestUrlTest, BadUrls) {
  struct Case {
    const char* url;
    const char* error;
  };
  const Case cases[] = {
      {"", "invalid URL \"\": want <mechanism>://<network-service>[/<interface>][?labels]"},
      {"my-ns",
       "invalid URL \"my-ns\": want <mechanism>://<network-service>[/<interface>][?labels]"},
      {"://svc", "invalid URL \"://svc\": \"\" is not a mechanism name"},
      {"1kernel://svc", "invalid URL \"1kernel://svc\": \"1kernel\" is not a mechanism name"},
      {"ker nel://svc", "invalid URL \"ker nel://svc\": \"ker nel\" is not a mechanism name"},
      {"kernel://", "invalid URL \"kernel://\": empty network service name"},
      {"kernel:///nsm-1", "invalid URL \"kernel:///nsm-1\": empty network service name"},
      {"kernel://?a=b", "invalid URL \"kernel://?a=b\": empty network service name"},
      {"kernel://@dom/x", "invalid URL \"kernel://@dom/x\": empty network service name before '@'"},
      {"kernel://svc@/x", "invalid URL \"kernel://svc@/x\": empty domain after '@'"},
      {"kernel://svc/a/b", "invalid URL \"kernel://svc/a/b\": interface name \"a/b\" contains '/'"},
      {"kernel://svc/1234567890123456",
       "invalid URL \"kernel://svc/1234567890123456\": interface name \"1234567890123456\" is "
       "longer than 15 characters"},
      {"kernel://svc#frag", "invalid URL \"kernel://svc#frag\": unexpected '#' fragment"},
      {"kernel://svc?=v", "invalid URL \"kernel://svc?=v\": label \"=v\" has an empty name"},
      {"kernel://svc?a=%zz",
       "invalid URL \"kernel://svc?a=%zz\": bad percent escape \"%zz\" in "
       "the query"},
      {"kernel://svc?a=%4",
       "invalid URL \"kernel://svc?a=%4\": bad percent escape \"%4\" in the "
       "query"},
      {"kernel://svc?%=1",
       "invalid URL \"kernel://svc?%=1\": bad percent escape \"%\" in the "
       "query"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseNscRequestUrl(c.url).status(), IsInvalid(c.error)) << c.url;
  }
}

}  // namespace
}  // namespace nsm::api
