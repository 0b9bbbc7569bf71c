#include "stripchart/hub.hpp"

#include <algorithm>
#include <cstring>
#include <deque>

#include <fmt/format.h>

#include "core/config/config.hpp"
#include "core/net/mcast_header.hpp"
#include "stripchart/legacy_json.hpp"

namespace speeddata::stripchart {

namespace {

bool is_numeric(avro::Type t) {
    return t == avro::Type::int_type || t == avro::Type::long_type || t == avro::Type::float_type ||
           t == avro::Type::double_type;
}

// How to read one top-level numeric field (plain, or a union of null and a number).
struct FieldPlan {
    int index = -1;
    avro::Type type = avro::Type::double_type;
    bool is_union = false;
    int64_t value_branch = 0;  // the numeric branch of a [null, T] union
    uint32_t signal_id = 0;
};

// Reads a numeric field from its span; false when null or malformed.
bool read_number(const uint8_t* p, size_t len, const FieldPlan& f, double& out, int64_t* as_int = nullptr) {
    const uint8_t* end = p + len;
    if (f.is_union) {
        int64_t branch = 0;
        size_t n = avro::read_long(p, end, branch);
        if (n == 0 || branch != f.value_branch) return false;
        p += n;
    }
    switch (f.type) {
        case avro::Type::int_type:
        case avro::Type::long_type: {
            int64_t v = 0;
            if (avro::read_long(p, end, v) == 0) return false;
            out = static_cast<double>(v);
            if (as_int) *as_int = v;
            return true;
        }
        case avro::Type::float_type:
            if (end - p < 4) return false;
            out = avro::read_float(p);
            return true;
        case avro::Type::double_type:
            if (end - p < 8) return false;
            out = avro::read_double(p);
            return true;
        default: return false;
    }
}

// Resolves a field type to a FieldPlan when it is a number or a [null, number] union.
std::optional<FieldPlan> plan_for(const avro::Schema& s, int index) {
    const avro::Node& n = s.node(s.root().fields[index].type);
    FieldPlan f;
    f.index = index;
    if (is_numeric(n.type)) {
        f.type = n.type;
        return f;
    }
    if (n.type == avro::Type::union_type && n.branches.size() == 2) {
        for (int b = 0; b < 2; ++b) {
            const avro::Node& v = s.node(n.branches[b]);
            const avro::Node& other = s.node(n.branches[1 - b]);
            if (is_numeric(v.type) && other.type == avro::Type::null_type) {
                f.type = v.type;
                f.is_union = true;
                f.value_branch = b;
                return f;
            }
        }
    }
    return std::nullopt;
}

struct SchemaEntry {
    std::string channel;
    avro::Schema schema;
    std::unique_ptr<avro::Validator> validator;
    FieldPlan time;
    TimeUnit unit = TimeUnit::unknown;
    std::string time_unit_text;  // as configured, for channels learned from this one
    std::vector<FieldPlan> numeric;
    std::vector<avro::FieldSpan> spans;  // scratch, one per top-level field
};

struct SignalBuf {
    SignalInfo info;
    std::vector<double> t;  // ms since the epoch
    std::vector<double> v;
    // Samples of frames already taken (for backfill), oldest first; kept_head is the first
    // live one, so trimming costs nothing until the vectors are compacted.
    std::vector<double> kept_t, kept_v;
    size_t kept_head = 0;
    bool removed = false;  // channel de-registered
};

// One segment's bytes: header, times, values (docs/stripchart.md, data frame).
std::shared_ptr<const std::string> encode_segment(uint32_t id, const double* t, const double* v, uint32_t n) {
    auto bytes = std::make_shared<std::string>(segment_header_bytes + 16 * size_t{n}, '\0');
    char* o = bytes->data();
    net::detail::put_le<uint32_t>(reinterpret_cast<uint8_t*>(o), id);
    net::detail::put_le<uint32_t>(reinterpret_cast<uint8_t*>(o + 4), n);
    // x86/ARM are little-endian; the docs promise little-endian float64.
    std::memcpy(o + 8, t, 8 * size_t{n});
    std::memcpy(o + 8 + 8 * size_t{n}, v, 8 * size_t{n});
    return bytes;
}

struct LossEvent {
    uint64_t id = 0;
    double time_ms = 0;
    uint64_t missing = 0;
};

struct ChannelState {
    const SchemaEntry* schema = nullptr;  // of the last record
    std::string last_record;              // bytes of the newest valid record
    int64_t last_time_ns = 0;
    uint64_t records = 0;
    bool seq_valid = false;
    uint64_t last_seq = 0;
    uint64_t lost = 0;
    uint64_t restarts = 0;
    std::deque<LossEvent> loss_events;
};

// Orders (fingerprint, channel) keys and finds them by (fingerprint, string_view): the
// per-datagram lookup uses the header's channel name in place, without building a string.
struct SchemaKeyLess {
    using is_transparent = void;
    using View = std::pair<uint64_t, std::string_view>;
    static View view(const std::pair<uint64_t, std::string>& k) { return {k.first, k.second}; }
    static View view(const View& v) { return v; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
        return view(a) < view(b);
    }
};

}  // namespace

struct Hub::Impl {
    HubOptions options;
    mutable std::mutex mu;
    // By (fingerprint, channel): channels may share a schema, each has its own signals.
    std::map<std::pair<uint64_t, std::string>, std::unique_ptr<SchemaEntry>, SchemaKeyLess> schemas;
    std::vector<SignalBuf> signals;                            // index = signal id
    std::map<std::string, uint32_t, std::less<>> signal_by_name;
    std::map<std::string, ChannelState, std::less<>> channels;
    std::map<uint64_t, uint64_t> unknown;  // fingerprint -> datagrams (at most 64 kept)
    HubCounters counters;
    uint32_t frame_seq = 0;
    uint64_t loss_event_id = 0;
    bool pending = false;
    bool legacy_on = false;
    std::unique_ptr<LegacyBatch> legacy = std::make_unique<LegacyBatch>();

