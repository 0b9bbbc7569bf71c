#include "relay/burst_buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace speeddata::relay {

BurstBuffer::BurstBuffer(size_t capacity, size_t max_blocks) {
    page_ = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    capacity_ = (std::max<size_t>(capacity, page_) + page_ - 1) / page_ * page_;
    // Address space only: nothing is resident until written.
    void* p = ::mmap(nullptr, capacity_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<uint8_t*>(p);
    queue_.resize(std::max<size_t>(max_blocks, 2));
}

BurstBuffer::~BurstBuffer() {
    if (base_) ::munmap(base_, capacity_);
}

bool BurstBuffer::append(const uint8_t* p, size_t len, uint64_t records, int64_t min_ns, int64_t max_ns,
                         int64_t now_mono_ns) {
    if (open_.count == 0) {
        // A new block needs a queue slot to be published into later.
        if (outstanding_.load(std::memory_order_acquire) + 1 >= queue_.size()) return false;
        // Everything written and released: start again at the ring's start, so a writer
        // that keeps up keeps the stream in the same few pages.
        if (tail_.load(std::memory_order_acquire) == head_ && head_ % capacity_ != 0) {
            head_ = (head_ / capacity_ + 1) * capacity_;
            tail_.store(head_, std::memory_order_release);  // the consumer holds nothing now
        }
        open_ = BlockRef{};
        open_.begin = open_.end = head_;
        open_since_ = now_mono_ns;
    }
    if (len > capacity_ - (head_ - tail_.load(std::memory_order_acquire))) return false;
    const size_t off = static_cast<size_t>(head_ % capacity_);
    const size_t first = std::min(len, capacity_ - off);
    std::memcpy(base_ + off, p, first);
    if (first < len) {
        std::memcpy(base_, p + first, len - first);
        touched_ = recent_ = capacity_;
    } else {
        touched_ = std::max(touched_, off + len);
        recent_ = std::max(recent_, off + len);
    }
    head_ += len;
    open_.end = head_;
    open_.count += records;
    open_.min_ns = std::min(open_.min_ns, min_ns);
    open_.max_ns = std::max(open_.max_ns, max_ns);
    return true;
}

void BurstBuffer::publish() {
    if (open_.count == 0) return;
    {
        std::lock_guard lock(mu_);
        queue_[(q_head_ + q_size_) % queue_.size()] = open_;
        ++q_size_;
        outstanding_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_one();
    open_ = BlockRef{};
    open_.begin = open_.end = head_;
}

size_t BurstBuffer::trim() {
    // In use: [tail, head) (published blocks and the open one). Only this thread writes, and
    // the writer reads only what is in use, so the rest can be dropped safely.
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    // Pages written since the last call stay: while records keep coming, a producer a block
    // ahead of the writer walks the ring and reaches them again within moments (trimming
    // them cost ~2,000 page faults a second at 8000 B x 18k/s).
    const size_t recent = (recent_ + page_ - 1) / page_ * page_;
    recent_ = 0;
    if (head_ - tail >= capacity_) return 0;
    const size_t t = static_cast<size_t>(tail % capacity_), h = static_cast<size_t>(head_ % capacity_);
    size_t from, to;
    if (head_ == tail) {
        from = 0;  // nothing in use; the next block starts at 0 and faults in what it needs
        to = touched_;
    } else if (t < h) {
        from = (h + page_ - 1) / page_ * page_;  // free above the in-use range
        to = touched_;
    } else {
        return 0;  // wrapped: a burst is still draining
    }
    from = std::max(from, recent);
    if (to <= from) return 0;
    ::madvise(base_ + from, to - from, MADV_DONTNEED);
    touched_ = from;
    return to - from;
}

bool BurstBuffer::next(BlockRef& out, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return q_size_ > 0 || closed_; });
    if (q_size_ == 0) return false;
    out = queue_[q_head_];
    q_head_ = (q_head_ + 1) % queue_.size();
    --q_size_;
    return true;
}

std::array<std::span<const uint8_t>, 2> BurstBuffer::data(const BlockRef& b) const {
    const size_t off = static_cast<size_t>(b.begin % capacity_);
    const size_t len = b.bytes();
    const size_t first = std::min(len, capacity_ - off);
    return {std::span<const uint8_t>(base_ + off, first), std::span<const uint8_t>(base_, len - first)};
}

void BurstBuffer::release(const BlockRef& b) {
    tail_.store(b.end, std::memory_order_release);
    outstanding_.fetch_sub(1, std::memory_order_release);
}

void BurstBuffer::close() {
    {
        std::lock_guard lock(mu_);
        closed_ = true;
    }
    cv_.notify_all();
}

size_t BurstBuffer::queued_blocks() {
    std::lock_guard lock(mu_);
    return q_size_;
}

}  // namespace speeddata::relay
