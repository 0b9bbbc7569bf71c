// The one wrapper over the NATS C client (nats.c): a connection that keeps reconnecting,
// publish / subscribe / request, and JetStream key-value buckets. No nats.h outside
// nats.cpp: the rest of SpeedData sees these classes only (docs/fleet.md).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/cluster.hpp"
#include "core/status.hpp"

namespace speeddata::fleet {

struct Message {
    std::string_view subject;
    std::string_view data;
    std::string_view reply;  // "" unless the sender waits for an answer (request/reply)
};

class Nats;

// A subscription; unsubscribes when destroyed. Its handler runs on nats.c's delivery thread.
class Subscription {
public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    struct Impl;

private:
    friend class Nats;
    explicit Subscription(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// A JetStream key-value bucket, created if missing (replicas capped by the cluster's size by
// the caller). Must not outlive the Nats it came from.
class Bucket {
public:
    ~Bucket();
    Bucket(const Bucket&) = delete;
    Bucket& operator=(const Bucket&) = delete;

    Status put(const std::string& key, std::string_view value);
    // nullopt: no such key (or deleted).
    Result<std::optional<std::string>> get(const std::string& key);
    Status remove(const std::string& key);
    // Every live key and its value, read in one pass (a watcher over the bucket's last values).
    Result<std::map<std::string, std::string>> entries();
    struct Impl;

private:
    friend class Nats;
    explicit Bucket(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

class Nats {
public:
    // Connects to urls ("nats://a:4222,nats://b:4222"). A server that is not up yet is not an
    // error: the client keeps trying (every 250 ms) and reconnects after every outage, so
    // callers check connected() and retry their fleet work; local work never waits for NATS.
    // cluster: the URLs (cluster.nats) and how to authenticate and check the server (user and
    // password, token, TLS with a CA and a client certificate). Never blocks: a server that is
    // down is retried in nats.c's thread. A refused login or certificate makes nats.c close the
    // connection for good (nats.c 3.4): connected() stays false and last_error() says why until
    // the service restarts (docs/fleet.md, "Securing NATS").
    static Result<std::unique_ptr<Nats>> connect(const config::ClusterConfig& cluster, const std::string& client_name);
    ~Nats();
    Nats(const Nats&) = delete;
    Nats& operator=(const Nats&) = delete;

    bool connected() const;
    // Why the last connection attempt failed ("" when connected or never tried), e.g.
    // "Authorization Violation" or a TLS handshake error: shown in /api/v1/fleet.
    std::string last_error() const;
    // Fire and forget; an error while disconnected (nothing is queued for later).
    Status publish(const std::string& subject, std::string_view data);
    Result<std::string> request(const std::string& subject, std::string_view data, std::chrono::milliseconds timeout);
    using Handler = std::function<void(const Message&)>;
    Result<std::unique_ptr<Subscription>> subscribe(const std::string& subject, Handler handler);
    // Binds the bucket, creating it (with `replicas` copies, 0 = min(3, cluster_size());
    // entries older than max_age dropped, 0 = kept) when it does not exist.
    Result<std::unique_ptr<Bucket>> bucket(const std::string& name, int replicas, std::chrono::seconds max_age);
    // JetStream streams (durable, replicated messages), for data larger than a key-value
    // entry: makes the stream (subjects: `subject_prefix.>`) unless it exists.
    Status ensure_stream(const std::string& name, const std::string& subject_prefix, int replicas);
    // Publishes and waits for the stream's acknowledgement (stored on its replicas).
    Status stream_publish(const std::string& subject, std::string_view data);
    // The last message the stream holds on a subject; not_found when none.
    Result<std::string> stream_last(const std::string& stream, const std::string& subject);
    // How many servers the cluster has: the URLs given and those the members advertise, a
    // loopback URL not counted (it is the local member twice), 0 when unknown.
    int cluster_size() const;
    // The copies a bucket or stream is made with: `asked`, or for 0 min(3, cluster_size()).
    int replicas_for(int asked) const;
    struct Impl;

private:
    explicit Nats(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace speeddata::fleet
