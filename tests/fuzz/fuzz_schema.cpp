// Fuzz target: Avro schema parsing (src/core/avro/schema.hpp). The input is schema JSON text.
// Properties, for every input that parses:
//   * the fingerprint is CRC-64-AVRO of the canonical form;
//   * the canonical form parses again, to the same canonical form and fingerprint;
//   * parsing without default validation (how the container reader parses foreign files)
//     accepts it too, with the same canonical form;
//   * the schema compiles into a Validator, and validating the input bytes as a datum agrees
//     with decode() on accept/reject and length (arbitrary schema x arbitrary data).
// Inputs that do not parse must fail with a message, never a crash.
#include <vector>

#include "core/avro/codec.hpp"
#include "core/avro/schema.hpp"
#include "fuzz_check.hpp"

using namespace speeddata::avro;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text = fuzz::text_of(data, size);
    auto schema = Schema::parse(text);
    if (!schema) {
        FUZZ_CHECK(!schema.message().empty());
        return 0;
    }
    const std::string& canonical = schema->canonical_form();
    FUZZ_CHECK(schema->fingerprint() == crc64_avro(canonical));
    FUZZ_CHECK(schema->json_text() == text);

    auto again = Schema::parse(canonical);
    FUZZ_CHECK(again.ok(), "canonical form " + canonical + " does not parse: " + again.message());
    FUZZ_CHECK(again->canonical_form() == canonical, canonical + " re-parses to " + again->canonical_form());
    FUZZ_CHECK(again->fingerprint() == schema->fingerprint());

    ParseOptions lenient;
    lenient.validate_defaults = false;
    auto loose = Schema::parse(text, lenient);
    FUZZ_CHECK(loose.ok(), loose.message());
    FUZZ_CHECK(loose->canonical_form() == canonical);

    const Validator validator(*schema);
    std::vector<FieldSpan> spans(validator.field_count());
    const ValidateResult vr = validator.validate(data, size, spans.data());
    const uint8_t* p = data;
    auto decoded = decode(*schema, p, data + size);
    FUZZ_CHECK(vr.ok() == decoded.ok(), std::string("validate: ") + std::string(decode_error_name(vr.error)) +
                                            ", decode: " + (decoded.ok() ? "ok" : decoded.message()));
    if (vr.ok()) FUZZ_CHECK(static_cast<size_t>(p - data) == vr.consumed);
    return 0;
}