    // This batch's index of a channel name (a copy of the name per batch, not per record).
    uint16_t legacy_channel(std::string_view name) {
        auto& names = legacy->channels;
        for (size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) return static_cast<uint16_t>(i);
        names.emplace_back(name);
        return static_cast<uint16_t>(names.size() - 1);
    }

    void legacy_record(const SchemaEntry& e, uint16_t channel, const uint8_t* p, size_t len) {
        LegacyBatch& b = *legacy;
        if (b.ends.size() >= options.max_legacy_records || b.text.size() > (64u << 20)) {
            // Nobody took them for a while: keep the newest.
            counters.legacy_dropped += b.ends.size();
            b.text.clear();
            b.ends.clear();
            b.channel.clear();
        }
        if (!append_legacy_record_json(e.schema, e.time.index, e.unit, p, p + len, b.text)) return;
        b.ends.push_back(static_cast<uint32_t>(b.text.size()));
        b.channel.push_back(channel);
        ++counters.legacy_records;
    }

    uint32_t signal_for(const std::string& channel, const std::string& field, avro::Type type) {
        std::string name = channel + "." + field;
        auto it = signal_by_name.find(name);
        if (it != signal_by_name.end()) {
            signals[it->second].info.type = std::string(avro::type_name(type));
            signals[it->second].removed = false;
            return it->second;
        }
        uint32_t id = static_cast<uint32_t>(signals.size());
        SignalBuf b;
        b.info = SignalInfo{id, name, channel, field, std::string(avro::type_name(type))};
        signals.push_back(std::move(b));
        signal_by_name.emplace(name, id);
        return id;
    }

