// The relay's hot path: a schema compiled into a flat op program, interpreted without
// allocation, virtual calls or std::function. Also the varint/float helpers.
//
// Program layout. A "sequence" is a run of ops ending in END. Records are inlined into the
// sequence of their parent (a record of primitives becomes a straight run of ops, and
// neighbouring fixed-width values merge into one SKIP). A record referenced from several
// places or from itself (recursion) is compiled once as its own sequence and entered with
// CALL. Array/map bodies and union branches are sequences of their own.
#include "core/avro/codec.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace speeddata::avro {

std::string_view decode_error_name(DecodeError e) {
    switch (e) {
        case DecodeError::none: return "none";
        case DecodeError::truncated: return "truncated";
        case DecodeError::bad_varint: return "bad varint";
        case DecodeError::negative_length: return "negative length";
        case DecodeError::bad_union_index: return "bad union index";
        case DecodeError::bad_enum_index: return "bad enum index";
        case DecodeError::bad_boolean: return "bad boolean";
        case DecodeError::too_deep: return "too deep";
        case DecodeError::too_large: return "too large";
        case DecodeError::bad_utf8: return "bad utf8";
    }
    return "unknown";
}

// ---- varint / float helpers -------------------------------------------------------------

size_t write_long(int64_t v, uint8_t* out) noexcept {
    uint64_t n = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
    size_t i = 0;
    while (n >= 0x80) {
        out[i++] = static_cast<uint8_t>(n | 0x80);
        n >>= 7;
    }
    out[i++] = static_cast<uint8_t>(n);
    return i;
}

void append_long(std::string& out, int64_t v) {
    uint8_t buf[10];
    size_t n = write_long(v, buf);
    out.append(reinterpret_cast<const char*>(buf), n);
}

void append_float(std::string& out, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(bits >> (8 * i));
    out.append(b, 4);
}

void append_double(std::string& out, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(bits >> (8 * i));
    out.append(b, 8);
}

namespace {

// True when the 64 bytes at p are all ASCII (no byte with its top bit set). SSE2 is part of
// x86-64 and NEON of AArch64, so neither needs a CPU check; other targets use 64-bit words.
inline bool ascii64(const uint8_t* p) noexcept {
#if defined(__SSE2__)
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 48));
    return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) == 0;
#elif defined(__ARM_NEON)
    const uint8x16_t v = vorrq_u8(vorrq_u8(vld1q_u8(p), vld1q_u8(p + 16)), vorrq_u8(vld1q_u8(p + 32), vld1q_u8(p + 48)));
    return vmaxvq_u8(v) < 0x80;
#else
    uint64_t w[8];
    std::memcpy(w, p, 64);
    return ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) & 0x8080808080808080ULL) == 0;
#endif
}

}  // namespace

bool is_valid_utf8(const uint8_t* p, size_t n) noexcept {
    size_t i = 0;
    while (i < n) {
        // ASCII fast path while the text is plain ASCII (the common case; the relay checks
        // every string of every datagram): 64 bytes per test, then 8 at a time.
        while (i + 64 <= n && ascii64(p + i)) i += 64;
        if (i == n) break;
        if (i + 8 <= n) {
            uint64_t w;
            std::memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        const uint8_t c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;       // overlong
            if (c == 0xED) hi = 0x9F;       // UTF-16 surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;       // overlong
            if (c == 0xF4) hi = 0x8F;       // past U+10FFFF
        } else {
            return false;
        }
        if (n - i < len) return false;
        if (p[i + 1] < lo || p[i + 1] > hi) return false;
        for (size_t k = 2; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
        }
        i += len;
    }
    return true;
}

// ---- the compiled program ----------------------------------------------------------------

