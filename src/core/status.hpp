// Status and Result<T>: how the core library reports failure without exceptions.
// A boundary (CLI, HTTP handler) turns a failed Status into a message and an exit code or
// HTTP status; inside the library, functions return these and never throw on bad input.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace speeddata {

// A success or a human-readable error message. The message should name what failed and
// why, e.g. "open /data/example/x.avro: Permission denied".
class [[nodiscard]] Status {
public:
    Status() = default;
    static Status error(std::string message) { return Status(std::move(message)); }
    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const std::string& message() const { return message_; }
    // Prefix the message with context: "relay.yaml: " + "channels.x.port: expected integer".
    Status with_context(const std::string& context) const {
        return ok() ? *this : Status(context + ": " + message_);
    }

private:
    explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
    bool failed_ = false;
    std::string message_;
};

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
    const std::string& message() const {
        static const std::string empty;
        return ok() ? empty : std::get<Status>(v_).message();
    }

private:
    std::variant<T, Status> v_;
};

}  // namespace speeddata
