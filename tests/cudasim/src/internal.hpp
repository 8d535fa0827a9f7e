// libcudasim's internals, shared by its translation units: configuration, reports, device memory, the work
// that streams queue, and the executor that runs kernels.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "cuda_runtime.h"

namespace cudasim {

// ---- configuration, read once from the environment (docs/gpu.md lists the variables) ---------------------

enum class Order { Forward, Reverse, Shuffle };

struct Config {
    int devices = 2;                          // CUDASIM_DEVICES
    int workers = 1;                          // CUDASIM_WORKERS (default: the number of cores)
    size_t device_memory = size_t(80) << 30;  // CUDASIM_MEMORY_GIB per device (H100: 80)
    Order order = Order::Forward;             // CUDASIM_ORDER: forward | reverse | shuffle
    bool race_check = false;                  // CUDASIM_RACECHECK: 1 | reverse | shuffle
    Order race_order = Order::Reverse;
    uint64_t seed = 1;                       // CUDASIM_SEED (shuffled orders)
    size_t stack_bytes = size_t(256) << 10;  // CUDASIM_STACK_KB per simulated thread
    bool verbose = false;                    // CUDASIM_VERBOSE: failed calls print their reason
};
const Config& config();
const char* order_name(Order o);

// H100's limits (sm_90).
constexpr int kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDimZ = 64;
constexpr unsigned kMaxGridDimX = 0x7fffffffu, kMaxGridDimYZ = 65535;
constexpr size_t kDefaultDynamicSmem = 48 * 1024;
constexpr size_t kMaxDynamicSmemOptIn = 227 * 1024;

// ---- reports ------------------------------------------------------------------------------------------

template <class... A>
std::string str(const A&... a) {
    std::ostringstream os;
    (os << ... << a);
    return os.str();
}
std::string hex(const void* p);

// A checker finding or a broken invariant: prints "cudasim: error: what", the kernel, block and thread
// when device code is running, a stack trace, and aborts the process.
[[noreturn]] void fatal(const std::string& what);

// The reason of this host thread's last failed call; cudaGetErrorString and cublasGetStatusString append it.
void set_detail(int code, std::string detail);
const std::string* detail_for(int code);

// ---- device memory ------------------------------------------------------------------------------------

struct Allocation {
    uint64_t id = 0;
    int device = 0;
    char* ptr = nullptr;  // what cudaMalloc returned
    size_t size = 0;
    char* map = nullptr;  // the mapping: a guard page, the data pages, a guard page
    size_t map_size = 0;
    char* data = nullptr;  // the data pages; ptr + size ends at most 255 bytes before their end
    size_t data_size = 0;
    bool accessible = false;
};

// Every cudaMalloc is a mapping of its own, between two inaccessible guard pages, with the allocation placed
// at the end of its pages (256-byte aligned, as cudaMalloc's). Outside simulated device work the pages are
// inaccessible too, so host code that dereferences a device pointer faults, and the fault handler says
// which allocation it hit. Freed allocations stay reserved and inaccessible for a while (quarantine), so
// that a use after cudaFree faults instead of reaching a new allocation.
class DeviceMemory {
public:
    cudaError_t allocate(int device, size_t size, void** out);
    cudaError_t release(void* ptr);
    // The live allocation that contains [p, p + bytes) (bytes == 0: p may be one past the end), or null.
    const Allocation* find(const void* p, size_t bytes = 1) const;
    // The live allocation whose mapping (guard pages included) contains p, or null.
    const Allocation* find_mapping(const void* p) const;
    size_t in_use(int device) const;
    // Device work of the devices in the mask is about to run: their memory becomes accessible, the others'
    // not. close() makes all of it inaccessible again (back to host code).
    void open(unsigned device_mask);
    void close();
    // What address p is, for a report: "byte 12 of device allocation #3 (400 bytes on cuda:0)", "a freed
    // device allocation", ... Empty when p is none of these. Called from the fault handler: no allocation.
    bool describe(const void* p, char* out, size_t n) const;
    // The live allocations of a device, for the race check's snapshots.
    std::vector<const Allocation*> allocations(int device) const;

private:
    void protect(Allocation& a, bool accessible);

    mutable std::mutex mu_;
    std::vector<std::unique_ptr<Allocation>> live_;        // sorted by map address
    std::vector<std::unique_ptr<Allocation>> quarantine_;  // freed, oldest first
    std::vector<size_t> in_use_;
    unsigned open_ = 0;
    uint64_t next_id_ = 1;
};
DeviceMemory& memory();

void install_fault_handler();
// Fiber stacks (guard page below each), so that a fault in a guard page is reported as a stack overflow.
void register_stack_guard(const void* guard, size_t bytes);

// ---- work in stream order -----------------------------------------------------------------------------

// One item of a stream's queue (or of a captured graph): immutable, so that replays can run it again.
class Work {
public:
    virtual ~Work() = default;
    virtual void run() const = 0;
    unsigned devices = 0;  // bit mask of the devices whose memory it touches
};

// The executor: runs one launch to completion on the worker threads (executor.cpp).
struct KernelLaunch final : Work {
    LaunchSite site;
    const void* address = nullptr;
    std::shared_ptr<const Kernel> kernel;
    int device = 0;
    uint64_t id = 0;  // launch number, for reports and shuffled orders
    void run() const override;
};

// Runs queued work on this host thread: the memory of the work's devices is opened for it and closed when the
// outermost scope ends.
class DeviceWorkScope {
public:
    DeviceWorkScope();
    ~DeviceWorkScope();
    DeviceWorkScope(const DeviceWorkScope&) = delete;
    DeviceWorkScope& operator=(const DeviceWorkScope&) = delete;
    static void run(const Work& w);
};

// The running kernel, block and launch site when called on a worker thread (for reports), else empty.
std::string device_context();

// The API lock: every runtime and cuBLAS entry point holds it; queued work runs under it.
std::recursive_mutex& api_mutex();

// Shared with cublas.cpp.
int current_device();
cudaError_t enqueue(cudaStream_t stream, std::shared_ptr<const Work> work, int* device = nullptr);
int stream_device(cudaStream_t stream);  // the stream's device (nullptr: the current one), -1 if not a stream
bool is_device_memory_of(const void* p, size_t bytes, int device);

}  // namespace cudasim