namespace {

enum class Op : uint8_t {
    end,       // end of a sequence
    skip,      // a = fixed number of bytes (float, double, fixed, merged runs of them)
    boolean,
    int32,     // int, and the int-encoded logical types
    int64,
    bytes,
    string,    // bytes plus a UTF-8 check
    enumeration,  // a = symbol count
    array,     // a = body sequence, b = minimum encoded size of one item
    array_fixed,  // a = item width (items are fixed-width; skipped without a loop), b = the
                  // item type's height (levels below the item, for the depth limit)
    map,       // a = value sequence, b = minimum encoded size of one entry
    union_,    // a = first slot in union_table, b = branch count
    call,      // a = record id before linking, sequence start after
    mark,      // a = top-level field index; only for a field that encodes as no bytes
};

struct Instr {
    Op op = Op::end;
    // Nesting level of this op's node below the node its sequence runs (0 for that node), as
    // decode() counts levels: one per record field, union branch, array item, map value.
    // Sits in the padding after op; saturates (a sequence nested that deep is too deep).
    uint16_t level = 0;
    uint32_t a = 0;
    uint32_t b = 0;
    // In the spans program: 1 + the index of the top-level field this op starts, else 0.
    // Carried by the op itself (rather than an op of its own) so spans cost one test per op.
    uint32_t mark = 0;
};

struct Ctx {
    const uint8_t* begin;
    const uint8_t* end;
    FieldSpan* spans;
    DecodeError error;
    const uint8_t* error_at;
};

struct Program {
    std::vector<Instr> program;
    std::vector<uint32_t> union_table;  // sequence starts of union branches
    // At each sequence start: the deepest level of any node in the sequence (nodes that
    // emit no op, such as null, included). A sequence run at depth d reaches d + height.
    std::vector<uint16_t> height;
    uint32_t top_plain = 0;             // entry without field marks
    uint32_t top_marked = 0;            // entry with a mark before each top-level field
    size_t field_count = 0;
    int max_depth = 64;
    bool check_utf8 = true;

    template <bool marks>
    const uint8_t* run(uint32_t pc, const uint8_t* p, Ctx& c, int depth) const noexcept;
};

// Records the first error and where it was found; returns nullptr for the caller to pass up.
inline const uint8_t* fail(Ctx& c, DecodeError e, const uint8_t* at) noexcept {
    c.error = e;
    c.error_at = at;
    return nullptr;
}

// Reads a zigzag varint of at most max_bytes bytes into out (sign-decoded). On failure sets
// the error and returns nullptr. last_max bounds the final byte so the value fits the type.
template <int max_bytes, uint8_t last_max>
inline const uint8_t* read_varint(const uint8_t* p, Ctx& c, int64_t& out) noexcept {
    uint64_t v = 0;
    if (c.end - p >= max_bytes) {
        // Enough bytes left for the longest encoding: no end-of-buffer test per byte.
        for (int i = 0; i < max_bytes; ++i) {
            const uint8_t b = p[i];
            if (i == max_bytes - 1 && b > last_max) return fail(c, DecodeError::bad_varint, p);
            v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
            if (!(b & 0x80)) {
                out = static_cast<int64_t>((v >> 1) ^ (0 - (v & 1)));
                return p + i + 1;
            }
        }
        return fail(c, DecodeError::bad_varint, p);
    }
    const uint8_t* start = p;
    for (int i = 0; i < max_bytes; ++i) {
        if (p == c.end) return fail(c, DecodeError::truncated, start);
        const uint8_t b = *p++;
        if (i == max_bytes - 1 && b > last_max) return fail(c, DecodeError::bad_varint, start);
        v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            out = static_cast<int64_t>((v >> 1) ^ (0 - (v & 1)));
            return p;
        }
    }
    return fail(c, DecodeError::bad_varint, start);  // unreachable: last byte < 0x80 checked
}

// An int varint (at most 5 bytes, fits 32 bits); nullptr with the error set on failure.
inline const uint8_t* read_int(const uint8_t* p, Ctx& c, int64_t& out) noexcept {
    // Single-byte fast path: most ints, lengths and indexes are small.
    if (p != c.end && !(*p & 0x80)) {
        const uint64_t v = *p;
        out = static_cast<int64_t>((v >> 1) ^ (0 - (v & 1)));
        return p + 1;
    }
    return read_varint<5, 0x0f>(p, c, out);
}

