// Fuzz target: the datum validator (src/core/avro/validator.cpp), differential against
// decode (value.cpp). The first input byte picks one of a few fixed schemas (the shipped
// agents, the pivot's all-types schema and the codec tests' schema with every Avro type,
// unions, arrays, maps, enums, fixed, nested and recursive records, strings); the rest is a
// datagram: datums back to back, as a source sends them.
// Properties, datum by datum until the datagram ends or a datum is rejected:
//   * validate() and decode() agree on accept/reject, and on the datum's length;
//   * validate() with and without field spans give the same result (a truncation's offset
//     aside, see below);
//   * the top-level field spans of an accepted record tile the datum exactly;
//   * the decoded value re-encodes; those bytes validate, are no longer than the datum
//     (shortest varints, one block per array/map), and decoding and encoding them again
//     gives the same bytes.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/avro/schema.hpp"
#include "fuzz_check.hpp"

using namespace speeddata::avro;

namespace {

struct Fixed {
    Schema schema;
    Validator validator;
};

const std::vector<std::unique_ptr<Fixed>>& schemas() {
    static const auto all = [] {
        std::vector<std::unique_ptr<Fixed>> out;
        for (const char* rel : {"config/agents/example.avsc", "config/agents/temperature.avsc",
                                "tests/data/pivot_all_types.avsc", "tests/data/avro/rich.avsc"}) {
            auto s = Schema::load(fuzz::source_path(rel));
            FUZZ_CHECK(s.ok(), s.message());
            Validator v(*s);
            out.push_back(std::make_unique<Fixed>(Fixed{std::move(*s), std::move(v)}));
        }
        return out;
    }();
    return all;
}

// An exactly sized heap copy, so that a read past the end is an ASan report.
std::unique_ptr<uint8_t[]> exact_copy(const std::string& s) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[s.size()]);
    std::copy(s.begin(), s.end(), buf.get());
    return buf;
}

void check_datum(const Fixed& f, const uint8_t*& p, const uint8_t* end, bool& more) {
    std::vector<FieldSpan> spans(f.validator.field_count());
    const ValidateResult vr = f.validator.validate(p, static_cast<size_t>(end - p), spans.data());
    // Without spans the validator runs a program of its own (no field marks): same verdict.
    // Only the offset of a truncation may differ: that program checks a run of fixed-size
    // fields (float, double, fixed) across top-level fields at once and reports the run's
    // start (docs/avro.md).
    const ValidateResult plain = f.validator.validate(p, static_cast<size_t>(end - p));
    const auto describe = [](const ValidateResult& r) {
        return r.ok() ? "ok, " + std::to_string(r.consumed) + " bytes"
                      : std::string(decode_error_name(r.error)) + " at " + std::to_string(r.error_offset);
    };
    const bool same_offset = plain.error_offset == vr.error_offset ||
                             (vr.error == DecodeError::truncated && plain.error_offset < vr.error_offset);
    FUZZ_CHECK(plain.error == vr.error && plain.consumed == vr.consumed && same_offset,
               "with spans: " + describe(vr) + "; without: " + describe(plain));
    const uint8_t* q = p;
    auto decoded = decode(f.schema, q, end);
    FUZZ_CHECK(vr.ok() == decoded.ok(), std::string("validate: ") + std::string(decode_error_name(vr.error)) +
                                            ", decode: " + (decoded.ok() ? "ok" : decoded.message()));
    if (!vr.ok()) {
        more = false;
        return;
    }
    FUZZ_CHECK(static_cast<size_t>(q - p) == vr.consumed,
               "validate consumed " + std::to_string(vr.consumed) + ", decode " + std::to_string(q - p));
    uint32_t at = 0;
    for (const FieldSpan& s : spans) {
        FUZZ_CHECK(s.offset == at);
        at += s.length;
    }
    FUZZ_CHECK(spans.empty() || at == vr.consumed);

    std::string encoded;
    const speeddata::Status st = encode(f.schema, *decoded, encoded);
    FUZZ_CHECK(st.ok(), st.message());
    FUZZ_CHECK(encoded.size() <= vr.consumed,
               std::to_string(vr.consumed) + " bytes re-encode to " + std::to_string(encoded.size()));
    const auto copy = exact_copy(encoded);
    const ValidateResult again = f.validator.validate(copy.get(), encoded.size());
    FUZZ_CHECK(again.ok() && again.consumed == encoded.size(),
               std::string("re-encoded datum: ") + std::string(decode_error_name(again.error)));
    const uint8_t* r = copy.get();
    auto redecoded = decode(f.schema, r, copy.get() + encoded.size());
    FUZZ_CHECK(redecoded.ok(), redecoded.message());
    std::string reencoded;
    FUZZ_CHECK(encode(f.schema, *redecoded, reencoded).ok());
    FUZZ_CHECK(reencoded == encoded);

    more = vr.consumed > 0;  // a zero-size datum: the rest of the datagram is more of the same
    p += vr.consumed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const auto& all = schemas();
    const Fixed& f = *all[data[0] % all.size()];
    const uint8_t* p = data + 1;
    const uint8_t* end = data + size;
    bool more = true;
    while (more && p < end) check_datum(f, p, end, more);
    return 0;
}
