#include "fleet/nats.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <vector>

namespace speeddata::fleet {

namespace {

Status nats_error(const std::string& what, natsStatus s) {
    std::string msg = what + ": " + natsStatus_GetText(s);
    const char* last = nats_GetLastError(nullptr);
    if (last && *last && std::strstr(msg.c_str(), last) == nullptr) msg += std::string(" (") + last + ")";
    const StatusCode code = (s == NATS_NOT_FOUND) ? StatusCode::not_found
                            : (s == NATS_TIMEOUT || s == NATS_CONNECTION_CLOSED || s == NATS_NO_SERVER ||
                               s == NATS_NOT_YET_CONNECTED || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_DISCONNECTED)
                                ? StatusCode::unavailable
                                : StatusCode::io;
    return Status::error(code, std::move(msg));
}

// nats.c calls handlers with a C callback and a closure; the handler lives in the Impl.
void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* handler = static_cast<Nats::Handler*>(closure);
    Message m;
    const char* subj = natsMsg_GetSubject(msg);
    const char* reply = natsMsg_GetReply(msg);
    m.subject = subj ? subj : "";
    m.reply = reply ? reply : "";
    m.data = std::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    (*handler)(m);
    natsMsg_Destroy(msg);
}

}  // namespace

// ---------------------------------------------------------------- Nats

struct Nats::Impl {
    natsOptions* opts = nullptr;
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    int loopback_urls = 0;  // URLs given that name this machine's loopback (see cluster_size)
    // Why the connection is down, taken in nats.c's callbacks on its own thread (the
    // connection's error text is a buffer that thread rewrites: read it only there).
    mutable std::mutex error_mu;
    std::string error;
    // The connection's last error, "status: text" ("" when none). Its text is a fixed buffer
    // nats.c's thread may be rewriting when read from another thread: at most its size is
    // copied; a torn text is the worst that can come of it.
    static std::string error_text(natsConnection* c) {
        const char* text = nullptr;
        const natsStatus s = natsConnection_GetLastError(c, &text);
        std::string why = s == NATS_OK ? std::string() : natsStatus_GetText(s);
        if (text) {
            const std::string t(text, strnlen(text, 255));
            if (!t.empty() && t != why) why += (why.empty() ? "" : ": ") + t;
        }
        return why;
    }
    void note(natsConnection* c) {
        std::string why = error_text(c);
        std::lock_guard lock(error_mu);
        // A refusal (login, TLS) is not replaced by the generic text of the next attempt.
        if (!why.empty() && (error.empty() || telling(why) || !telling(error))) error = std::move(why);
    }
    // The server refused us (login, TLS): the reason a user must act on. nats.c's attempts
    // alternate between it and "No server available for connection".
    static bool telling(const std::string& why) {
        static constexpr const char* words[] = {"Authoriz", "Authentic", "SSL", "TLS", "ertificate"};
        return std::any_of(std::begin(words), std::end(words), [&](const char* w) { return why.find(w) != std::string::npos; });
    }
    ~Impl() {
        if (js) jsCtx_Destroy(js);
        if (nc) {
            natsConnection_Close(nc);
            natsConnection_Destroy(nc);
        }
        if (opts) natsOptions_Destroy(opts);
    }
};

