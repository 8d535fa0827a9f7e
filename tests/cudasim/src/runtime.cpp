// The runtime API: configuration, errors, devices, memory and copies, streams as ordered queues that run
// when waited for, events, graph capture and replay, kernel launch checks.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "internal.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif
#include <execinfo.h>

// ---- the API's opaque handles --------------------------------------------------------------------------

namespace cudasim {
struct Queued {
    std::shared_ptr<const Work> work;
    uint64_t seq;
};
struct Capture {
    cudaStreamCaptureMode mode;
    std::vector<std::shared_ptr<const Work>> nodes;
    bool invalidated = false;
};
}  // namespace cudasim

struct CUstream_st {
    int device = 0;
    bool legacy = false;   // the device's legacy default stream (stream 0)
    bool blocking = true;  // synchronises with the legacy stream (not cudaStreamNonBlocking)
    std::deque<cudasim::Queued> queue;
    std::shared_ptr<cudasim::Capture> capture;
};
struct CUevent_st {
    int device = 0;
    CUstream_st* stream = nullptr;  // where it was last recorded
    uint64_t seq = 0;               // the record's place in stream order
    bool recorded = false, done = false;
    double time_ms = 0;
};
struct CUgraph_st {
    int device = 0;
    std::vector<std::shared_ptr<const cudasim::Work>> nodes;
};
struct CUgraphExec_st {
    int device = 0;
    std::vector<std::shared_ptr<const cudasim::Work>> nodes;
};

namespace cudasim {

// ---- configuration --------------------------------------------------------------------------------------

namespace {

Order parse_order(const char* v, const char* var) {
    const std::string s = v;
    if (s == "forward") return Order::Forward;
    if (s == "reverse" || s == "1") return Order::Reverse;
    if (s == "shuffle") return Order::Shuffle;
    std::fprintf(stderr, "cudasim: error: %s=%s: expected forward, reverse or shuffle\n", var, v);
    std::exit(2);
}

long env_number(const char* var, long fallback, long lo, long hi) {
    const char* v = std::getenv(var);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end || x < lo || x > hi) {
        std::fprintf(stderr, "cudasim: error: %s=%s: expected a number from %ld to %ld\n", var, v, lo, hi);
        std::exit(2);
    }
    return x;
}

Config read_config() {
    Config c;
    c.devices = int(env_number("CUDASIM_DEVICES", 2, 0, 16));
    c.workers = int(env_number("CUDASIM_WORKERS", long(std::max(1u, std::thread::hardware_concurrency())), 1, 256));
    c.device_memory = size_t(env_number("CUDASIM_MEMORY_GIB", 80, 1, 1 << 20)) << 30;
    c.stack_bytes = size_t(env_number("CUDASIM_STACK_KB", 256, 16, 1 << 20)) << 10;
    c.seed = uint64_t(env_number("CUDASIM_SEED", 1, 0, 1L << 62));
    if (const char* v = std::getenv("CUDASIM_ORDER"); v && *v) c.order = parse_order(v, "CUDASIM_ORDER");
    if (const char* v = std::getenv("CUDASIM_RACECHECK"); v && *v && std::string(v) != "0") {
        c.race_check = true;
        c.race_order = parse_order(v, "CUDASIM_RACECHECK");
        if (c.race_order == Order::Forward) c.race_order = Order::Reverse;
    }
    c.verbose = env_number("CUDASIM_VERBOSE", 0, 0, 1) != 0;
    return c;
}

}  // namespace

const Config& config() {
    static const Config c = read_config();
    return c;
}

const char* order_name(Order o) {
    return o == Order::Forward ? "forward" : o == Order::Reverse ? "reverse" : "shuffled";
}

// ---- reports and errors ---------------------------------------------------------------------------------

std::string hex(const void* p) {
    char b[32];
    std::snprintf(b, sizeof b, "%p", p);
    return b;
}

void fatal(const std::string& what) {
    std::string msg = "cudasim: error: " + what + device_context() + "\n";
    std::fputs(msg.c_str(), stderr);
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_print_stack_trace();
#else
    void* frames[64];
    backtrace_symbols_fd(frames, backtrace(frames, 64), 2);
#endif
    std::fflush(stderr);
    std::abort();
}

