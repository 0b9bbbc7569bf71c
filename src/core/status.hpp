// Status and Result<T>: how the core library reports failure without exceptions.
// A boundary (CLI, HTTP handler) turns a failed Status into a message and an exit code or
// HTTP status; inside the library, functions return these and never throw on bad input.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace speeddata {

// What kind of failure a Status is, so that a boundary picks its answer from the code and
// never by searching the message. One mapping each: HTTP statuses in http::http_status_of
// (src/http/server.cpp), exit codes in cli::exit_code_of (src/cli/main.cpp).
enum class StatusCode : uint8_t {
    ok = 0,
    unknown,           // not classified (HTTP 500, exit 1)
    invalid_argument,  // the caller's input is wrong: a parameter, a field, a file's content (400, 2)
    not_found,         // a named thing does not exist: channel, tag, file (404, 4)
    no_data,           // the request is valid but selects nothing (404, 3)
    conflict,          // the request clashes with the current state: name or port taken (409, 1)
    too_large,         // over a configured limit (413, 2)
    unavailable,       // temporarily unable: busy, queue full, shutting down (503, 1)
    io,                // the system failed: disk, database, socket (500, 1)
};

// "invalid argument", "not found", ...
const char* status_code_name(StatusCode code);

// A success or a human-readable error message with its code. The message should name what
// failed and why, e.g. "open /data/example/x.avro: Permission denied".
class [[nodiscard]] Status {
public:
    Status() = default;
    static Status error(std::string message) { return Status(StatusCode::unknown, std::move(message)); }
    static Status error(StatusCode code, std::string message) { return Status(code, std::move(message)); }
    static Status invalid(std::string message) { return Status(StatusCode::invalid_argument, std::move(message)); }
    static Status not_found(std::string message) { return Status(StatusCode::not_found, std::move(message)); }
    static Status no_data(std::string message) { return Status(StatusCode::no_data, std::move(message)); }
    static Status conflict(std::string message) { return Status(StatusCode::conflict, std::move(message)); }
    static Status too_large(std::string message) { return Status(StatusCode::too_large, std::move(message)); }
    static Status unavailable(std::string message) { return Status(StatusCode::unavailable, std::move(message)); }
    static Status io_error(std::string message) { return Status(StatusCode::io, std::move(message)); }
    bool ok() const { return code_ == StatusCode::ok; }
    explicit operator bool() const { return ok(); }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // Prefix the message with context: "relay.yaml: " + "channels.x.port: expected integer".
    Status with_context(const std::string& context) const {
        return ok() ? *this : Status(code_, context + ": " + message_);
    }
    // The same message with another code (an error only; ok stays ok).
    Status with_code(StatusCode code) const { return ok() ? *this : Status(code, message_); }

private:
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
        if (code_ == StatusCode::ok) code_ = StatusCode::unknown;
    }
    StatusCode code_ = StatusCode::ok;
    std::string message_;
};

inline const char* status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::ok: return "ok";
        case StatusCode::unknown: return "error";
        case StatusCode::invalid_argument: return "invalid argument";
        case StatusCode::not_found: return "not found";
        case StatusCode::no_data: return "no data";
        case StatusCode::conflict: return "conflict";
        case StatusCode::too_large: return "too large";
        case StatusCode::unavailable: return "unavailable";
        case StatusCode::io: return "I/O error";
    }
    return "error";
}

// Either a value or an error Status.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) {}  // NOLINT: must be an error status
    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    Status status() const { return ok() ? Status() : std::get<Status>(v_); }
    StatusCode code() const { return ok() ? StatusCode::ok : std::get<Status>(v_).code(); }
    const std::string& message() const {
        static const std::string empty;
        return ok() ? empty : std::get<Status>(v_).message();
    }

private:
    std::variant<T, Status> v_;
};

}  // namespace speeddata
