// nsmctl output from fixed data: table alignment, durations, hop columns, JSON field names (no
// tokens), describe text and watch lines (issue #8).
#include "tools/nsmctl/format.h"

#include "api/path.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::nsmctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

google::protobuf::Timestamp At(absl::Time t) { return api::ToProtoTimestamp(t); }

NSE Endpoint() {
  NSE nse;
  nse.set_name("icmp-server");
  nse.add_network_service_names("icmp-responder");
  nse.add_network_service_names("vpn");
  (*(*nse.mutable_network_service_labels())["icmp-responder"].mutable_labels())["app"] = "icmp";
  (*(*nse.mutable_network_service_labels())["icmp-responder"].mutable_labels())["nodeName"] = "n1";
  nse.set_url("unix:///run/nse.sock");
  *nse.mutable_expiration_time() = At(kNow + absl::Seconds(45));
  *nse.mutable_initial_registration_time() = At(kNow - absl::Minutes(3));
  return nse;
}

NSE ForwarderReg(const std::string& name) {
  NSE nse;
  nse.set_name(name);
  nse.add_network_service_names("forwarder");
  (*(*nse.mutable_network_service_labels())["forwarder"].mutable_labels())["p2p"] = "true";
  nse.set_url("unix:///run/" + name + ".sock");
  *nse.mutable_expiration_time() = At(kNow + absl::Seconds(50));
  *nse.mutable_initial_registration_time() = At(kNow - absl::Seconds(10));
  return nse;
}

// The nsmgr's view of a local connection: [nsc, nsmgr, forwarder, nse], index 1.
Connection LocalConnection() {
  Connection c;
  c.set_id("id-nsmgr");
  c.set_network_service("icmp-responder");
  c.set_network_service_endpoint_name("icmp-server");
  c.mutable_mechanism()->set_cls("LOCAL");
  c.mutable_mechanism()->set_type("KERNEL");
  (*c.mutable_mechanism()->mutable_parameters())["name"] = "nsm-1";
  c.mutable_context()->mutable_ip_context()->add_src_ip_addrs("172.16.0.1/32");
  c.mutable_context()->mutable_ip_context()->add_dst_ip_addrs("172.16.0.0/32");
  (*c.mutable_labels())["nodeName"] = "demo-node";
  c.mutable_path()->set_index(1);
  const char* names[] = {"demo-nsc", "nsmgr-demo", "forwarder-1", "icmp-server"};
  for (int i = 0; i < 4; ++i) {
    auto* s = c.mutable_path()->add_path_segments();
    s->set_name(names[i]);
    s->set_id(i == 1 ? "id-nsmgr" : "id-" + std::to_string(i));
    s->set_token("SECRET-TOKEN-" + std::to_string(i));
    *s->mutable_expires() = At(kNow + absl::Minutes(10 - i));
  }
  return c;
}

TEST(NsmctlTableTest, AlignsColumnsWithThreeSpacesAndNoneForEmptyCells) {
  Table t({"NAME", "URL"});
  t.Add({"a", "unix:///x"});
  t.Add({"longer-name", ""});
  EXPECT_EQ(t.Render(),
            "NAME          URL\n"
            "a             unix:///x\n"
            "longer-name   <none>\n");
}

TEST(NsmctlDurationTest, LikeKubectl) {
  EXPECT_EQ(HumanDuration(absl::Seconds(0)), "0s");
  EXPECT_EQ(HumanDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(absl::Seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(absl::Seconds(150)), "2m30s");
  EXPECT_EQ(HumanDuration(absl::Minutes(5)), "5m");
  EXPECT_EQ(HumanDuration(absl::Minutes(45)), "45m");
  EXPECT_EQ(HumanDuration(absl::Minutes(185)), "3h5m");
  EXPECT_EQ(HumanDuration(absl::Hours(20)), "20h");
  EXPECT_EQ(HumanDuration(absl::Hours(76)), "3d4h");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 12)), "12d");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 800)), "2y");
  EXPECT_EQ(HumanDuration(absl::Seconds(-5)), "0s");
  EXPECT_EQ(Age(absl::InfinitePast(), kNow), "<unknown>");
  EXPECT_EQ(Remaining(absl::InfinitePast(), kNow), "<none>");
  EXPECT_EQ(Remaining(kNow - absl::Seconds(1), kNow), "expired");
  EXPECT_EQ(Remaining(kNow + absl::Seconds(30), kNow), "30s");
}

TEST(NsmctlNSETableTest, ColumnsAndWideLabels) {
  EXPECT_EQ(NSETable({Endpoint()}, Output::kTable, kNow),
            "NAME          SERVICES             URL                    AGE   EXPIRES\n"
            "icmp-server   icmp-responder,vpn   unix:///run/nse.sock   3m    45s\n");
  EXPECT_THAT(NSETable({Endpoint()}, Output::kWide, kNow), HasSubstr("LABELS\n"));
  EXPECT_THAT(NSETable({Endpoint()}, Output::kWide, kNow),
              HasSubstr("icmp-responder:app=icmp,nodeName=n1\n"));
}