namespace {
thread_local int t_device = 0;
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local int t_detail_code = 0;
thread_local std::string t_detail, t_text;

cudaError_t fail(cudaError_t e, std::string detail) {
    if (config().verbose) std::fprintf(stderr, "cudasim: note: %s\n", detail.c_str());
    set_detail(e, std::move(detail));
    t_last_error = e;
    return e;
}
}  // namespace

void set_detail(int code, std::string detail) {
    t_detail_code = code;
    t_detail = std::move(detail);
}
const std::string* detail_for(int code) { return t_detail_code == code && !t_detail.empty() ? &t_detail : nullptr; }

int current_device() { return t_device; }

std::recursive_mutex& api_mutex() {
    static std::recursive_mutex* m = new std::recursive_mutex();
    return *m;
}

// ---- devices and streams ----------------------------------------------------------------------------------

namespace {

struct DeviceState {
    CUstream_st legacy;
    std::map<const void*, int> max_dynamic_smem;  // cudaFuncSetAttribute
};

struct Runtime {
    std::vector<std::unique_ptr<DeviceState>> devices;
    std::set<CUstream_st*> streams;  // every live stream, legacy ones included
    std::set<CUevent_st*> events;
    uint64_t seq = 0, launches = 0;

    Runtime() {
        install_fault_handler();
        for (int d = 0; d < config().devices; ++d) {
            auto s = std::make_unique<DeviceState>();
            s->legacy.device = d;
            s->legacy.legacy = true;
            streams.insert(&s->legacy);
            devices.push_back(std::move(s));
        }
    }
};

Runtime& rt() {
    static Runtime* r = new Runtime();  // leaked: handles may be used by static destructors
    return *r;
}

bool valid_device(int d) { return d >= 0 && d < int(rt().devices.size()); }

// nullptr is the current device's legacy stream.
CUstream_st* resolve(cudaStream_t s) {
    if (!s) return valid_device(t_device) ? &rt().devices[size_t(t_device)]->legacy : nullptr;
    return rt().streams.count(s) ? s : nullptr;
}

std::vector<CUstream_st*> streams_of(int device) {
    std::vector<CUstream_st*> out;
    for (CUstream_st* s : rt().streams)
        if (s->device == device) out.push_back(s);
    return out;
}

int depth = 0;  // nesting of DeviceWorkScope on the API thread (all under the API lock)

void await(CUstream_st* s, uint64_t upto = UINT64_MAX);

// Blocking streams wait for earlier work of their device's legacy stream, and the legacy stream for earlier
// work of every blocking stream (CUDA's implicit synchronisation). Non-blocking streams wait for nothing.
void await_implicit(const CUstream_st* s, uint64_t seq) {
    if (!s->blocking) return;
    if (s->legacy) {
        for (CUstream_st* o : streams_of(s->device))
            if (o != s && o->blocking && !o->capture) await(o, seq - 1);
    } else {
        await(&rt().devices[size_t(s->device)]->legacy, seq - 1);
    }
}

void await(CUstream_st* s, uint64_t upto) {
    DeviceWorkScope scope;
    while (!s->queue.empty() && s->queue.front().seq <= upto) {
        Queued q = std::move(s->queue.front());
        s->queue.pop_front();
        await_implicit(s, q.seq);
        DeviceWorkScope::run(*q.work);
    }
}

bool capturing_on(int device) {
    for (CUstream_st* s : streams_of(device))
        if (s->capture) return true;
    return false;
}

// Something the host waits for ran into a capture: CUDA fails the call and invalidates the capture.
cudaError_t refuse_during_capture(CUstream_st* s, const char* call) {
    if (s->capture) s->capture->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported,
                str(call,
                    ": the stream is being captured into a CUDA graph, which cannot wait for the GPU or "
                    "copy to or from pageable host memory (the capture is now invalidated)"));
}

// Calls CUDA calls "potentially unsafe" (cudaMalloc, cudaFree, the synchronous copies) fail while a capture
// in global or thread-local mode is active (relaxed mode allows them), and invalidate it.
cudaError_t unsafe_during_capture(const char* call) {
    for (CUstream_st* s : rt().streams)
        if (s->capture && s->capture->mode != cudaStreamCaptureModeRelaxed) return refuse_during_capture(s, call);
    return cudaSuccess;
}