// A long varint (at most 10 bytes, fits 64 bits); nullptr with the error set on failure.
inline const uint8_t* read_long_v(const uint8_t* p, Ctx& c, int64_t& out) noexcept {
    if (p != c.end && !(*p & 0x80)) {
        const uint64_t v = *p;
        out = static_cast<int64_t>((v >> 1) ^ (0 - (v & 1)));
        return p + 1;
    }
    return read_varint<10, 0x01>(p, c, out);
}

}  // namespace

// marks: this is the top-level sequence of the spans program (nested sequences never are).
template <bool marks>
const uint8_t* Program::run(uint32_t pc, const uint8_t* p, Ctx& c, int depth) const noexcept {
    // depth: the level of the node this sequence runs. Checked once for the whole sequence:
    // decode() visits every node of it (or fails first), so both reject the same datums.
    if (depth + height[pc] > max_depth) return fail(c, DecodeError::too_deep, p);
    const Instr* code = program.data();
    for (;;) {
        const Instr& in = code[pc++];
        if constexpr (marks) {
            if (in.mark) c.spans[in.mark - 1].offset = static_cast<uint32_t>(p - c.begin);
        }
        switch (in.op) {
            case Op::end:
                return p;
            case Op::skip:
                if (static_cast<uint64_t>(c.end - p) < in.a) return fail(c, DecodeError::truncated, p);
                p += in.a;
                break;
            case Op::boolean:
                if (p == c.end) return fail(c, DecodeError::truncated, p);
                if (*p > 1) return fail(c, DecodeError::bad_boolean, p);
                ++p;
                break;
            case Op::int32: {
                int64_t v;
                if (!(p = read_int(p, c, v))) return nullptr;
                break;
            }
            case Op::int64: {
                int64_t v;
                if (!(p = read_long_v(p, c, v))) return nullptr;
                break;
            }
            case Op::bytes:
            case Op::string: {
                const uint8_t* at = p;
                int64_t len;
                if (!(p = read_long_v(p, c, len))) return nullptr;
                if (len < 0) return fail(c, DecodeError::negative_length, at);
                if (static_cast<uint64_t>(len) > static_cast<uint64_t>(c.end - p)) {
                    return fail(c, DecodeError::truncated, at);
                }
                if (in.op == Op::string && check_utf8 && !is_valid_utf8(p, static_cast<size_t>(len))) {
                    return fail(c, DecodeError::bad_utf8, at);
                }
                p += len;
                break;
            }
            case Op::enumeration: {
                const uint8_t* at = p;
                int64_t v;
                if (!(p = read_int(p, c, v))) return nullptr;
                if (v < 0 || static_cast<uint64_t>(v) >= in.a) return fail(c, DecodeError::bad_enum_index, at);
                break;
            }
            case Op::union_: {
                const uint8_t* at = p;
                int64_t v;
                if (!(p = read_int(p, c, v))) return nullptr;
                if (v < 0 || static_cast<uint64_t>(v) >= in.b) return fail(c, DecodeError::bad_union_index, at);
                if (!(p = run<false>(union_table[in.a + static_cast<uint32_t>(v)], p, c, depth + in.level + 1)))
                    return nullptr;
                break;
            }
            case Op::call:
                if (!(p = run<false>(in.a, p, c, depth + in.level))) return nullptr;
                break;
            case Op::mark:
                c.spans[in.a].offset = static_cast<uint32_t>(p - c.begin);
                break;
            case Op::array:
            case Op::array_fixed:
            case Op::map: {
                // Blocks until a zero count. A negative count is followed by the block's
                // byte size, which must match its items exactly.
                for (;;) {
                    const uint8_t* at = p;
                    int64_t count;
                    if (!(p = read_long_v(p, c, count))) return nullptr;
                    if (count == 0) break;
                    const uint8_t* block_end = nullptr;
                    if (count < 0) {
                        if (count == INT64_MIN) return fail(c, DecodeError::too_large, at);
                        count = -count;
                        const uint8_t* size_at = p;
                        int64_t bsize;
                        if (!(p = read_long_v(p, c, bsize))) return nullptr;
                        if (bsize < 0) return fail(c, DecodeError::negative_length, size_at);
                        if (static_cast<uint64_t>(bsize) > static_cast<uint64_t>(c.end - p)) {
                            return fail(c, DecodeError::too_large, size_at);
                        }
                        block_end = p + bsize;
                    }
                    const uint64_t remaining = static_cast<uint64_t>((block_end ? block_end : c.end) - p);
                    const uint64_t n = static_cast<uint64_t>(count);
                    if (in.op == Op::array_fixed) {
                        // in.a is the item width. Zero-width items (null) still may not
                        // outnumber the bytes left: a reader would spin or allocate on them.
                        if (n > remaining / (in.a ? in.a : 1)) return fail(c, DecodeError::too_large, at);
                        if (depth + in.level + 1 + static_cast<int64_t>(in.b) > max_depth) {
                            return fail(c, DecodeError::too_deep, p);
                        }
                        p += n * in.a;
                    } else {
                        if (n > remaining / in.b) return fail(c, DecodeError::too_large, at);
                        {
                            for (uint64_t i = 0; i < n; ++i) {
                                if (in.op == Op::map) {
                                    const uint8_t* kat = p;
                                    int64_t len;
                                    if (!(p = read_long_v(p, c, len))) return nullptr;
                                    if (len < 0) return fail(c, DecodeError::negative_length, kat);
                                    if (static_cast<uint64_t>(len) > static_cast<uint64_t>(c.end - p)) {
                                        return fail(c, DecodeError::truncated, kat);
                                    }
                                    if (check_utf8 && !is_valid_utf8(p, static_cast<size_t>(len))) {
                                        return fail(c, DecodeError::bad_utf8, kat);
                                    }
                                    p += len;
                                }
                                if (!(p = run<false>(in.a, p, c, depth + in.level + 1))) return nullptr;
                            }
                        }
                    }
                    if (block_end && p != block_end) return fail(c, DecodeError::too_large, at);
                }
                break;
            }
        }
    }
}

