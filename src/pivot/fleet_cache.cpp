#include "pivot/fleet_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/cache_blocks.hpp"
#include "core/cache_layout.hpp"

namespace speeddata::pivot {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr size_t chunk_bytes = 512 * 1024;  // under NATS's default max_payload (1 MiB)
constexpr auto request_timeout = std::chrono::milliseconds(3000);

bool plain_name(const std::string& s) {
    return !s.empty() && s.find('/') == std::string::npos && s != "." && s != "..";
}
}  // namespace

std::unique_ptr<FleetCache> FleetCache::start(const config::PivotConfig& cfg, const config::ClusterConfig& cluster) {
    if (!cluster.enabled()) return nullptr;
    const std::string host = config::cluster_host_name(cluster);
    auto n = fleet::Nats::connect(cluster, "speeddata-pivot@" + host);
    if (!n) {
        spdlog::error("fleet: {} (fleet exports off)", n.message());
        return nullptr;
    }
    std::unique_ptr<FleetCache> fc(new FleetCache(cfg, cluster, host, std::move(*n)));
    auto files = fc->nats_->subscribe("speeddata.pivot.files.*", [p = fc.get()](const fleet::Message& m) { p->on_files(m); });
    auto read = fc->nats_->subscribe("speeddata.pivot.read." + host, [p = fc.get()](const fleet::Message& m) { p->on_read(m); });
    if (!files || !read) {
        // nats.c closes a connection whose login or certificate the server refused: the fleet
        // calls answer 503 with the reason until the pivot restarts with the right settings.
        spdlog::error("fleet: {}; {} (fleet calls answer 503 until a restart)", !files ? files.message() : read.message(),
                      fc->nats_->last_error());
        return fc;
    }
    fc->files_sub_ = std::move(*files);
    fc->read_sub_ = std::move(*read);
    spdlog::info("fleet: answering for this host's cache ({}) as '{}'", cfg.storage.avro_path.string(), host);
    return fc;
}

FleetCache::FleetCache(config::PivotConfig cfg, config::ClusterConfig cluster, std::string host,
                       std::unique_ptr<fleet::Nats> nats)
    : cfg_(std::move(cfg)), cluster_(std::move(cluster)), host_(std::move(host)), nats_(std::move(nats)) {}

Status FleetCache::not_connected() const {
    const std::string why = nats_->last_error();
    return Status::unavailable("fleet: NATS is not connected" + (why.empty() ? std::string() : " (" + why + ")"));
}

FleetCache::~FleetCache() {
    tags_kv_.reset();
    files_sub_.reset();
    read_sub_.reset();
    nats_.reset();
}

// {"start_ns", "end_ns"} on speeddata.pivot.files.<channel> -> {"host", "files": [{"name",
// "size", "idx_size"}]}: the channel's files that may hold records in the range, with their
// sizes now (a file being written is read up to that size). No answer when not cached here.
void FleetCache::on_files(const fleet::Message& m) {
    if (m.reply.empty()) return;
    const std::string channel(m.subject.substr(m.subject.rfind('.') + 1));
    if (!config::check_channel_name(channel).ok()) return;
    const fs::path dir = cfg_.storage.avro_path / channel;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    json q = json::parse(m.data, nullptr, false);
    if (!q.is_object()) return;
    const int64_t start = q.value("start_ns", int64_t{0}), end = q.value("end_ns", int64_t{0});
    json files = json::array();
    for (const auto& f : cache::list_files(dir, channel)) {
        if (!cache::select_blocks(f.path, start, end)) continue;
        // The index's size first: the relay writes a block before its index entry, so the
        // file's size read after it covers every block the index names.
        std::error_code e1, e2;
        const auto idx = fs::file_size(cache::index_path(f.path), e2);
        const auto size = fs::file_size(f.path, e1);
        if (e1) continue;
        files.push_back({{"name", f.path.filename().string()}, {"size", size}, {"idx_size", e2 ? 0 : idx}});
    }
    (void)nats_->publish(std::string(m.reply), json{{"host", host_}, {"files", files}}.dump());
}