    // Moves a frame's samples into the backfill store and forgets what is too old or too many.
    void keep(SignalBuf& b) const {
        b.kept_t.insert(b.kept_t.end(), b.t.begin(), b.t.end());
        b.kept_v.insert(b.kept_v.end(), b.v.begin(), b.v.end());
        const double newest = b.kept_t.back();
        size_t h = b.kept_head;
        const size_t n = b.kept_t.size();
        if (n - h > options.backfill_max_samples) h = n - options.backfill_max_samples;
        while (h < n && b.kept_t[h] < newest - options.backfill_ms) ++h;
        b.kept_head = h;
        // Compact once the dead part is the larger one (amortised O(1) per sample).
        if (h > 1024 && h * 2 > n) {
            b.kept_t.erase(b.kept_t.begin(), b.kept_t.begin() + static_cast<std::ptrdiff_t>(h));
            b.kept_v.erase(b.kept_v.begin(), b.kept_v.begin() + static_cast<std::ptrdiff_t>(h));
            b.kept_head = 0;
        }
    }

    void push_sample(uint32_t id, double t_ms, double v) {
        SignalBuf& b = signals[id];
        if (b.t.size() >= options.max_samples_per_signal_frame) {
            // Keep the newest: drop the older half at once (amortised O(1) per sample).
            size_t half = b.t.size() / 2;
            b.t.erase(b.t.begin(), b.t.begin() + static_cast<std::ptrdiff_t>(half));
            b.v.erase(b.v.begin(), b.v.begin() + static_cast<std::ptrdiff_t>(half));
            counters.samples_dropped += half;
        }
        b.t.push_back(t_ms);
        b.v.push_back(v);
        pending = true;
    }
};

Hub::Hub(HubOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = options; }
Hub::~Hub() = default;

Result<bool> Hub::add_channel(const std::string& channel, const avro::Schema& schema,
                              const std::string& time_field, const std::string& time_unit) {
    std::lock_guard lock(impl_->mu);
    auto r = add_locked(channel, schema, time_field, time_unit);
    if (r.ok() && *r) signals_version_.fetch_add(1);
    return r;
}

Result<bool> Hub::add_locked(const std::string& channel, const avro::Schema& schema,
                             const std::string& time_field, const std::string& time_unit) {
    if (schema.root().type != avro::Type::record)
        return Status::error(fmt::format("channel '{}': schema is not a record", channel));
    int ti = schema.field_index(time_field);
    if (ti < 0) return Status::error(fmt::format("channel '{}': schema has no time field '{}'", channel, time_field));
    auto tplan = plan_for(schema, ti);
    if (!tplan) return Status::error(fmt::format("channel '{}': time field '{}' is not a number", channel, time_field));
    auto key = std::make_pair(schema.fingerprint(), channel);
    if (impl_->schemas.count(key)) return false;

    auto e = std::make_unique<SchemaEntry>();
    e->channel = channel;
    e->schema = schema;
    e->validator = std::make_unique<avro::Validator>(e->schema);
    e->time = *tplan;
    e->time_unit_text = time_unit;
    const avro::Node& tnode = schema.node(schema.root().fields[ti].type);
    const avro::Node& tvalue = tplan->is_union ? schema.node(tnode.branches[tplan->value_branch]) : tnode;
    e->unit = time_unit_of(tvalue, time_unit == "auto" ? std::string_view{} : std::string_view(time_unit));
    for (int i = 0; i < static_cast<int>(schema.root().fields.size()); ++i) {
        if (i == ti) continue;
        auto p = plan_for(schema, i);
        if (!p) continue;
        p->signal_id = impl_->signal_for(channel, schema.root().fields[i].name, p->type);
        e->numeric.push_back(*p);
    }
    e->spans.resize(schema.root().fields.size());
    impl_->channels[channel];  // the channel shows up in the lists before its first datagram
    impl_->schemas[key] = std::move(e);
    return true;
}

bool Hub::knows(const std::string& channel, uint64_t fingerprint) const {
    std::lock_guard lock(impl_->mu);
    return impl_->schemas.count(SchemaKeyLess::View(fingerprint, channel)) > 0;
}

void Hub::ingest(const uint8_t* data, size_t size) {
    std::lock_guard lock(impl_->mu);
    Impl& m = *impl_;
    ++m.counters.datagrams;
    auto h = net::parse_mcast_header(data, size);
    if (!h) {
        ++m.counters.malformed;
        return;
    }
    auto it = m.schemas.find(SchemaKeyLess::View(h->fingerprint, h->channel));
    if (it == m.schemas.end()) {
        // A channel we were not told about, with a schema another channel uses: learn it.
        auto other = m.schemas.lower_bound(SchemaKeyLess::View(h->fingerprint, std::string_view()));
        if (other != m.schemas.end() && other->first.first == h->fingerprint &&
            config::check_channel_name(h->channel).ok()) {
            const SchemaEntry& o = *other->second;
            auto r = add_locked(std::string(h->channel), o.schema,
                                o.schema.root().fields[o.time.index].name, o.time_unit_text);
            if (r.ok() && *r) signals_version_.fetch_add(1);
            it = m.schemas.find(SchemaKeyLess::View(h->fingerprint, h->channel));
        }
    }
    if (it == m.schemas.end()) {
        ++m.counters.unknown_fingerprint;
        if (m.unknown.size() < 64 || m.unknown.count(h->fingerprint)) ++m.unknown[h->fingerprint];
        return;
    }
    SchemaEntry& e = *it->second;
    // The header's channel name wins: one schema may serve several channels.
    auto cit = m.channels.find(h->channel);
    if (cit == m.channels.end()) cit = m.channels.emplace(std::string(h->channel), ChannelState{}).first;
    ChannelState& ch = cit->second;

    const uint8_t* p = data + h->header_length;
    const uint8_t* end = data + size;
    const uint16_t legacy_channel = m.legacy_on ? m.legacy_channel(h->channel) : 0;
    const uint8_t* last_ok = nullptr;
    size_t last_len = 0;
    double first_time_ms = -1;
    bool bad = false;
    for (uint16_t r = 0; r < h->record_count; ++r) {
        auto vr = e.validator->validate(p, static_cast<size_t>(end - p), e.spans.data());
        if (!vr.ok()) {
            bad = true;
            break;
        }
        double tv = 0;
        int64_t ti = 0;
        const avro::FieldSpan& ts = e.spans[e.time.index];
        bool is_int = e.time.type == avro::Type::int_type || e.time.type == avro::Type::long_type;
        if (read_number(p + ts.offset, ts.length, e.time, tv, &ti)) {
            int64_t ns = is_int ? to_ns(ti, e.unit) : to_ns(tv, e.unit);
            // Split so the ms keep their sub-ms digits (a double of the ns would round to 256 ns).
            double t_ms = static_cast<double>(ns / 1'000'000) + static_cast<double>(ns % 1'000'000) / 1e6;
            if (first_time_ms < 0) first_time_ms = t_ms;
            ch.last_time_ns = ns;
            {
                for (const FieldPlan& f : e.numeric) {
                    double v = 0;
                    const avro::FieldSpan& s = e.spans[f.index];
                    if (read_number(p + s.offset, s.length, f, v)) {
                        m.push_sample(f.signal_id, t_ms, v);
                        ++m.counters.samples;
                    }
                }
            }
        }
        if (m.legacy_on) m.legacy_record(e, legacy_channel, p, vr.consumed);
        last_ok = p;
        last_len = vr.consumed;
        p += vr.consumed;
        ++m.counters.records;
        ++ch.records;
    }
    if (bad || p != end) ++m.counters.malformed;
    if (last_ok) {
        ch.last_record.assign(reinterpret_cast<const char*>(last_ok), last_len);
        ch.schema = &e;
    }
    // Sequence gaps: loss. A sequence at or below the last one means the relay restarted.
    if (ch.seq_valid && h->sequence > ch.last_seq + 1) {
        uint64_t missing = h->sequence - ch.last_seq - 1;
        ch.lost += missing;
        m.counters.lost_datagrams += missing;
        double t = first_time_ms >= 0 ? first_time_ms : static_cast<double>(now_ns()) / 1e6;
        ch.loss_events.push_back(LossEvent{++m.loss_event_id, t, missing});
        while (ch.loss_events.size() > m.options.loss_events_kept) ch.loss_events.pop_front();
    } else if (ch.seq_valid && h->sequence <= ch.last_seq) {
        ++ch.restarts;
    }
    ch.seq_valid = true;
    ch.last_seq = h->sequence;
}

std::shared_ptr<const Frame> Hub::take_frame() {
    std::lock_guard lock(impl_->mu);
    Impl& m = *impl_;
    if (!m.pending) return nullptr;
    auto f = std::make_shared<Frame>();
    f->sequence = ++m.frame_seq;
    for (SignalBuf& b : m.signals) {
        if (b.t.empty()) continue;
        uint32_t n = static_cast<uint32_t>(b.t.size());
        f->segments.push_back(Segment{b.info.id, encode_segment(b.info.id, b.t.data(), b.v.data(), n)});
        m.keep(b);
        b.t.clear();
        b.v.clear();
    }
    m.pending = false;
    return f;
}

void Hub::set_legacy(bool on) {
    std::lock_guard lock(impl_->mu);
    impl_->legacy_on = on;
}

std::shared_ptr<const LegacyBatch> Hub::take_legacy() {
    std::unique_ptr<LegacyBatch> b;
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->legacy->ends.empty()) {
            impl_->legacy->channels.clear();
            return nullptr;
        }
        b = std::move(impl_->legacy);
        impl_->legacy = std::make_unique<LegacyBatch>();
        // The next batch starts with room for as much as this one held.
        impl_->legacy->text.reserve(b->text.size());
        impl_->legacy->ends.reserve(b->ends.size());
        impl_->legacy->channel.reserve(b->ends.size());
    }
    return std::shared_ptr<const LegacyBatch>(std::move(b));
}