// ---- compiler ----------------------------------------------------------------------------

namespace {

class Compiler {
public:
    Compiler(const Schema& s, Program& out) : s_(s), out_(out), refs_(s.nodes().size(), 0) {
        for (const Node& n : s.nodes()) {
            for (const Field& f : n.fields) ++refs_[f.type];
            if (n.items != no_node) ++refs_[n.items];
            if (n.values != no_node) ++refs_[n.values];
            for (NodeId b : n.branches) ++refs_[b];
        }
        if (s.root_id() != no_node) ++refs_[s.root_id()];
        min_size_.assign(s.nodes().size(), unknown);
    }

    void compile() {
        const NodeId root = s_.root_id();
        const Node& r = s_.node(root);
        out_.field_count = r.type == Type::record ? r.fields.size() : 0;
        // The top-level entries inline the root record's own fields even when the root also
        // needs a callable sequence (a recursive root): marks must run only at the top.
        out_.top_plain = top_sequence(root, false);
        out_.top_marked = out_.field_count ? top_sequence(root, true) : out_.top_plain;
        while (!pending_.empty()) {
            NodeId id = pending_.back();
            pending_.pop_back();
            std::vector<Instr> seq;
            uint16_t height = 0;
            for (const Field& f : s_.node(id).fields) emit(f.type, seq, 1, height);
            record_start_[id] = append(seq, height);
        }
        // Link: a call's a is a record id until every callable sequence exists.
        for (Instr& in : out_.program) {
            if (in.op == Op::call) in.a = record_start_.at(in.a);
        }
    }

private:
    static constexpr uint64_t unknown = UINT64_MAX;
    static constexpr uint64_t in_progress = UINT64_MAX - 1;

    uint32_t top_sequence(NodeId root, bool marks) {
        std::vector<Instr> seq;
        uint16_t height = 0;
        const Node& r = s_.node(root);
        if (r.type == Type::record) {
            for (size_t i = 0; i < r.fields.size(); ++i) {
                if (!marks) {
                    emit(r.fields[i].type, seq, 1, height);
                    continue;
                }
                // Each field on its own, so that skips do not merge across field boundaries.
                std::vector<Instr> field;
                emit(r.fields[i].type, field, 1, height);
                if (field.empty()) {
                    seq.push_back({.op = Op::mark, .a = static_cast<uint32_t>(i)});
                } else {
                    field.front().mark = static_cast<uint32_t>(i + 1);
                    seq.insert(seq.end(), field.begin(), field.end());
                }
            }
        } else {
            emit(root, seq, 0, height);
        }
        return append(seq, height);
    }