// Work on a legacy stream would wait for the device's blocking streams: not while one of them is captured.
cudaError_t legacy_during_capture(const CUstream_st* legacy, const char* call) {
    for (CUstream_st* s : streams_of(legacy->device))
        if (s->capture && s->blocking && !s->legacy) {
            s->capture->invalidated = true;
            return fail(cudaErrorStreamCaptureImplicit,
                        str(call,
                            ": work on the legacy stream would wait for a blocking stream that is being "
                            "captured (the capture is now invalidated)"));
        }
    return cudaSuccess;
}

}  // namespace

DeviceWorkScope::DeviceWorkScope() { ++depth; }
DeviceWorkScope::~DeviceWorkScope() {
    if (--depth == 0) memory().close();
}
void DeviceWorkScope::run(const Work& w) {
    memory().open(w.devices);
    w.run();
}

cudaError_t enqueue(cudaStream_t stream, std::shared_ptr<const Work> work, int* device) {
    CUstream_st* s = resolve(stream);
    if (!s) return fail(cudaErrorInvalidResourceHandle, str("stream ", hex(stream), " is not a live stream"));
    if (device) *device = s->device;
    if (s->legacy)
        if (const cudaError_t e = legacy_during_capture(s, "work queued on the legacy stream"); e != cudaSuccess)
            return e;
    if (s->capture) {
        if (s->capture->invalidated)
            return fail(cudaErrorStreamCaptureInvalidated, "the stream's capture was invalidated by an earlier error");
        s->capture->nodes.push_back(std::move(work));
        return cudaSuccess;
    }
    s->queue.push_back({std::move(work), ++rt().seq});
    return cudaSuccess;
}

int stream_device(cudaStream_t stream) {
    const CUstream_st* s = resolve(stream);
    return s ? s->device : -1;
}

bool is_device_memory_of(const void* p, size_t bytes, int device) {
    const Allocation* a = memory().find(p, bytes);
    return a && a->device == device;
}