std::shared_ptr<const Frame> Hub::backfill_frame(const std::vector<uint32_t>& signal_ids) const {
    std::lock_guard lock(impl_->mu);
    auto f = std::make_shared<Frame>();
    f->sequence = 0;
    std::vector<uint32_t> ids = signal_ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (uint32_t id : ids) {
        if (id >= impl_->signals.size()) continue;
        const SignalBuf& b = impl_->signals[id];
        if (b.removed || b.kept_head >= b.kept_t.size()) continue;
        auto n = static_cast<uint32_t>(b.kept_t.size() - b.kept_head);
        f->segments.push_back(Segment{id, encode_segment(id, b.kept_t.data() + b.kept_head, b.kept_v.data() + b.kept_head, n)});
    }
    if (f->segments.empty()) return nullptr;
    return f;
}

bool Hub::remove_channel(const std::string& channel) {
    std::lock_guard lock(impl_->mu);
    Impl& m = *impl_;
    bool found = m.channels.erase(channel) > 0;
    for (auto it = m.schemas.begin(); it != m.schemas.end();) {
        if (it->first.second == channel) {
            it = m.schemas.erase(it);
            found = true;
        } else {
            ++it;
        }
    }
    for (SignalBuf& b : m.signals) {
        if (b.info.channel != channel || b.removed) continue;
        b.removed = true;
        b.t.clear();
        b.v.clear();
        b.kept_t.clear();
        b.kept_v.clear();
        b.kept_head = 0;
    }
    if (found) signals_version_.fetch_add(1);
    return found;
}

