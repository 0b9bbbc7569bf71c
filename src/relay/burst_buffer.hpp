// The burst buffer between the receive thread and the writer thread: one byte ring sized in
// bytes (`burst_buffer`), filled with the datums of valid datagrams and cut into Avro blocks.
//
// Single producer (the receive thread) and single consumer (the writer thread). The producer
// copies each valid datagram's datums to the ring once (the only copy in user space: the
// writer writes the block with writev straight from the ring, header and sync marker as
// iovecs of their own) and publishes a block when it reaches block_size or flush_interval.
// When the ring has no room the datagram is counted as not written, and multicast goes on.
//
// Memory: the ring is reserved address space, not memory. Pages become resident only when a
// backlog reaches them: while the writer keeps up, every new block starts again at the
// ring's start, so a steady stream touches about two blocks. trim() returns the pages past
// what is in use (madvise MADV_DONTNEED) once a burst has drained.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace speeddata::relay {

struct BlockRef {
    uint64_t begin = 0;  // ring positions (monotonic byte counts; offset = position % capacity)
    uint64_t end = 0;
    uint64_t count = 0;  // datums
    int64_t min_ns = INT64_MAX;
    int64_t max_ns = INT64_MIN;
    size_t bytes() const { return static_cast<size_t>(end - begin); }
};

class BurstBuffer {
public:
    // capacity: bytes of the ring (rounded up to whole pages); max_blocks: most blocks
    // queued at once (small blocks made by flush_interval on a slow stream count too).
    BurstBuffer(size_t capacity, size_t max_blocks = 4096);
    ~BurstBuffer();
    BurstBuffer(const BurstBuffer&) = delete;
    BurstBuffer& operator=(const BurstBuffer&) = delete;

    size_t capacity() const { return capacity_; }

    // ---- producer
    // Appends one datagram's datums to the open block; false when there is no room (nothing
    // is appended then). now_mono_ns dates the open block's first datum.
    bool append(const uint8_t* p, size_t len, uint64_t records, int64_t min_ns, int64_t max_ns, int64_t now_mono_ns);
    size_t open_bytes() const { return static_cast<size_t>(head_ - open_.begin); }
    uint64_t open_records() const { return open_.count; }
    int64_t open_since_mono_ns() const { return open_since_; }
    // Queues the open block for the writer (no-op when it is empty).
    void publish();
    // Returns resident pages past what is in use and past what was written since the last
    // call (a stream that walks the ring would only fault those in again); returns the bytes
    // released. Called about once a second: a burst's pages are back within two calls.
    size_t trim();
    // Bytes of the ring that have been touched since the last trim (an upper bound of its RSS).
    size_t touched_bytes() const { return touched_; }

    // ---- consumer
    // Waits up to timeout for a queued block; false on timeout or when closed and empty.
    bool next(BlockRef& out, std::chrono::milliseconds timeout);
    // The block's bytes: one span, or two when it wraps around the ring's end.
    std::array<std::span<const uint8_t>, 2> data(const BlockRef& b) const;
    // Frees the block's bytes (blocks are released in the order next() returned them).
    void release(const BlockRef& b);
    // Producer or anyone: no more blocks; next() returns what is queued, then false.
    void close();
    size_t queued_blocks();
    // Bytes published or open and not yet released.
    size_t used_bytes() const { return static_cast<size_t>(head_ - tail_.load(std::memory_order_acquire)); }

private:
    uint8_t* base_ = nullptr;
    size_t capacity_ = 0;
    size_t page_ = 4096;

    // producer state
    uint64_t head_ = 0;  // next byte to write
    BlockRef open_;
    int64_t open_since_ = 0;
    size_t touched_ = 0;  // highest offset written since the last trim
    size_t recent_ = 0;   // highest offset written since the last trim() call: in use lately

    // shared
    std::atomic<uint64_t> tail_{0};  // first byte not yet released (consumer writes)
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<BlockRef> queue_;  // circular, max_blocks
    size_t q_head_ = 0, q_size_ = 0;
    std::atomic<size_t> outstanding_{0};  // published and not yet released
    bool closed_ = false;
};

}  // namespace speeddata::relay