namespace {

// ---- the work items ---------------------------------------------------------------------------------------

struct Copy final : Work {
    void* dst = nullptr;
    const void* src = nullptr;                  // device memory, or null with `staged`
    std::shared_ptr<std::vector<char>> staged;  // host bytes taken at the call (pageable host memory)
    size_t bytes = 0;
    void run() const override { std::memcpy(dst, staged ? staged->data() : src, bytes); }
};

struct Memset final : Work {
    void* dst = nullptr;
    int value = 0;
    size_t bytes = 0;
    void run() const override { std::memset(dst, value, bytes); }
};

struct EventRecord final : Work {
    CUevent_st* event = nullptr;
    void run() const override {
        if (!rt().events.count(event)) return;  // destroyed since
        event->done = true;
        event->time_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
    }
};

struct EventWait final : Work {
    CUstream_st* stream = nullptr;
    uint64_t seq = 0;
    void run() const override {
        if (rt().streams.count(stream)) await(stream, seq);
    }
};

unsigned bit(int device) { return 1u << device; }

// Where a copy's pointer lives: device memory of some device, or the host. Checks the whole range.
struct Side {
    const Allocation* alloc = nullptr;  // null: host memory
    bool partly_device = false;         // starts in device memory but runs past the allocation
};
Side classify(const void* p, size_t bytes) {
    Side s;
    s.alloc = memory().find(p, bytes);
    if (!s.alloc && memory().find_mapping(p)) s.partly_device = true;
    return s;
}

std::string side_name(const Side& s) {
    return s.alloc           ? str("device memory of cuda:", s.alloc->device)
           : s.partly_device ? "a device range that runs past its allocation"
                             : "host memory";
}

cudaError_t copy_async(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream,
                       const char* call) {
    if (bytes == 0) return cudaSuccess;
    if (!dst || !src) return fail(cudaErrorInvalidValue, str(call, ": null pointer"));
    const Side d = classify(dst, bytes), s = classify(src, bytes);
    if (d.partly_device || s.partly_device) {
        const void* p = d.partly_device ? dst : src;
        const Allocation* a = memory().find_mapping(p);
        return fail(cudaErrorInvalidValue,
                    str(call, ": ", bytes, " bytes from ", hex(p), " run past the end of device allocation #", a->id,
                        " (", a->size, " bytes from ", hex(a->ptr), ")"));
    }
    if (kind == cudaMemcpyDefault)
        kind = d.alloc ? (s.alloc ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                       : (s.alloc ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    const bool want_dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool want_src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    static const char* kinds[] = {"cudaMemcpyHostToHost", "cudaMemcpyHostToDevice", "cudaMemcpyDeviceToHost",
                                  "cudaMemcpyDeviceToDevice"};
    if (int(kind) < 0 || int(kind) > 3)
        return fail(cudaErrorInvalidMemcpyDirection, str(call, ": bad kind ", int(kind)));
    if (bool(d.alloc) != want_dst_device || bool(s.alloc) != want_src_device)
        return fail(cudaErrorInvalidValue, str(call, " with ", kinds[kind], ": the destination ", hex(dst), " is ",
                                               side_name(d), " and the source ", hex(src), " is ", side_name(s)));
    CUstream_st* st = resolve(stream);
    if (!st) return fail(cudaErrorInvalidResourceHandle, str(call, ": stream ", hex(stream), " is not a live stream"));
    const bool host_side = !d.alloc || !s.alloc;
    if (host_side && st->capture) return refuse_during_capture(st, call);
    auto w = std::make_shared<Copy>();
    w->dst = dst;
    w->bytes = bytes;
    if (s.alloc) {
        w->src = src;
        w->devices |= bit(s.alloc->device);
    } else {
        // Pageable host memory is staged at the call: the caller may reuse it as soon as the call returns.
        w->staged =
            std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + bytes);
    }
    if (d.alloc)
        w->devices |= bit(d.alloc->device);
    else
        std::memset(dst, 0xFF, bytes);  // until the copy runs, the host destination holds no data
    return enqueue(st, std::move(w));
}

cudaError_t sync_stream(CUstream_st* s, const char* call) {
    if (s->capture) return refuse_during_capture(s, call);
    await(s);
    return cudaSuccess;
}

cudaError_t sync_device(int device, const char* call) {
    for (CUstream_st* s : streams_of(device))
        if (s->capture) return refuse_during_capture(s, call);
    for (CUstream_st* s : streams_of(device)) await(s);
    return cudaSuccess;
}

}  // namespace

// ---- kernel launch ----------------------------------------------------------------------------------------

void detail::launch(const LaunchSite& site, const void* address, std::shared_ptr<const Kernel> kernel) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    Runtime& r = rt();
    const std::string name = str(site.kernel, " at ", site.file, ":", site.line);
    const dim3 g = site.grid, b = site.block;
    const uint64_t threads = uint64_t(b.x) * b.y * b.z;
    if (g.x == 0 || g.y == 0 || g.z == 0 || b.x == 0 || b.y == 0 || b.z == 0 ||
        threads > uint64_t(kMaxThreadsPerBlock) || b.x > 1024 || b.y > 1024 || b.z > kMaxBlockDimZ ||
        g.x > kMaxGridDimX || g.y > kMaxGridDimYZ || g.z > kMaxGridDimYZ) {
        fail(cudaErrorInvalidConfiguration,
             str("launch of ", name, ": grid (", g.x, ",", g.y, ",", g.z, ") and block (", b.x, ",", b.y, ",", b.z,
                 ") exceed CUDA's limits (block: at most 1024 threads, z <= 64; grid: x < 2^31, y and z <= 65535; "
                 "no zero dimension)"));
        return;
    }
    CUstream_st* s = resolve(site.stream);
    if (!s) {
        fail(cudaErrorInvalidResourceHandle,
             str("launch of ", name, ": stream ", hex(site.stream), " is not a live stream"));
        return;
    }
    const int dev = t_device;
    if (s->device != dev) {
        fail(cudaErrorInvalidResourceHandle,
             str("launch of ", name, " on a stream of cuda:", s->device, " while cuda:", dev,
                 " is the current device (a kernel must be launched on a stream of the current device)"));
        return;
    }
    const auto& attrs = r.devices[size_t(dev)]->max_dynamic_smem;
    const auto it = address ? attrs.find(address) : attrs.end();
    const size_t limit = it == attrs.end() ? kDefaultDynamicSmem : size_t(it->second);
    if (site.dynamic_smem > limit) {
        fail(cudaErrorInvalidValue,
             str("launch of ", name, " with ", site.dynamic_smem, " bytes of dynamic shared memory: ",
                 it == attrs.end() ? "above the default 49152 without cudaFuncSetAttribute("
                                     "cudaFuncAttributeMaxDynamicSharedMemorySize) on this device"
                                   : str("above the ", limit, " set with cudaFuncSetAttribute")));
        return;
    }
    for (const Kernel::PointerArg& p : kernel->pointer_args) {
        if (!p.value) continue;
        const Allocation* a = memory().find(p.value, 0);
        if (a && a->device == dev) continue;
        char what[256] = "";
        const bool known = memory().describe(p.value, what, sizeof what);
        fatal(str("kernel ", name, ": argument ", p.index + 1, " is the pointer ", hex(p.value), ", which is ",
                  a       ? str("device memory of cuda:", a->device, ", not of the launch's cuda:", dev)
                  : known ? std::string(what)
                          : std::string("not device memory (host memory?)"),
                  ". A kernel can only reach device memory of its own GPU."));
    }
    auto w = std::make_shared<KernelLaunch>();
    w->site = site;
    w->address = address;
    w->kernel = std::move(kernel);
    w->device = dev;
    w->id = ++r.launches;
    w->devices = bit(dev);
    enqueue(s, std::move(w));
}

}  // namespace cudasim