std::vector<SignalInfo> Hub::signals() const {
    std::lock_guard lock(impl_->mu);
    std::vector<SignalInfo> out;
    out.reserve(impl_->signals.size());
    for (const SignalBuf& b : impl_->signals)
        if (!b.removed) out.push_back(b.info);
    return out;
}

nlohmann::json Hub::signals_json() const {
    std::lock_guard lock(impl_->mu);
    nlohmann::json sig = nlohmann::json::array();
    for (const SignalBuf& b : impl_->signals)
        if (!b.removed) sig.push_back({{"id", b.info.id}, {"name", b.info.name}, {"channel", b.info.channel},
                       {"field", b.info.field}, {"type", b.info.type}});
    nlohmann::json chans = nlohmann::json::object();
    for (const auto& [key, e] : impl_->schemas) {
        uint64_t fp = key.first;
        nlohmann::json fields = nlohmann::json::array();
        const avro::Schema& s = e->schema;
        for (size_t i = 0; i < s.root().fields.size(); ++i) {
            const avro::Field& f = s.root().fields[i];
            bool numeric = false;
            for (const FieldPlan& p : e->numeric) numeric |= p.index == static_cast<int>(i);
            const avro::Node& n = s.node(f.type);
            fields.push_back({{"name", f.name},
                              {"type", n.type == avro::Type::record || n.type == avro::Type::enum_type ||
                                               n.type == avro::Type::fixed
                                           ? n.full_name
                                           : std::string(avro::type_name(n.type))},
                              {"numeric", numeric},
                              {"time", static_cast<int>(i) == e->time.index},
                              {"doc", f.doc}});
        }
        chans[e->channel] = {{"fingerprint", fmt::format("{:016x}", fp)},
                             {"time_field", s.root().fields[e->time.index].name},
                             {"fields", std::move(fields)}};
    }
    return {{"type", "signals"}, {"signals", std::move(sig)}, {"channels", std::move(chans)}};
}