TEST(NsmctlForwarderTableTest, ShowsTheForwarderServiceLabels) {
  EXPECT_EQ(ForwarderTable({ForwarderReg("forwarder-1"), ForwarderReg("forwarder-2")}, "forwarder",
                           Output::kTable, kNow),
            "NAME          URL                            LABELS     AGE   EXPIRES\n"
            "forwarder-1   unix:///run/forwarder-1.sock   p2p=true   10s   50s\n"
            "forwarder-2   unix:///run/forwarder-2.sock   p2p=true   10s   50s\n");
}

TEST(NsmctlNSTableTest, NameFirstAndMatchCount) {
  NS ns;
  ns.set_name("icmp-responder");
  ns.set_payload("ETHERNET");
  (*ns.add_matches()->mutable_metadata()->mutable_labels())["p2mp"] = "true";
  EXPECT_EQ(NSTable({ns}, Output::kTable),
            "NAME             PAYLOAD    MATCHES\n"
            "icmp-responder   ETHERNET   1\n");
  EXPECT_THAT(NSTable({ns}, Output::kWide), HasSubstr("FORWARDER-LABELS"));
  EXPECT_THAT(NSTable({ns}, Output::kWide), HasSubstr("p2mp=true"));
}

TEST(NsmctlHopsTest, LocalAndRemotePathsAtTheReportingNsmgr) {
  Hops local = HopsOf(LocalConnection());
  EXPECT_EQ(local.nsc, "demo-nsc");
  EXPECT_EQ(local.nsmgr, "nsmgr-demo");
  EXPECT_EQ(local.forwarder, "forwarder-1");
  EXPECT_EQ(local.nse, "icmp-server");

  Connection remote;
  for (const char* n : {"nsc", "nsmgr-a", "fwd-a", "nsmgr-b", "fwd-b", "nse"}) {
    remote.mutable_path()->add_path_segments()->set_name(n);
  }
  remote.mutable_path()->set_index(3);  // as nsmgr-b reports it
  Hops at_b = HopsOf(remote);
  EXPECT_EQ(at_b.nsc, "nsc");
  EXPECT_EQ(at_b.nsmgr, "nsmgr-b");
  EXPECT_EQ(at_b.forwarder, "fwd-b");
  EXPECT_EQ(at_b.nse, "nse");

  Connection unfinished;  // no NSE yet: [nsc, nsmgr, forwarder]
  for (const char* n : {"nsc", "nsmgr", "fwd"}) {
    unfinished.mutable_path()->add_path_segments()->set_name(n);
  }
  unfinished.mutable_path()->set_index(1);
  EXPECT_EQ(HopsOf(unfinished).nse, "");
  EXPECT_EQ(HopsOf(unfinished).forwarder, "fwd");
}

TEST(NsmctlConnectionTableTest, ColumnsAndWideExtras) {
  const std::string table = ConnectionTable({LocalConnection()}, Output::kTable, kNow);
  EXPECT_EQ(table,
            "ID         SERVICE          STATE   NSC        NSMGR        FORWARDER     NSE         "
            "  MECHANISM   SRC-IP          DST-IP\n"
            "id-nsmgr   icmp-responder   UP      demo-nsc   nsmgr-demo   forwarder-1   icmp-server "
            "  KERNEL      172.16.0.1/32   172.16.0.0/32\n");
  const std::string wide = ConnectionTable({LocalConnection()}, Output::kWide, kNow);
  EXPECT_THAT(wide, HasSubstr("EXPIRES   LABELS"));
  // The connection expires at the nsmgr with the caller's (the NSC's) token: 10 minutes.
  EXPECT_THAT(
      wide,
      HasSubstr("10m       nodeName=demo-node   demo-nsc>nsmgr-demo>forwarder-1>icmp-server"));
  EXPECT_THAT(wide, Not(HasSubstr("SECRET")));
}

TEST(NsmctlJsonTest, ConnectionHasStableFieldsAndNoToken) {
  nlohmann::json j = ConnectionToJson(LocalConnection());
  EXPECT_EQ(j["id"], "id-nsmgr");
  EXPECT_EQ(j["network_service"], "icmp-responder");
  EXPECT_EQ(j["state"], "UP");
  EXPECT_EQ(j["nsc"], "demo-nsc");
  EXPECT_EQ(j["nsmgr"], "nsmgr-demo");
  EXPECT_EQ(j["forwarder"], "forwarder-1");
  EXPECT_EQ(j["nse"], "icmp-server");
  EXPECT_EQ(j["mechanism"]["type"], "KERNEL");
  EXPECT_EQ(j["mechanism"]["parameters"]["name"], "nsm-1");
  EXPECT_EQ(j["src_ip_addrs"], nlohmann::json::array({"172.16.0.1/32"}));
  EXPECT_EQ(j["dst_ip_addrs"], nlohmann::json::array({"172.16.0.0/32"}));
  EXPECT_EQ(j["labels"]["nodeName"], "demo-node");
  EXPECT_EQ(j["expires"], api::FormatRfc3339Nano(kNow + absl::Minutes(10)));
  EXPECT_EQ(j["path"]["index"], 1);
  ASSERT_EQ(j["path"]["segments"].size(), 4u);
  EXPECT_EQ(j["path"]["segments"][2]["name"], "forwarder-1");
  EXPECT_EQ(j["path"]["segments"][2]["id"], "id-2");
  EXPECT_THAT(j.dump(), Not(HasSubstr("SECRET")));
  EXPECT_THAT(j.dump(), Not(HasSubstr("token")));
}