// {"channel", "file", "offset", "length"} on speeddata.pivot.read.<host> -> the bytes.
void FleetCache::on_read(const fleet::Message& m) {
    if (m.reply.empty()) return;
    json q = json::parse(m.data, nullptr, false);
    if (!q.is_object()) return;
    const std::string channel = q.value("channel", ""), file = q.value("file", "");
    if (!config::check_channel_name(channel).ok() || !plain_name(file)) return;
    const uint64_t offset = q.value("offset", uint64_t{0});
    const size_t length = std::min<size_t>(q.value("length", size_t{0}), chunk_bytes);
    std::string buf(length, '\0');
    const fs::path path = cfg_.storage.avro_path / channel / file;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = -1;
    if (fd >= 0) {
        n = ::pread(fd, buf.data(), length, static_cast<off_t>(offset));
        ::close(fd);
    }
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    (void)nats_->publish(std::string(m.reply), buf);
}

bool FleetCache::all_local(const std::vector<std::string>& channels) const {
    for (const auto& c : channels) {
        std::error_code ec;
        if (!fs::is_directory(cfg_.storage.avro_path / c, ec)) return false;
    }
    return true;
}

Result<fs::path> FleetCache::gather(const std::vector<std::string>& channels, int64_t start_ns, int64_t end_ns,
                                    const fs::path& parent) {
    static std::atomic<uint64_t> seq{0};
    const fs::path root = parent / ("fleet-" + std::to_string(::getpid()) + "-" + std::to_string(seq++));
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return Status::io_error("create " + root.string() + ": " + ec.message());
    for (const auto& ch : channels) {
        if (!config::check_channel_name(ch).ok()) continue;  // the export names it
        const fs::path local = cfg_.storage.avro_path / ch;
        if (fs::is_directory(local, ec)) {
            fs::create_directory_symlink(fs::absolute(local), root / ch, ec);
            if (ec) return Status::io_error("link " + (root / ch).string() + ": " + ec.message());
            continue;
        }
        auto listing = nats_->request("speeddata.pivot.files." + ch,
                                      json{{"start_ns", start_ns}, {"end_ns", end_ns}}.dump(), request_timeout);
        if (!listing) {
            if (listing.code() == StatusCode::unavailable && !nats_->connected())
                return Status::unavailable(not_connected().message() + "; channel '" + ch + "' is not cached here");
            continue;  // nobody caches it: the export says "unknown channel"
        }
        json l = json::parse(*listing, nullptr, false);
        if (!l.is_object() || !l["files"].is_array()) return Status::io_error("fleet: bad answer for channel " + ch);
        const std::string host = l.value("host", "");
        const fs::path dir = root / ch;
        fs::create_directories(dir, ec);
        auto fetch = [&](const std::string& file, uint64_t size, const fs::path& to) -> Status {
            std::ofstream out(to, std::ios::binary | std::ios::trunc);
            if (!out) return Status::io_error("write " + to.string());
            for (uint64_t off = 0; off < size;) {
                const size_t len = static_cast<size_t>(std::min<uint64_t>(chunk_bytes, size - off));
                auto part = nats_->request("speeddata.pivot.read." + host,
                                           json{{"channel", ch}, {"file", file}, {"offset", off}, {"length", len}}.dump(),
                                           request_timeout);
                if (!part) return Status::unavailable("fleet: reading " + ch + "/" + file + " from host '" + host +
                                                      "': " + part.message());
                if (part->empty()) break;  // shorter than listed (retention removed it meanwhile)
                out.write(part->data(), static_cast<std::streamsize>(part->size()));
                off += part->size();
            }
            if (!out) return Status::io_error("write " + to.string());
            return Status();
        };
        for (const auto& f : l["files"]) {
            const std::string name = f.value("name", "");
            if (!plain_name(name)) continue;
            if (auto st = fetch(name, f.value("size", uint64_t{0}), dir / name); !st.ok()) return st;
            const uint64_t idx = f.value("idx_size", uint64_t{0});
            if (idx > 0)
                if (auto st = fetch(name + ".idx", idx, cache::index_path(dir / name)); !st.ok()) return st;
        }
        spdlog::info("fleet export: channel {}: {} file(s) from host {}", ch, l["files"].size(), host);
    }
    return root;
}