Nats::Nats(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Nats::~Nats() = default;

namespace {

// nats://[user:pass@]HOST:PORT with HOST localhost, 127.x.y.z or [::1].
bool is_loopback_url(const std::string& url) {
    size_t h = url.find("://");
    h = (h == std::string::npos) ? 0 : h + 3;
    if (const size_t at = url.rfind('@'); at != std::string::npos && at >= h) h = at + 1;
    const std::string host = url.substr(h);
    return host.rfind("localhost", 0) == 0 || host.rfind("127.", 0) == 0 || host.rfind("[::1]", 0) == 0;
}

void on_connected(natsConnection*, void* closure) {
    auto* impl = static_cast<Nats::Impl*>(closure);
    std::lock_guard lock(impl->error_mu);
    impl->error.clear();
}
void on_down(natsConnection* nc, void* closure) { static_cast<Nats::Impl*>(closure)->note(nc); }

// Authentication and TLS (docs/fleet.md, "Securing NATS"): the secrets were read by the config
// loader; nats.c keeps copies for its reconnects.
natsStatus set_security(natsOptions* o, const config::ClusterConfig& c) {
    natsStatus s = NATS_OK;
    if (!c.user.empty() && (s = natsOptions_SetUserInfo(o, c.user.c_str(), c.password.c_str())) != NATS_OK) return s;
    if (!c.token.empty() && (s = natsOptions_SetToken(o, c.token.c_str())) != NATS_OK) return s;
    if (!c.tls()) return NATS_OK;
    if ((s = natsOptions_SetSecure(o, true)) != NATS_OK) return s;
    if (!c.tls_ca_file.empty() && (s = natsOptions_LoadCATrustedCertificates(o, c.tls_ca_file.c_str())) != NATS_OK)
        return s;
    if (!c.tls_cert_file.empty() &&
        (s = natsOptions_LoadCertificatesChain(o, c.tls_cert_file.c_str(), c.tls_key_file.c_str())) != NATS_OK)
        return s;
    return NATS_OK;
}

}  // namespace

Result<std::unique_ptr<Nats>> Nats::connect(const config::ClusterConfig& cluster, const std::string& client_name) {
    const std::string& urls = cluster.nats;
    auto impl = std::make_unique<Impl>();
    natsStatus s = natsOptions_Create(&impl->opts);
    if (s != NATS_OK) return nats_error("nats options", s);
    std::vector<std::string> list;
    for (size_t start = 0; start <= urls.size();) {
        size_t end = std::min(urls.find(',', start), urls.size());
        if (end > start) list.push_back(urls.substr(start, end - start));
        start = end + 1;
    }
    std::vector<const char*> ptrs;
    for (const auto& u : list) {
        ptrs.push_back(u.c_str());
        if (is_loopback_url(u)) ++impl->loopback_urls;
    }
    if (ptrs.empty()) return Status::invalid("cluster.nats: no URL");
    if ((s = natsOptions_SetServers(impl->opts, ptrs.data(), static_cast<int>(ptrs.size()))) != NATS_OK ||
        (s = natsOptions_SetName(impl->opts, client_name.c_str())) != NATS_OK ||
        (s = natsOptions_SetNoRandomize(impl->opts, true)) != NATS_OK ||  // the local member first
        (s = natsOptions_SetTimeout(impl->opts, 2000)) != NATS_OK ||
        (s = natsOptions_SetMaxReconnect(impl->opts, -1)) != NATS_OK ||
        (s = natsOptions_SetReconnectWait(impl->opts, 250)) != NATS_OK ||
        // A dead server is noticed within ~3 s, not the default 4 minutes.
        (s = natsOptions_SetPingInterval(impl->opts, 1000)) != NATS_OK ||
        (s = natsOptions_SetMaxPingsOut(impl->opts, 2)) != NATS_OK ||
        // Live data is not worth queueing during an outage: a small buffer, then errors.
        (s = natsOptions_SetReconnectBufSize(impl->opts, 256 * 1024)) != NATS_OK ||
        // With a callback, a first connect that fails goes on in nats.c's reconnect thread
        // (natsConnection_Connect answers NATS_NOT_YET_CONNECTED). Without one it would block,
        // for ever with unlimited reconnects: a host whose NATS is down, or refuses its
        // password, would never serve its API.
        (s = natsOptions_SetRetryOnFailedConnect(impl->opts, true, on_connected, impl.get())) != NATS_OK ||
        (s = natsOptions_SetReconnectedCB(impl->opts, on_connected, impl.get())) != NATS_OK ||
        (s = natsOptions_SetDisconnectedCB(impl->opts, on_down, impl.get())) != NATS_OK ||
        (s = natsOptions_SetClosedCB(impl->opts, on_down, impl.get())) != NATS_OK)
        return nats_error("nats options", s);
    if ((s = set_security(impl->opts, cluster)) != NATS_OK) return nats_error("nats TLS/credentials", s);
    s = natsConnection_Connect(&impl->nc, impl->opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) return nats_error("connect " + config::redact_nats_urls(urls), s);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 3000;
    if ((s = natsConnection_JetStream(&impl->js, impl->nc, &jo)) != NATS_OK) return nats_error("jetstream", s);
    return std::unique_ptr<Nats>(new Nats(std::move(impl)));
}

bool Nats::connected() const { return natsConnection_Status(impl_->nc) == NATS_CONN_STATUS_CONNECTED; }

std::string Nats::last_error() const {
    if (connected()) return std::string();
    std::string kept;
    {
        std::lock_guard lock(impl_->error_mu);
        if (Impl::telling(impl_->error)) return impl_->error;
        kept = impl_->error;
    }
    // Not yet connected: nats.c's connect attempts call no callback, so read it here.
    std::string why = Impl::error_text(impl_->nc);
    // Kept until the next successful connect, so that the reason shown does not flip.
    if (Impl::telling(why)) {
        std::lock_guard lock(impl_->error_mu);
        impl_->error = why;
    }
    if (!why.empty()) return why;
    if (!kept.empty()) return kept;
    return natsConnection_IsClosed(impl_->nc) ? "connection closed" : "no NATS server reachable (retrying)";
}

Status Nats::publish(const std::string& subject, std::string_view data) {
    if (!connected()) return Status::unavailable("nats: not connected");
    natsStatus s = natsConnection_Publish(impl_->nc, subject.c_str(), data.data(), static_cast<int>(data.size()));
    if (s != NATS_OK) return nats_error("publish " + subject, s);
    return Status();
}

Result<std::string> Nats::request(const std::string& subject, std::string_view data, std::chrono::milliseconds timeout) {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_Request(&reply, impl_->nc, subject.c_str(), data.data(), static_cast<int>(data.size()),
                                          timeout.count());
    if (s != NATS_OK) return nats_error("request " + subject, s);
    std::string out(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return out;
}

Status Nats::ensure_stream(const std::string& name, const std::string& subject_prefix, int replicas) {
    if (!connected()) return Status::unavailable("nats: not connected");
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, impl_->js, name.c_str(), nullptr, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return Status();
    }
    if (s != NATS_NOT_FOUND) return nats_error("stream " + name, s);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const std::string subjects = subject_prefix + ".>";
    const char* subj[] = {subjects.c_str()};
    cfg.Name = name.c_str();
    cfg.Subjects = subj;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.AllowDirect = true;
    cfg.Replicas = replicas_for(replicas);
    s = js_AddStream(&si, impl_->js, &cfg, nullptr, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return Status();
    }
    Status made = nats_error("create stream " + name + " (" + std::to_string(cfg.Replicas) + " replicas)", s);
    // Made by another host meanwhile.
    if (js_GetStreamInfo(&si, impl_->js, name.c_str(), nullptr, &jerr) == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return Status();
    }
    return made;
}

Status Nats::stream_publish(const std::string& subject, std::string_view data) {
    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_Publish(&ack, impl_->js, subject.c_str(), data.data(), static_cast<int>(data.size()), nullptr, &jerr);
    if (ack) jsPubAck_Destroy(ack);
    if (s != NATS_OK) return nats_error("publish " + subject, s);
    return Status();
}

Result<std::string> Nats::stream_last(const std::string& stream, const std::string& subject) {
    natsMsg* msg = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetLastMsg(&msg, impl_->js, stream.c_str(), subject.c_str(), nullptr, &jerr);
    if (s != NATS_OK) return nats_error("get " + stream + " " + subject, s);
    std::string out(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    natsMsg_Destroy(msg);
    return out;
}

// The client's server list is the URLs it was given plus the client URLs every member
// advertises (its own included). A loopback URL is the local member under a name no member
// advertises, so it is that member counted twice: measured with 2 and 3 members given
// nats://127.0.0.1:4222, the list held 3 and 4 servers. Counting the list alone made a
// two-host fleet ask for 3 copies, which JetStream could never place.
int Nats::replicas_for(int asked) const { return asked > 0 ? asked : std::clamp(cluster_size(), 1, 3); }

int Nats::cluster_size() const {
    char** servers = nullptr;
    int count = 0;
    if (natsConnection_GetServers(impl_->nc, &servers, &count) != NATS_OK) return 0;
    for (int i = 0; i < count; ++i) free(servers[i]);
    free(servers);
    return std::max(0, count - impl_->loopback_urls);
}

// ---------------------------------------------------------------- Subscription

struct Subscription::Impl {
    Nats::Handler handler;
    natsSubscription* sub = nullptr;
    ~Impl() {
        if (sub) {
            natsSubscription_Unsubscribe(sub);
            natsSubscription_Destroy(sub);
        }
    }
};

Subscription::Subscription(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Subscription::~Subscription() = default;

Result<std::unique_ptr<Subscription>> Nats::subscribe(const std::string& subject, Handler handler) {
    auto impl = std::make_unique<Subscription::Impl>();
    impl->handler = std::move(handler);
    natsStatus s = natsConnection_Subscribe(&impl->sub, impl_->nc, subject.c_str(), on_message, &impl->handler);
    if (s != NATS_OK) return nats_error("subscribe " + subject, s);
    // A slow consumer drops messages rather than growing without limit.
    natsSubscription_SetPendingLimits(impl->sub, 65536, 64 << 20);
    return std::unique_ptr<Subscription>(new Subscription(std::move(impl)));
}

// ---------------------------------------------------------------- Bucket

struct Bucket::Impl {
    kvStore* kv = nullptr;
    std::string name;
    ~Impl() {
        if (kv) kvStore_Destroy(kv);
    }
};

Bucket::Bucket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Bucket::~Bucket() = default;

Result<std::unique_ptr<Bucket>> Nats::bucket(const std::string& name, int replicas, std::chrono::seconds max_age) {
    if (!connected()) return Status::unavailable("nats: not connected");
    auto impl = std::make_unique<Bucket::Impl>();
    impl->name = name;
    natsStatus s = js_KeyValue(&impl->kv, impl_->js, name.c_str());
    if (s == NATS_NOT_FOUND) {
        kvConfig cfg;
        kvConfig_Init(&cfg);
        cfg.Bucket = name.c_str();
        cfg.History = 1;
        cfg.StorageType = js_FileStorage;
        cfg.TTL = static_cast<int64_t>(max_age.count()) * 1000;  // ms
        cfg.Replicas = replicas_for(replicas);
        s = js_CreateKeyValue(&impl->kv, impl_->js, &cfg);
        if (s != NATS_OK) {
            // Another host created it at the same moment; else the creation's error is the one to
            // say (taken first: nats.c's last error text is per call).
            Status made = nats_error("create key-value bucket " + name + " (" + std::to_string(cfg.Replicas) + " replicas)", s);
            if (js_KeyValue(&impl->kv, impl_->js, name.c_str()) != NATS_OK) return made;
            s = NATS_OK;
        }
    }
    if (s != NATS_OK) return nats_error("key-value bucket " + name, s);
    return std::unique_ptr<Bucket>(new Bucket(std::move(impl)));
}

Status Bucket::put(const std::string& key, std::string_view value) {
    uint64_t rev = 0;
    natsStatus s = kvStore_Put(&rev, impl_->kv, key.c_str(), value.data(), static_cast<int>(value.size()));
    if (s != NATS_OK) return nats_error("put " + impl_->name + "/" + key, s);
    return Status();
}

Result<std::optional<std::string>> Bucket::get(const std::string& key) {
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, impl_->kv, key.c_str());
    if (s == NATS_NOT_FOUND) return std::optional<std::string>();
    if (s != NATS_OK) return nats_error("get " + impl_->name + "/" + key, s);
    std::string v(static_cast<const char*>(kvEntry_Value(e)), static_cast<size_t>(kvEntry_ValueLen(e)));
    kvEntry_Destroy(e);
    return std::optional<std::string>(std::move(v));
}

Status Bucket::remove(const std::string& key) {
    natsStatus s = kvStore_Delete(impl_->kv, key.c_str());
    if (s != NATS_OK) return nats_error("delete " + impl_->name + "/" + key, s);
    return Status();
}

Result<std::map<std::string, std::string>> Bucket::entries() {
    kvWatchOptions o;
    kvWatchOptions_Init(&o);
    o.IgnoreDeletes = true;
    kvWatcher* w = nullptr;
    natsStatus s = kvStore_WatchAll(&w, impl_->kv, &o);
    if (s != NATS_OK) return nats_error("watch " + impl_->name, s);
    std::map<std::string, std::string> out;
    Status err;
    for (;;) {
        kvEntry* e = nullptr;
        s = kvWatcher_Next(&e, w, 3000);
        if (s != NATS_OK) {
            err = nats_error("read " + impl_->name, s);
            break;
        }
        if (e == nullptr) break;  // the marker: every current value has been delivered
        out[kvEntry_Key(e)] = std::string(static_cast<const char*>(kvEntry_Value(e)),
                                          static_cast<size_t>(kvEntry_ValueLen(e)));
        kvEntry_Destroy(e);
    }
    kvWatcher_Destroy(w);
    if (!err.ok()) return err;
    return out;
}

}  // namespace speeddata::fleet