using namespace cudasim;

// ---- errors -----------------------------------------------------------------------------------------------

namespace {
struct ErrorText {
    cudaError_t code;
    const char* name;
    const char* text;
};
constexpr ErrorText kErrors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInvalidDevicePointer, "cudaErrorInvalidDevicePointer", "invalid device pointer"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorIllegalState, "cudaErrorIllegalState", "the operation cannot be performed in the present state"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
    {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported",
     "operation not permitted when stream is capturing"},
    {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated",
     "operation failed due to a previous error during capture"},
    {cudaErrorStreamCaptureUnmatched, "cudaErrorStreamCaptureUnmatched", "capture was not initiated in this stream"},
    {cudaErrorStreamCaptureImplicit, "cudaErrorStreamCaptureImplicit",
     "operation would make the legacy stream depend on a capturing blocking stream"},
    {cudaErrorUnknown, "cudaErrorUnknown", "unknown error"},
};
const ErrorText* lookup(cudaError_t e) {
    for (const ErrorText& t : kErrors)
        if (t.code == e) return &t;
    return nullptr;
}
}  // namespace

const char* cudaGetErrorName(cudaError_t error) {
    const ErrorText* t = lookup(error);
    return t ? t->name : "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
    const ErrorText* t = lookup(error);
    const char* text = t ? t->text : "unrecognized error code";
    const std::string* d = detail_for(error);
    if (!d) return text;
    t_text = str(text, " [cudasim: ", *d, "]");
    return t_text.c_str();
}

cudaError_t cudaGetLastError() {
    const cudaError_t e = t_last_error;
    t_last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError() { return t_last_error; }

// ---- devices ----------------------------------------------------------------------------------------------

cudaError_t cudaGetDeviceCount(int* count) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    *count = int(rt().devices.size());
    if (*count == 0) return fail(cudaErrorNoDevice, "CUDASIM_DEVICES=0");
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
    *device = t_device;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!valid_device(device))
        return fail(cudaErrorInvalidDevice,
                    str("cudaSetDevice(", device, "): there are ", rt().devices.size(), " devices"));
    t_device = device;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    return sync_device(t_device, "cudaDeviceSynchronize");
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    *total = config().device_memory;
    *free = *total - std::min(*total, memory().in_use(t_device));
    return cudaSuccess;
}

// ---- memory -----------------------------------------------------------------------------------------------

cudaError_t cudaMalloc(void** ptr, size_t size) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    rt();
    if (const cudaError_t e = unsafe_during_capture("cudaMalloc"); e != cudaSuccess) return e;
    const cudaError_t e = memory().allocate(t_device, size, ptr);
    if (e != cudaSuccess) t_last_error = e;
    return e;
}