nlohmann::json Hub::status_json() const {
    std::lock_guard lock(impl_->mu);
    nlohmann::json chans = nlohmann::json::object();
    for (const auto& [name, ch] : impl_->channels) {
        nlohmann::json c = {{"records", ch.records}, {"lost", ch.lost}, {"restarts", ch.restarts}};
        if (ch.schema && !ch.last_record.empty()) {
            const uint8_t* p = reinterpret_cast<const uint8_t*>(ch.last_record.data());
            auto v = avro::decode(ch.schema->schema, p, p + ch.last_record.size());
            if (v) c["values"] = avro::to_json(ch.schema->schema, *v);
            c["time_ns"] = ch.last_time_ns;
            c["time"] = format_iso8601(ch.last_time_ns);
            c["time_field"] = ch.schema->schema.root().fields[ch.schema->time.index].name;
        }
        nlohmann::json ev = nlohmann::json::array();
        for (const LossEvent& e : ch.loss_events)
            ev.push_back({{"id", e.id}, {"time_ms", e.time_ms}, {"missing", e.missing}});
        c["loss_events"] = std::move(ev);
        chans[name] = std::move(c);
    }
    const HubCounters& k = impl_->counters;
    nlohmann::json unknown = nlohmann::json::object();
    for (const auto& [fp, n] : impl_->unknown) unknown[fmt::format("{:016x}", fp)] = n;
    return {{"type", "status"},
            {"channels", std::move(chans)},
            {"counters",
             {{"datagrams", k.datagrams}, {"records", k.records}, {"samples", k.samples},
              {"malformed", k.malformed}, {"unknown_fingerprint", k.unknown_fingerprint},
              {"lost_datagrams", k.lost_datagrams}, {"samples_dropped", k.samples_dropped},
              {"legacy_records", k.legacy_records}, {"legacy_dropped", k.legacy_dropped}}},
            {"unknown_fingerprints", std::move(unknown)}};
}

HubCounters Hub::counters() const {
    std::lock_guard lock(impl_->mu);
    return impl_->counters;
}

std::optional<uint32_t> Hub::signal_id(std::string_view name) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->signal_by_name.find(name);
    if (it == impl_->signal_by_name.end()) return std::nullopt;
    return it->second;
}

}  // namespace speeddata::stripchart
