// Device memory: one mapping per allocation, guard pages, protection outside device work, quarantine after
// cudaFree, and the fault handler that turns a stray access into a report naming the allocation.
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "internal.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CUDASIM_POISON(p, n) __asan_poison_memory_region((p), (n))
#define CUDASIM_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define CUDASIM_POISON(p, n) ((void)(p), (void)(n))
#define CUDASIM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace cudasim {

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kAlign = 256;                    // cudaMalloc's alignment
constexpr size_t kQuarantineCount = 4096;         // freed allocations kept reserved
constexpr size_t kPoisonLimit = size_t(4) << 30;  // larger allocations are not filled (host memory)

size_t round_up(size_t n, size_t unit) { return (n + unit - 1) / unit * unit; }

bool contains(const Allocation& a, const void* p) {
    const char* c = static_cast<const char*>(p);
    return c >= a.map && c < a.map + a.map_size;
}

}  // namespace

DeviceMemory& memory() {
    static DeviceMemory* m = new DeviceMemory();  // leaked: device memory may be freed by static destructors
    return *m;
}

void DeviceMemory::protect(Allocation& a, bool accessible) {
    if (a.accessible == accessible) return;
    if (mprotect(a.data, a.data_size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) != 0)
        fatal(str("mprotect failed on device allocation #", a.id, ": ", std::strerror(errno)));
    a.accessible = accessible;
}

cudaError_t DeviceMemory::allocate(int device, size_t size, void** out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_use_.size() <= size_t(device)) in_use_.resize(size_t(device) + 1, 0);
    *out = nullptr;
    if (size == 0) return cudaSuccess;
    const size_t capacity = config().device_memory;
    if (size > capacity - std::min(capacity, in_use_[size_t(device)])) {
        set_detail(cudaErrorMemoryAllocation,
                   str("cudaMalloc(", size, " bytes) on cuda:", device, ": ", in_use_[size_t(device)], " of ", capacity,
                       " bytes are in use (CUDASIM_MEMORY_GIB)"));
        return cudaErrorMemoryAllocation;
    }
    auto a = std::make_unique<Allocation>();
    const size_t span = round_up(size, kAlign);
    a->data_size = round_up(span, kPage);
    a->map_size = a->data_size + 2 * kPage;
    void* m = mmap(nullptr, a->map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        set_detail(cudaErrorMemoryAllocation, str("cudaMalloc(", size, " bytes): mmap failed: ", std::strerror(errno)));
        return cudaErrorMemoryAllocation;
    }
    a->map = static_cast<char*>(m);
    a->data = a->map + kPage;
    a->ptr = a->data + a->data_size - span;
    a->size = size;
    a->device = device;
    a->id = next_id_++;
    protect(*a, true);
    // Uninitialised device memory reads as 0xFF bytes: NaN in every floating-point type, -1 in integers.
    if (a->data_size <= kPoisonLimit) std::memset(a->data, 0xFF, a->data_size);
    // The bytes of the pages around the allocation are not part of it: reads of them are ASan reports.
    CUDASIM_POISON(a->data, size_t(a->ptr - a->data));
    CUDASIM_POISON(a->ptr + size, size_t(a->data + a->data_size - (a->ptr + size)));
    if (!(open_ >> device & 1u)) protect(*a, false);
    in_use_[size_t(device)] += size;
    *out = a->ptr;
    const auto pos = std::upper_bound(live_.begin(), live_.end(), a->map,
                                      [](const char* m2, const std::unique_ptr<Allocation>& b) { return m2 < b->map; });
    live_.insert(pos, std::move(a));
    return cudaSuccess;
}

cudaError_t DeviceMemory::release(void* ptr) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(live_.begin(), live_.end(), [&](const auto& a) { return a->ptr == ptr; });
    if (it == live_.end()) {
        const Allocation* inside = find_mapping(ptr);
        set_detail(cudaErrorInvalidValue,
                   inside
                       ? str("cudaFree(", hex(ptr), "): not the start of device allocation #", inside->id,
                             " (which starts at ", hex(inside->ptr), ")")
                       : str("cudaFree(", hex(ptr), "): not a live device allocation (freed twice, or host memory)"));
        return cudaErrorInvalidValue;
    }
    std::unique_ptr<Allocation> a = std::move(*it);
    live_.erase(it);
    in_use_[size_t(a->device)] -= a->size;
    protect(*a, false);
    madvise(a->data, a->data_size, MADV_DONTNEED);  // the pages' memory goes back; the addresses stay reserved
    quarantine_.push_back(std::move(a));
    if (quarantine_.size() > kQuarantineCount) {
        Allocation& old = *quarantine_.front();
        CUDASIM_UNPOISON(old.map, old.map_size);  // a later mapping at these addresses starts clean
        munmap(old.map, old.map_size);
        quarantine_.erase(quarantine_.begin());
    }
    return cudaSuccess;
}

const Allocation* DeviceMemory::find_mapping(const void* p) const {
    const char* c = static_cast<const char*>(p);
    auto it = std::upper_bound(live_.begin(), live_.end(), c,
                               [](const char* c2, const std::unique_ptr<Allocation>& b) { return c2 < b->map; });
    if (it == live_.begin()) return nullptr;
    --it;
    return contains(**it, p) ? it->get() : nullptr;
}