    uint32_t append(std::vector<Instr>& seq, uint16_t height) {
        seq.push_back({.op = Op::end});
        const auto start = static_cast<uint32_t>(out_.program.size());
        out_.program.insert(out_.program.end(), seq.begin(), seq.end());
        out_.height.resize(out_.program.size(), 0);
        out_.height[start] = height;
        return start;
    }

    // A sequence of its own for node id (a union branch, array item, map value): the node
    // at level 0.
    uint32_t sequence_for(NodeId id) {
        std::vector<Instr> seq;
        uint16_t height = 0;
        emit(id, seq, 0, height);
        return append(seq, height);
    }

    static uint16_t level16(int level) { return static_cast<uint16_t>(std::min(level, int{UINT16_MAX})); }

    // A lower bound stays a lower bound when clamped.
    static uint32_t clamp32(uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); }

    static void emit_skip(std::vector<Instr>& seq, uint64_t n) {
        if (n == 0) return;
        if (!seq.empty() && seq.back().op == Op::skip && seq.back().a + n <= UINT32_MAX) {
            seq.back().a += static_cast<uint32_t>(n);  // fixed sizes are < 2^32 (schema check)
            return;
        }
        seq.push_back({.op = Op::skip, .a = static_cast<uint32_t>(n)});
    }

    // Levels below a fixed-width type's node (decode() visits them for each array item).
    int64_t fixed_height(NodeId id, int depth = 0) const {
        const Node& n = s_.node(id);
        if (n.type != Type::record || depth > 64) return 0;
        int64_t h = 0;
        for (const Field& f : n.fields) h = std::max(h, 1 + fixed_height(f.type, depth + 1));
        return h;
    }

    // Bytes of the item when every datum of the type has the same encoded size; -1 otherwise.
    int64_t fixed_width(NodeId id, int depth = 0) const {
        if (depth > 64) return -1;
        const Node& n = s_.node(id);
        switch (n.type) {
            case Type::null_type: return 0;
            case Type::float_type: return 4;
            case Type::double_type: return 8;
            case Type::fixed: return static_cast<int64_t>(n.fixed_size);
            case Type::record: {
                int64_t total = 0;
                for (const Field& f : n.fields) {
                    int64_t w = fixed_width(f.type, depth + 1);
                    if (w < 0) return -1;
                    total += w;
                    if (total > UINT32_MAX) return -1;
                }
                return total;
            }
            default: return -1;
        }
    }

    // A lower bound on the encoded size of the type, used to reject impossible counts
    // before looping. A type whose bound is 0 always encodes as zero bytes.
    uint64_t min_size(NodeId id) {
        uint64_t& m = min_size_[id];
        if (m == in_progress) return 0;  // recursion: 0 is still a valid lower bound
        if (m != unknown) return m;
        m = in_progress;
        const Node& n = s_.node(id);
        uint64_t r = 0;
        switch (n.type) {
            case Type::null_type: r = 0; break;
            case Type::float_type: r = 4; break;
            case Type::double_type: r = 8; break;
            case Type::fixed: r = n.fixed_size; break;
            case Type::record:
                for (const Field& f : n.fields) r += min_size(f.type);
                break;
            default: r = 1; break;  // every other encoding starts with at least one byte
        }
        min_size_[id] = r;
        return r;
    }