namespace {
constexpr const char* tags_stream = "SPEEDDATA_TAGS";
constexpr const char* tags_bucket = "speeddata_tags";
}  // namespace

Status FleetCache::ensure_tag_storage() {
    if (!nats_->connected()) return not_connected();
    if (tags_kv_) return Status();
    const int replicas = cluster_.replicas;  // 0: min(3, the cluster's servers), Nats decides
    if (auto st = nats_->ensure_stream(tags_stream, "speeddata.tags", replicas); !st.ok()) return st;
    auto kv = nats_->bucket(tags_bucket, replicas, std::chrono::seconds(0));
    if (!kv) return kv.status();
    tags_kv_ = std::move(*kv);
    return Status();
}

Status FleetCache::store_tag(const json& tag, const fs::path& file) {
    std::lock_guard lock(tags_mu_);
    if (auto st = ensure_tag_storage(); !st.ok()) return st;
    const std::string key = host_ + "-" + std::to_string(tag.value("id", int64_t{0}));
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::io_error("read " + file.string());
    std::string buf(chunk_bytes, '\0');
    uint64_t chunks = 0, bytes = 0;
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto n = static_cast<size_t>(in.gcount());
        if (n == 0) break;
        if (auto st = nats_->stream_publish("speeddata.tags." + key + "." + std::to_string(chunks), std::string_view(buf.data(), n));
            !st.ok())
            return st;
        ++chunks;
        bytes += n;
    }
    json meta = tag;
    meta["key"] = key;
    meta["host"] = host_;
    meta["chunks"] = chunks;
    meta["bytes"] = bytes;
    // Last: a description is only listed once every chunk is stored.
    return tags_kv_->put(key, meta.dump());
}

Result<std::vector<json>> FleetCache::list_tags() {
    std::lock_guard lock(tags_mu_);
    if (auto st = ensure_tag_storage(); !st.ok()) return st;
    auto entries = tags_kv_->entries();
    if (!entries) return entries.status();
    std::vector<json> out;
    for (const auto& [k, v] : *entries) {
        json j = json::parse(v, nullptr, false);
        if (j.is_object()) out.push_back(std::move(j));
    }
    return out;
}

Result<json> FleetCache::fetch_tag(const std::string& key, const fs::path& to) {
    std::lock_guard lock(tags_mu_);
    if (auto st = ensure_tag_storage(); !st.ok()) return st;
    auto v = tags_kv_->get(key);
    if (!v) return v.status();
    if (!*v) return Status::not_found("key: no fleet tag '" + key + "'");
    json meta = json::parse(**v, nullptr, false);
    if (!meta.is_object()) return Status::io_error("fleet tag " + key + ": bad description");
    std::ofstream out(to, std::ios::binary | std::ios::trunc);
    if (!out) return Status::io_error("write " + to.string());
    const uint64_t chunks = meta.value("chunks", uint64_t{0});
    for (uint64_t i = 0; i < chunks; ++i) {
        auto part = nats_->stream_last(tags_stream, "speeddata.tags." + key + "." + std::to_string(i));
        if (!part) return part.status().with_context("fleet tag " + key);
        out.write(part->data(), static_cast<std::streamsize>(part->size()));
    }
    if (!out) return Status::io_error("write " + to.string());
    return meta;
}

}  // namespace speeddata::pivot