cudaError_t cudaFree(void* ptr) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!ptr) return cudaSuccess;
    if (const cudaError_t e = unsafe_during_capture("cudaFree"); e != cudaSuccess) return e;
    // cudaFree waits for the device: queued work may still use the memory.
    if (const Allocation* a = memory().find(ptr, 0)) {
        if (capturing_on(a->device)) {
            for (CUstream_st* s : streams_of(a->device))
                if (s->capture) return refuse_during_capture(s, "cudaFree");
        }
        sync_device(a->device, "cudaFree");
    }
    const cudaError_t e = memory().release(ptr);
    if (e != cudaSuccess) t_last_error = e;
    return e;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    return copy_async(dst, src, count, kind, stream, "cudaMemcpyAsync");
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!valid_device(t_device)) return fail(cudaErrorNoDevice, "cudaMemcpy: no device");
    CUstream_st* legacy = &rt().devices[size_t(t_device)]->legacy;
    if (const cudaError_t e = unsafe_during_capture("cudaMemcpy"); e != cudaSuccess) return e;
    if (const cudaError_t e = copy_async(dst, src, count, kind, nullptr, "cudaMemcpy"); e != cudaSuccess) return e;
    return sync_stream(legacy, "cudaMemcpy");
}

cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, size_t count,
                                cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (count == 0) return cudaSuccess;
    const Allocation* d = memory().find(dst, count);
    const Allocation* s = memory().find(src, count);
    if (!d || d->device != dst_device || !s || s->device != src_device)
        return fail(
            cudaErrorInvalidValue,
            str("cudaMemcpyPeer: ", count, " bytes from ", hex(src), " (",
                s ? str("cuda:", s->device) : "not device memory", ", expected cuda:", src_device, ") to ", hex(dst),
                " (", d ? str("cuda:", d->device) : "not device memory", ", expected cuda:", dst_device, ")"));
    auto w = std::make_shared<Copy>();
    w->dst = dst;
    w->src = src;
    w->bytes = count;
    w->devices = 1u << dst_device | 1u << src_device;
    return enqueue(stream, std::move(w));
}

// The synchronous peer copy is queued on the legacy stream of the current device ("asynchronous with respect
// to the host"): temper's non-blocking streams are not ordered with it.
cudaError_t cudaMemcpyPeer(void* dst, int dst_device, const void* src, int src_device, size_t count) {
    return cudaMemcpyPeerAsync(dst, dst_device, src, src_device, count, nullptr);
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (count == 0) return cudaSuccess;
    const Allocation* a = memory().find(ptr, count);
    if (!a)
        return fail(cudaErrorInvalidValue,
                    str("cudaMemsetAsync: ", count, " bytes from ", hex(ptr), " are not inside one device allocation"));
    auto w = std::make_shared<Memset>();
    w->dst = ptr;
    w->value = value;
    w->bytes = count;
    w->devices = 1u << a->device;
    return enqueue(stream, std::move(w));
}

cudaError_t cudaMemset(void* ptr, int value, size_t count) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (const cudaError_t e = unsafe_during_capture("cudaMemset"); e != cudaSuccess) return e;
    if (const cudaError_t e = cudaMemsetAsync(ptr, value, count, nullptr); e != cudaSuccess) return e;
    return sync_stream(resolve(nullptr), "cudaMemset");
}

// ---- streams ----------------------------------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!valid_device(t_device)) return fail(cudaErrorNoDevice, "cudaStreamCreate: no device");
    auto* s = new CUstream_st();
    s->device = t_device;
    s->blocking = !(flags & cudaStreamNonBlocking);
    rt().streams.insert(s);
    *stream = s;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    CUstream_st* s = stream ? resolve(stream) : nullptr;
    if (!s || s->legacy)
        return fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: not a stream made by cudaStreamCreate");
    await(s);  // its work still runs (CUDA finishes it before releasing the stream)
    rt().streams.erase(s);
    delete s;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    CUstream_st* s = resolve(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle,
                    str("cudaStreamSynchronize: ", hex(stream), " is not a live stream"));
    return sync_stream(s, "cudaStreamSynchronize");
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    CUstream_st* s = resolve(stream);
    if (!s) return fail(cudaErrorInvalidResourceHandle, "cudaStreamQuery: not a live stream");
    return s->queue.empty() ? cudaSuccess : cudaErrorNotReady;  // work runs only when waited for
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!rt().events.count(event)) return fail(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: not an event");
    if (!event->recorded) return cudaSuccess;
    auto w = std::make_shared<EventWait>();
    w->stream = event->stream;
    w->seq = event->seq;
    return enqueue(stream, std::move(w));
}

// ---- events -----------------------------------------------------------------------------------------------