    // Appends the ops of node id, at level below the node the sequence runs; height grows to
    // the deepest level reached.
    void emit(NodeId id, std::vector<Instr>& seq, int level, uint16_t& height) {
        const Node& n = s_.node(id);
        const uint16_t lv = level16(level);
        height = std::max(height, lv);
        const auto push = [&](Instr in) {
            in.level = lv;
            seq.push_back(in);
        };
        switch (n.type) {
            case Type::null_type: return;
            case Type::boolean: push({.op = Op::boolean}); return;
            case Type::int_type: push({.op = Op::int32}); return;
            case Type::long_type: push({.op = Op::int64}); return;
            case Type::float_type: emit_skip(seq, 4); return;
            case Type::double_type: emit_skip(seq, 8); return;
            case Type::fixed: emit_skip(seq, n.fixed_size); return;
            case Type::bytes: push({.op = Op::bytes}); return;
            case Type::string: push({.op = Op::string}); return;
            case Type::enum_type:
                push({.op = Op::enumeration, .a = static_cast<uint32_t>(n.symbols.size())});
                return;
            case Type::record:
                if (refs_[id] >= 2) {
                    // Shared or recursive: one callable sequence (compiled later).
                    if (!record_start_.count(id)) {
                        record_start_[id] = 0;
                        pending_.push_back(id);
                    }
                    push({.op = Op::call, .a = id});
                } else {
                    for (const Field& f : n.fields) emit(f.type, seq, level + 1, height);
                }
                return;
            case Type::array: {
                const int64_t w = fixed_width(n.items);
                if (w >= 0) {
                    push({.op = Op::array_fixed, .a = static_cast<uint32_t>(w),
                          .b = static_cast<uint32_t>(fixed_height(n.items))});
                } else {
                    // At least 1, as for zero-width items (see array_fixed).
                    const uint64_t m = std::max<uint64_t>(1, min_size(n.items));
                    const uint32_t body = sequence_for(n.items);
                    push({.op = Op::array, .a = body, .b = clamp32(m)});
                }
                return;
            }
            case Type::map: {
                const uint64_t m = 1 + min_size(n.values);  // the key's length byte
                const uint32_t body = sequence_for(n.values);
                push({.op = Op::map, .a = body, .b = clamp32(m)});
                return;
            }
            case Type::union_type: {
                std::vector<uint32_t> starts;
                for (NodeId b : n.branches) starts.push_back(sequence_for(b));
                const auto slot = static_cast<uint32_t>(out_.union_table.size());
                out_.union_table.insert(out_.union_table.end(), starts.begin(), starts.end());
                push({.op = Op::union_, .a = slot, .b = static_cast<uint32_t>(n.branches.size())});
                return;
            }
        }
    }

    const Schema& s_;
    Program& out_;
    std::vector<uint32_t> refs_;
    std::vector<uint64_t> min_size_;
    std::unordered_map<uint32_t, uint32_t> record_start_;
    std::vector<NodeId> pending_;
};

}  // namespace

struct Validator::Impl : Program {};

Validator::Validator(const Schema& schema) : Validator(schema, ValidatorOptions{}) {}

Validator::Validator(const Schema& schema, const ValidatorOptions& options) : impl_(std::make_unique<Impl>()) {
    impl_->max_depth = options.max_depth;
    impl_->check_utf8 = options.check_utf8;
    if (schema.root_id() == no_node) {
        impl_->program.push_back({.op = Op::end});
        impl_->height.push_back(0);
        return;
    }
    Compiler(schema, *impl_).compile();
}

Validator::~Validator() = default;
Validator::Validator(Validator&&) noexcept = default;
Validator& Validator::operator=(Validator&&) noexcept = default;

ValidateResult Validator::validate(const uint8_t* data, size_t size, FieldSpan* spans) const noexcept {
    ValidateResult r;
    Ctx c{data, data + size, spans, DecodeError::none, nullptr};
    const bool marks = spans != nullptr && impl_->field_count != 0;
    const uint8_t* end = marks ? impl_->run<true>(impl_->top_marked, data, c, 0)
                               : impl_->run<false>(impl_->top_plain, data, c, 0);
    if (!end) {
        r.error = c.error;
        r.error_offset = static_cast<size_t>(c.error_at - data);
        return r;
    }
    r.consumed = static_cast<size_t>(end - data);
    if (marks) {
        const size_t n = impl_->field_count;
        for (size_t i = 0; i + 1 < n; ++i) spans[i].length = spans[i + 1].offset - spans[i].offset;
        spans[n - 1].length = static_cast<uint32_t>(r.consumed) - spans[n - 1].offset;
    }
    return r;
}

size_t Validator::field_count() const { return impl_->field_count; }

}  // namespace speeddata::avro
