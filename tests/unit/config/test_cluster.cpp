// cluster.* (docs/fleet.md): off by default, URLs and host names checked, errors name the key.
#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "core/config/cluster.hpp"
#include "core/config/config.hpp"

namespace speeddata::config {
namespace {

using test::ConfigDir;

TEST(Cluster, OffByDefault) {
    ConfigDir d;
    auto r = load_cluster_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_FALSE(r->enabled());
    EXPECT_EQ(r->nats, "none");
    EXPECT_EQ(r->replicas, 0);
    EXPECT_FALSE(cluster_host_name(*r).empty());  // the hostname
}

TEST(Cluster, GlobalYamlOnly) {
    ConfigDir d;
    d.write("global.yaml", "cluster:\n  nats: nats://127.0.0.1:4222,nats://10.0.0.2:4222\n  host: rack-1.a\n  replicas: 3\n");
    auto r = load_cluster_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(r->enabled());
    EXPECT_EQ(r->nats, "nats://127.0.0.1:4222,nats://10.0.0.2:4222");
    EXPECT_EQ(cluster_host_name(*r), "rack-1.a");
    EXPECT_EQ(r->replicas, 3);
    // Every service still loads with it (the key belongs to global.yaml)...
    EXPECT_TRUE(load_relay_config(d.dir()).ok());
    EXPECT_TRUE(load_stripchart_config(d.dir()).ok());
    EXPECT_TRUE(load_pivot_config(d.dir()).ok());
    // ...and a service file may not set it: one host, one fleet.
    d.write("pivot.yaml", "cluster:\n  host: other\n");
    auto p = load_pivot_config(d.dir());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.message().find("cluster"), std::string::npos) << p.message();
}

TEST(Cluster, BadValuesNameFileAndKey) {
    ConfigDir d;
    d.write("global.yaml", "cluster:\n  nats: http://x:4222\n");
    auto r = load_cluster_config(d.dir());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("global.yaml: cluster.nats: expected none or nats://HOST:PORT"), std::string::npos)
        << r.message();
    d.write("global.yaml", "cluster:\n  nats: nats://a:1,\n");
    EXPECT_FALSE(load_cluster_config(d.dir()).ok());
    d.write("global.yaml", "cluster:\n  host: bad/name\n");
    r = load_cluster_config(d.dir());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("cluster.host: expected a host name"), std::string::npos) << r.message();
    d.write("global.yaml", "cluster:\n  replicas: 9\n");
    EXPECT_FALSE(load_cluster_config(d.dir()).ok());
    d.write("global.yaml", "cluster:\n  nat: nats://a:1\n");
    r = load_cluster_config(d.dir());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("did you mean 'nats'"), std::string::npos) << r.message();
}

// cluster.user / password_file / token_file / tls.*: the secrets are read at load, and every
// mistake is an error naming global.yaml and the key (docs/fleet.md, "Securing NATS").
TEST(Cluster, CredentialsAndTlsFiles) {
    ConfigDir d;
    const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    d.write("nats.pw", "s3cret  \nignored second line\n");
    d.write("ca.pem", pem);
    d.write("me.pem", pem);
    d.write("me.key", "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
    d.write("global.yaml",
            "cluster:\n  nats: nats://127.0.0.1:4222\n  user: rack-1@lab\n  password_file: nats.pw\n"
            "  tls:\n    ca: ca.pem\n    cert: me.pem\n    key: me.key\n");
    auto r = load_cluster_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->user, "rack-1@lab");
    EXPECT_EQ(r->password, "s3cret");
    EXPECT_TRUE(r->token.empty());
    EXPECT_TRUE(r->tls());  // a CA turns TLS on even with nats:// URLs
    EXPECT_EQ(r->tls_ca_file, (d.dir() / "ca.pem").string());
    EXPECT_EQ(r->tls_key_file, (d.dir() / "me.key").string());

    d.write("tok", "abc\n");
    d.write("global.yaml", "cluster:\n  nats: tls://h:4222\n  token_file: tok\n");
    r = load_cluster_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->token, "abc");
    EXPECT_TRUE(r->tls());  // tls:// alone: the system's CAs
    EXPECT_TRUE(r->tls_ca_file.empty());

    d.write("global.yaml", "cluster:\n  nats: nats://h:4222\n");
    r = load_cluster_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_FALSE(r->tls());

    const std::pair<std::string, std::string> bad[] = {
        {"  user: u\n", "global.yaml: cluster.user: set cluster.password_file too"},
        {"  password_file: nats.pw\n", "global.yaml: cluster.password_file: set cluster.user too"},
        {"  user: u\n  password_file: missing.pw\n", "global.yaml: cluster.password_file: cannot read "},
        {"  user: u\n  password_file: nats.pw\n  token_file: tok\n", "global.yaml: cluster.token_file: NATS takes a user or a token"},
        {"  user: bad user\n", "global.yaml: cluster.user: expected a user name"},
        {"  tls:\n    cert: me.pem\n", "global.yaml: cluster.tls.cert: set cluster.tls.key too"},
        {"  tls:\n    key: me.key\n", "global.yaml: cluster.tls.key: set cluster.tls.cert too"},
        {"  tls:\n    ca: nats.pw\n", "global.yaml: cluster.tls.ca: "},
        {"  tls:\n    ca: nope.pem\n", "global.yaml: cluster.tls.ca: cannot read "},
    };
    d.write("empty", "\n");
    for (const auto& [yaml, want] : bad) {
        d.write("global.yaml", "cluster:\n  nats: nats://h:4222\n" + yaml);
        auto e = load_cluster_config(d.dir());
        ASSERT_FALSE(e.ok()) << yaml;
        EXPECT_NE(e.message().find(want), std::string::npos) << yaml << " -> " << e.message();
    }
    d.write("global.yaml", "cluster:\n  nats: nats://h:4222\n  token_file: empty\n");
    auto e = load_cluster_config(d.dir());
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.message().find("cluster.token_file: "), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("is empty"), std::string::npos) << e.message();
}

TEST(Cluster, SecretsInUrlsAreNotShown) {
    EXPECT_EQ(redact_nats_urls("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    EXPECT_EQ(redact_nats_urls("nats://bob:pw@a:4222,tls://t0ken@b:4222,nats://c:1"),
              "nats://bob:***@a:4222,tls://***@b:4222,nats://c:1");
    EXPECT_EQ(redact_nats_urls("nats://bob:p@ss@a:4222"), "nats://bob:***@a:4222");
}

}  // namespace
}  // namespace speeddata::config