cudaError_t cudaEventCreate(cudaEvent_t* event) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    auto* e = new CUevent_st();
    e->device = t_device;
    rt().events.insert(e);
    *event = e;
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!rt().events.erase(event)) return fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy: not an event");
    delete event;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!rt().events.count(event)) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: not an event");
    CUstream_st* s = resolve(stream);
    if (!s) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: not a live stream");
    if (s->device != event->device)
        return fail(cudaErrorInvalidResourceHandle, str("cudaEventRecord: the event belongs to cuda:", event->device,
                                                        ", the stream to cuda:", s->device));
    if (s->capture) return fail(cudaErrorNotSupported, "cudaEventRecord during a capture: not simulated");
    auto w = std::make_shared<EventRecord>();
    w->event = event;
    if (const cudaError_t e = enqueue(s, w); e != cudaSuccess) return e;
    event->stream = s;
    event->seq = s->queue.back().seq;
    event->recorded = true;
    event->done = false;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!rt().events.count(event)) return fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: not an event");
    if (!event->recorded) return cudaSuccess;
    if (event->stream->capture) return refuse_during_capture(event->stream, "cudaEventSynchronize");
    await(event->stream, event->seq);
    return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!rt().events.count(start) || !rt().events.count(end))
        return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: not an event");
    if (start->device != end->device)
        return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: the events belong to different devices");
    if (!start->done || !end->done) return fail(cudaErrorNotReady, "cudaEventElapsedTime: an event has not completed");
    *ms = float(end->time_ms - start->time_ms);
    return cudaSuccess;
}

// ---- graphs -----------------------------------------------------------------------------------------------

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    CUstream_st* s = stream ? resolve(stream) : nullptr;
    if (!s || s->legacy)
        return fail(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture: the legacy stream cannot be captured");
    if (s->capture) return fail(cudaErrorIllegalState, "cudaStreamBeginCapture: the stream is already capturing");
    s->capture = std::make_shared<Capture>();
    s->capture->mode = mode;
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    *graph = nullptr;
    CUstream_st* s = resolve(stream);
    if (!s || !s->capture) return fail(cudaErrorIllegalState, "cudaStreamEndCapture: the stream is not capturing");
    std::shared_ptr<Capture> c = std::move(s->capture);
    if (c->invalidated)
        return fail(cudaErrorStreamCaptureInvalidated,
                    "cudaStreamEndCapture: the capture was invalidated by an earlier error");
    auto* g = new CUgraph_st();
    g->device = s->device;
    g->nodes = std::move(c->nodes);
    *graph = g;
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    CUstream_st* s = resolve(stream);
    if (!s) return fail(cudaErrorInvalidResourceHandle, "cudaStreamIsCapturing: not a live stream");
    *status = !s->capture               ? cudaStreamCaptureStatusNone
              : s->capture->invalidated ? cudaStreamCaptureStatusInvalidated
                                        : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!graph) return fail(cudaErrorInvalidValue, "cudaGraphInstantiate: null graph");
    auto* e = new CUgraphExec_st();
    e->device = graph->device;
    e->nodes = graph->nodes;  // the same immutable closures: a replay runs exactly what was captured
    *exec = e;
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!exec) return fail(cudaErrorInvalidValue, "cudaGraphLaunch: null graph");
    CUstream_st* s = resolve(stream);
    if (!s) return fail(cudaErrorInvalidResourceHandle, "cudaGraphLaunch: not a live stream");
    if (s->device != exec->device)
        return fail(cudaErrorInvalidResourceHandle, str("cudaGraphLaunch: a graph of cuda:", exec->device,
                                                        " launched on a stream of cuda:", s->device));
    for (const auto& n : exec->nodes)
        if (const cudaError_t e = enqueue(s, n); e != cudaSuccess) return e;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    delete graph;
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    delete exec;
    return cudaSuccess;
}

// ---- kernel attributes ------------------------------------------------------------------------------------

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!func) return fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: null function");
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
        return fail(cudaErrorInvalidValue, str("cudaFuncSetAttribute: attribute ", int(attr), " is not simulated"));
    if (value < 0 || size_t(value) > kMaxDynamicSmemOptIn)
        return fail(cudaErrorInvalidValue, str("cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize, ",
                                               value, "): the device allows at most ", kMaxDynamicSmemOptIn, " bytes"));
    if (!valid_device(t_device)) return fail(cudaErrorNoDevice, "cudaFuncSetAttribute: no device");
    rt().devices[size_t(t_device)]->max_dynamic_smem[func] = value;
    return cudaSuccess;
}