TEST(NsmctlJsonTest, EndpointAndServiceFieldNames) {
  nlohmann::json e = NSEToJson(Endpoint());
  EXPECT_EQ(e["name"], "icmp-server");
  EXPECT_EQ(e["network_service_names"], nlohmann::json::array({"icmp-responder", "vpn"}));
  EXPECT_EQ(e["network_service_labels"]["icmp-responder"]["app"], "icmp");
  EXPECT_EQ(e["url"], "unix:///run/nse.sock");
  EXPECT_EQ(e["expiration_time"], api::FormatRfc3339Nano(kNow + absl::Seconds(45)));
  EXPECT_EQ(e["initial_registration_time"], api::FormatRfc3339Nano(kNow - absl::Minutes(3)));
  NSE bare;
  bare.set_name("bare");
  EXPECT_TRUE(NSEToJson(bare)["expiration_time"].is_null());

  NS ns;
  ns.set_name("svc");
  auto* m = ns.add_matches();
  (*m->mutable_source_selector())["app"] = "a";
  auto* r = m->add_routes();
  (*r->mutable_destination_selector())["color"] = "red";
  r->set_weight(3);
  m->set_fallthrough(true);
  nlohmann::json n = NSToJson(ns);
  EXPECT_EQ(n["name"], "svc");
  EXPECT_EQ(n["payload"], "");
  EXPECT_EQ(n["matches"][0]["source_selector"]["app"], "a");
  EXPECT_EQ(n["matches"][0]["routes"][0]["destination_selector"]["color"], "red");
  EXPECT_EQ(n["matches"][0]["routes"][0]["weight"], 3);
  EXPECT_EQ(n["matches"][0]["fallthrough"], true);
  EXPECT_TRUE(n["matches"][0]["metadata"].is_null());
}

TEST(NsmctlDescribeTest, EveryFieldOfTheEndpoint) {
  const std::string d = DescribeNSE(Endpoint(), kNow);
  EXPECT_THAT(d, HasSubstr("Name:                       icmp-server\n"));
  EXPECT_THAT(d, HasSubstr("URL:                        unix:///run/nse.sock\n"));
  EXPECT_THAT(d, HasSubstr("Network Services:           icmp-responder, vpn\n"));
  EXPECT_THAT(d, HasSubstr("Labels:\n  icmp-responder:           app=icmp,nodeName=n1\n"));
  EXPECT_THAT(d, HasSubstr("Expiration Time:            " +
                           api::FormatRfc3339Nano(kNow + absl::Seconds(45)) + " (in 45s)\n"));
  EXPECT_THAT(d, HasSubstr("Initial Registration Time:  " +
                           api::FormatRfc3339Nano(kNow - absl::Minutes(3)) + " (3m ago)\n"));
  NSE bare;
  bare.set_name("bare");
  EXPECT_THAT(DescribeNSE(bare, kNow), HasSubstr("Labels:                     <none>\n"));
}

TEST(NsmctlWatchLineTest, OneLinePerEvent) {
  EXPECT_EQ(NSEEventLine(kNow, false, Endpoint(), kNow),
            "08:00:00.000 UPDATE nse icmp-server services=icmp-responder,vpn "
            "url=unix:///run/nse.sock expires=45s");
  EXPECT_EQ(NSEEventLine(kNow, true, Endpoint(), kNow),
            "08:00:00.000 DELETE nse icmp-server services=icmp-responder,vpn "
            "url=unix:///run/nse.sock");
  NS ns;
  ns.set_name("svc");
  EXPECT_EQ(NSEventLine(kNow, false, ns), "08:00:00.000 UPDATE ns svc payload=<none> matches=0");
  EXPECT_EQ(ConnectionEventLine(kNow, "UPDATE", LocalConnection()),
            "08:00:00.000 UPDATE connection id-nsmgr service=icmp-responder state=UP "
            "path=demo-nsc>nsmgr-demo>forwarder-1>icmp-server src=172.16.0.1/32 "
            "dst=172.16.0.0/32");
}

}  // namespace
}  // namespace nsm::nsmctl