const Allocation* DeviceMemory::find(const void* p, size_t bytes) const {
    const Allocation* a = find_mapping(p);
    if (!a) return nullptr;
    const char* c = static_cast<const char*>(p);
    if (c < a->ptr || c > a->ptr + a->size) return nullptr;
    if (bytes > size_t(a->ptr + a->size - c)) return nullptr;
    if (bytes > 0 && c == a->ptr + a->size) return nullptr;
    return a;
}

size_t DeviceMemory::in_use(int device) const {
    std::lock_guard<std::mutex> lock(mu_);
    return size_t(device) < in_use_.size() ? in_use_[size_t(device)] : 0;
}

void DeviceMemory::open(unsigned device_mask) {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_ == device_mask) return;
    for (auto& a : live_) protect(*a, device_mask >> a->device & 1u);
    open_ = device_mask;
}

void DeviceMemory::close() { open(0); }

std::vector<const Allocation*> DeviceMemory::allocations(int device) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<const Allocation*> out;
    for (const auto& a : live_)
        if (a->device == device) out.push_back(a.get());
    return out;
}

bool DeviceMemory::describe(const void* p, char* out, size_t n) const {
    // The fault handler may interrupt a thread that holds mu_; then it reports without the table.
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    const char* c = static_cast<const char*>(p);
    if (const Allocation* a = find_mapping(p)) {
        if (c >= a->ptr && c < a->ptr + a->size)
            snprintf(out, n, "byte %zu of device allocation #%llu (%zu bytes on cuda:%d)", size_t(c - a->ptr),
                     (unsigned long long)a->id, a->size, a->device);
        else if (c < a->ptr)
            snprintf(out, n, "%zu bytes before device allocation #%llu (%zu bytes on cuda:%d)", size_t(a->ptr - c),
                     (unsigned long long)a->id, a->size, a->device);
        else
            snprintf(out, n, "%zu bytes past the end of device allocation #%llu (%zu bytes on cuda:%d)",
                     size_t(c - (a->ptr + a->size)), (unsigned long long)a->id, a->size, a->device);
        return true;
    }
    for (const auto& a : quarantine_)
        if (contains(*a, p)) {
            snprintf(out, n, "freed device allocation #%llu (%zu bytes on cuda:%d, released by cudaFree)",
                     (unsigned long long)a->id, a->size, a->device);
            return true;
        }
    return false;
}

// ---- the fault handler --------------------------------------------------------------------------------

namespace {

struct sigaction previous_segv;
struct StackGuard {
    const char* begin;
    size_t bytes;
};
StackGuard stack_guards[4096];
std::atomic<size_t> stack_guard_count{0};

void write_str(const char* s) { (void)!write(2, s, strlen(s)); }

void on_segv(int sig, siginfo_t* info, void* uctx) {
    char what[256] = "";
    const void* addr = info->si_addr;
    bool ours = memory().describe(addr, what, sizeof what);
    bool overflow = false;
    if (!ours) {
        const size_t n = stack_guard_count.load();
        for (size_t i = 0; i < n && i < 4096; ++i)
            if (static_cast<const char*>(addr) >= stack_guards[i].begin &&
                static_cast<const char*>(addr) < stack_guards[i].begin + stack_guards[i].bytes)
                overflow = true;
    }
    if (ours || overflow) {
        bool write = false;
#if defined(__x86_64__)
        write = (static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#endif
        char line[512];
        const bool device_code = current_thread != nullptr;
        if (overflow)
            snprintf(line, sizeof line,
                     "cudasim: error: a simulated GPU thread overflowed its stack (CUDASIM_STACK_KB=%zu)\n",
                     config().stack_bytes >> 10);
        else if (device_code)
            snprintf(line, sizeof line, "cudasim: error: device code %s %p: %s\n", write ? "wrote" : "read", addr,
                     what);
        else
            snprintf(line, sizeof line,
                     "cudasim: error: host code %s device memory at %p: %s. Device memory is reached through "
                     "CUDA calls (cudaMemcpy*), never by dereferencing a device pointer on the host.\n",
                     write ? "wrote" : "read", addr, what);
        write_str(line);
        if (device_code) {
            const ThreadContext* t = current_thread;
            snprintf(line, sizeof line, "  in block (%u,%u,%u), thread (%u,%u,%u)", t->block->block_idx.x,
                     t->block->block_idx.y, t->block->block_idx.z, t->thread_idx.x, t->thread_idx.y, t->thread_idx.z);
            write_str(line);
            write_str(device_context().c_str());  // allocates: acceptable on the way to ending the process
            write_str("\n");
        }
    }
    // Hand the fault to the handler that was there before (AddressSanitizer's prints the stack); without one
    // the default action ends the process.
    sigaction(SIGSEGV, &previous_segv, nullptr);
    (void)sig;
}

}  // namespace

void register_stack_guard(const void* guard, size_t bytes) {
    const size_t i = stack_guard_count.fetch_add(1);
    if (i < 4096) stack_guards[i] = {static_cast<const char*>(guard), bytes};
}

void install_fault_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &previous_segv);
    });
}

}  // namespace cudasim
