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

}  // namespace
}  // namespace speeddata::config
