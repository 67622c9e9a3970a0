/* A minimal accord policy written in C against docs/plugin-abi.md, with no Rust and no protobuf
 * library: it adopts every proposal. The SDK's test `c_plugin.rs` compiles and loads it, which
 * checks that the ABI document is enough to write a plugin in another language. */
#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *context;
    void (*write)(void *context, const uint8_t *data, size_t len);
} AccordOutputSink;

typedef struct {
    uint32_t abi_version;
    uint32_t table_size;
    uint32_t panic_unwinds;
    uint32_t reserved;
    int32_t (*descriptor)(const AccordOutputSink *sink);
    int32_t (*decide)(const uint8_t *request, size_t request_len, const AccordOutputSink *sink);
} AccordPolicyTable;

/* accord.v1.PolicyDescriptor { id: "c-minimal", version: "1.0.0", summary: "Adopts everything." } */
static const uint8_t DESCRIPTOR[] = {
    0x0a, 9, 'c', '-', 'm', 'i', 'n', 'i', 'm', 'a', 'l',
    0x12, 5, '1', '.', '0', '.', '0',
    0x1a, 18, 'A', 'd', 'o', 'p', 't', 's', ' ', 'e', 'v', 'e', 'r', 'y', 't', 'h', 'i', 'n', 'g', '.',
};

/* accord.v1.DecisionResponse { decision: { outcome: OUTCOME_ADOPTED, settled: true,
 *   support_share: 1.0, explanation: ["written in C"] } } */
static const uint8_t RESPONSE[] = {
    0x0a, 27,
    0x08, 0x01,                                           /* outcome = 1 */
    0x10, 0x01,                                           /* settled = true */
    0x19, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,                   /* support_share = 1.0 */
    0x3a, 12, 'w', 'r', 'i', 't', 't', 'e', 'n', ' ', 'i', 'n', ' ', 'C',
};

static int32_t descriptor(const AccordOutputSink *sink) {
    sink->write(sink->context, DESCRIPTOR, sizeof DESCRIPTOR);
    return 0;
}

static int32_t decide(const uint8_t *request, size_t request_len, const AccordOutputSink *sink) {
    /* A DecisionRequest starts with field 1 (proposal, length-delimited): tag byte 0x0a. */
    if (request_len == 0 || request[0] != 0x0a) {
        static const char message[] = "not an accord.v1.DecisionRequest";
        sink->write(sink->context, (const uint8_t *)message, sizeof message - 1);
        return 1;
    }
    sink->write(sink->context, RESPONSE, sizeof RESPONSE);
    return 0;
}

static const AccordPolicyTable TABLE = {1, sizeof(AccordPolicyTable), 1, 0, descriptor, decide};

const AccordPolicyTable *accord_policy_entry(void) { return &TABLE; }
