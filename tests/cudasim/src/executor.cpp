// The executor: CUDA's execution model on CPU threads.
//
// A launch's blocks are spread over worker threads (all cores). A worker runs one block at a time, each of
// its threads a fiber (Boost.Context's fcontext: a switch is a few instructions, no system call) that runs
// until it reaches a barrier, a warp collective or its end. The worker resumes its ready threads in sweeps,
// in the launch's thread order (forward, reversed, or shuffled); a warp collective completes when every lane
// of its mask has arrived, the block barrier when every live thread has. What cannot complete is reported:
// a barrier some live thread never reaches, a collective whose mask names an absent or exited lane, lanes
// that meet at different collectives.
//
// Shared memory: dynamic shared memory is a heap block of exactly the launch's size per worker; static
// __shared__ variables are thread_local in the program (cuda_runtime.h), and the worker fills the program's
// whole zero-initialised TLS segment (.tbss) with 0xFF before each block: libcudasim keeps its own
// thread-locals in its own TLS block, and no other code runs on a worker.
//
// Race check (CUDASIM_RACECHECK): each launch runs twice from the same memory, in forward and then in the
// reversed (or a shuffled) order of blocks and threads, and whatever it may have written must come out equal
// bit for bit; temper's kernels promise deterministic results.
#include <link.h>
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "internal.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace fctx = boost::context::detail;

namespace cudasim {

__thread ThreadContext* current_thread __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

using detail::Sync;
using detail::SyncCall;

void asan_start_switch(void** fake, const void* bottom, size_t size) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}
void asan_finish_switch(void* fake, const void** bottom, size_t* size) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

bool is_barrier(Sync k) { return k <= Sync::BarrierOr; }

const char* sync_name(Sync k) {
    switch (k) {
        case Sync::Barrier: return "__syncthreads";
        case Sync::BarrierCount: return "__syncthreads_count";
        case Sync::BarrierAnd: return "__syncthreads_and";
        case Sync::BarrierOr: return "__syncthreads_or";
        case Sync::SyncWarp: return "__syncwarp";
        case Sync::Shfl: return "__shfl_sync";
        case Sync::ShflUp: return "__shfl_up_sync";
        case Sync::ShflDown: return "__shfl_down_sync";
        case Sync::ShflXor: return "__shfl_xor_sync";
        case Sync::Ballot: return "__ballot_sync";
        case Sync::Any: return "__any_sync";
        case Sync::All: return "__all_sync";
    }
    return "?";
}

std::string where(const SyncCall& c) {
    return str(sync_name(c.kind), " at ", c.where.file_name(), ":", c.where.line());
}

bool same_place(const std::source_location& a, const std::source_location& b) {
    return a.line() == b.line() && a.column() == b.column() &&
           (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}

bool same_call(const SyncCall& a, const SyncCall& b) {
    return a.kind == b.kind && a.mask == b.mask && same_place(a.where, b.where);
}

// "0-15, 20" for a lane mask.
std::string lanes(unsigned mask) {
    std::string s;
    for (int l = 0; l < 32; ++l) {
        if (!(mask >> l & 1u)) continue;
        int e = l;
        while (e < 31 && (mask >> (e + 1) & 1u)) ++e;
        s += (s.empty() ? "" : ", ") + std::to_string(l) + (e > l ? "-" + std::to_string(e) : "");
        l = e;
    }
    return s;
}

std::string dims(const dim3& d) { return str("(", d.x, ",", d.y, ",", d.z, ")"); }
std::string dims(const uint3& d) { return str("(", d.x, ",", d.y, ",", d.z, ")"); }

enum class State : unsigned char { Unstarted, Ready, Barrier, Warp, Exited };

struct Stack {
    char* lo = nullptr;
    size_t size = 0;
};

struct SimThread : ThreadContext {
    State state = State::Unstarted;
    unsigned linear = 0, lane = 0, warp = 0;
    fctx::fcontext_t fiber = nullptr;
    Stack stack;
    void* asan_fake = nullptr;
    SyncCall call{};
    uint64_t result = 0;
};

struct WarpState {
    unsigned present = 0, arrived = 0, exited = 0;
};

// One launch as the workers run it: which block comes when, and in which thread order.
struct Job {
    const KernelLaunch* launch = nullptr;
    Order order = Order::Forward;
    uint64_t blocks = 0;
    std::vector<uint64_t> block_order;  // shuffled orders only
    std::atomic<uint64_t> next{0};
    std::atomic<uint64_t> done{0};
    int active = 0;  // workers inside the job (guarded by the pool's mutex)
};

class Worker;
__thread Worker* this_worker __attribute__((tls_model("initial-exec"))) = nullptr;

class Worker {
public:
    Worker() {
        threads_.resize(kMaxThreadsPerBlock);
        warps_.resize(kMaxThreadsPerBlock / 32);
        order_.resize(kMaxThreadsPerBlock);
    }
    ~Worker() { std::free(smem_); }

    // Once, on the worker's own thread: finds the program's .tbss (the static __shared__ variables).
    void init_on_thread() {
        this_worker = this;
        dl_iterate_phdr(
            [](dl_phdr_info* info, size_t, void* self) -> int {
                auto* w = static_cast<Worker*>(self);
                for (int i = 0; i < info->dlpi_phnum; ++i) {
                    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                    if (ph.p_type != PT_TLS || !info->dlpi_tls_data) continue;
                    char* block = static_cast<char*>(info->dlpi_tls_data);
                    const char* ours = reinterpret_cast<const char*>(&current_thread);
                    if (ours >= block && ours < block + ph.p_memsz) {
                        std::fprintf(stderr,
                                     "cudasim: warning: libcudasim's thread-locals share the program's TLS "
                                     "block (linked statically?); static __shared__ memory is not refilled\n");
                        return 1;
                    }
                    w->tbss_ = block + ph.p_filesz;
                    w->tbss_size_ = ph.p_memsz - ph.p_filesz;
                }
                return 1;  // the program is the first object: stop
            },
            this);
        stack_t ss{};
        if (sigaltstack(nullptr, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
            altstack_.resize(64 * 1024);
            ss.ss_sp = altstack_.data();
            ss.ss_size = altstack_.size();
            ss.ss_flags = 0;
            sigaltstack(&ss, nullptr);
        }
    }

    void run_block(const Job& job, uint64_t linear_block);
    void yield(SimThread& t);
    [[noreturn]] void fail(const SimThread* t, const std::string& what) const;

    const KernelLaunch* launch() const { return launch_; }
    const BlockContext& block() const { return block_; }

    fctx::fcontext_t sched_ = nullptr;
    const void* sched_bottom_ = nullptr;
    size_t sched_size_ = 0;

private:
    Stack take_stack();
    void start(SimThread& t);
    void resume(SimThread& t);
    void after_switch(SimThread& t);
    void warp_arrived(SimThread& t);
    void resolve_warp(unsigned warp, unsigned mask);
    void release_barrier();
    [[noreturn]] void report_stuck() const;

    // The reports, out of line: the hot functions keep small frames (AddressSanitizer pays per stack object).
    [[noreturn, gnu::noinline, gnu::cold]] void bad_mask(const SimThread& t, const char* problem, unsigned lanes) const;
    [[noreturn, gnu::noinline, gnu::cold]] void lanes_mismatch(const SimThread& t, unsigned other_lane) const;
    [[noreturn, gnu::noinline, gnu::cold]] void exited_lane(const SimThread& waiting, unsigned lane) const;
    [[noreturn, gnu::noinline, gnu::cold]] void unread_lane(const SimThread& t, int src) const;
    [[noreturn, gnu::noinline, gnu::cold]] void divergent_barrier(const SimThread& first, const SimThread& t) const;

    std::vector<SimThread> threads_;
    std::vector<WarpState> warps_;
    std::vector<unsigned> order_;
    std::vector<Stack> free_stacks_;
    BlockContext block_{};
    const KernelLaunch* launch_ = nullptr;
    unsigned n_ = 0, live_ = 0, runnable_ = 0, at_barrier_ = 0;
    unsigned char* smem_ = nullptr;
    size_t smem_size_ = size_t(-1);
    char* tbss_ = nullptr;
    size_t tbss_size_ = 0;
    std::vector<char> altstack_;
};

void fiber_main(fctx::transfer_t in) {
    auto* t = static_cast<SimThread*>(in.data);
    Worker* w = this_worker;
    w->sched_ = in.fctx;
    asan_finish_switch(nullptr, &w->sched_bottom_, &w->sched_size_);
    w->launch()->kernel->run_thread();
    t->state = State::Exited;
    asan_start_switch(nullptr, w->sched_bottom_, w->sched_size_);
    fctx::jump_fcontext(w->sched_, nullptr);
    __builtin_unreachable();
}

Stack Worker::take_stack() {
    if (!free_stacks_.empty()) {
        Stack s = free_stacks_.back();
        free_stacks_.pop_back();
        return s;
    }
    const size_t page = 4096, size = (config().stack_bytes + page - 1) / page * page;
    void* m = mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) fatal("cannot map a fiber stack");
    mprotect(m, page, PROT_NONE);  // guard page: an overflow faults and is reported as one
    register_stack_guard(m, page);
    return {static_cast<char*>(m) + page, size};
}

void Worker::start(SimThread& t) {
    t.stack = take_stack();
    t.fiber = fctx::make_fcontext(t.stack.lo + t.stack.size, t.stack.size, fiber_main);
    resume(t);
}

void Worker::resume(SimThread& t) {
    current_thread = &t;
    void* fake = nullptr;
    asan_start_switch(&fake, t.stack.lo, t.stack.size);
    const fctx::transfer_t r = fctx::jump_fcontext(t.fiber, &t);
    asan_finish_switch(fake, nullptr, nullptr);
    current_thread = nullptr;
    t.fiber = r.fctx;
}

void Worker::yield(SimThread& t) {
    asan_start_switch(&t.asan_fake, sched_bottom_, sched_size_);
    const fctx::transfer_t r = fctx::jump_fcontext(sched_, nullptr);
    sched_ = r.fctx;
    asan_finish_switch(t.asan_fake, nullptr, nullptr);
}

void Worker::fail(const SimThread* t, const std::string& what) const {
    std::string msg = what;
    msg += str("\n  in block ", dims(block_.block_idx));
    if (t) msg += str(", thread ", dims(t->thread_idx), " (warp ", t->warp, ", lane ", t->lane, ")");
    fatal(msg);
}

void Worker::run_block(const Job& job, uint64_t linear_block) {
    const LaunchSite& site = job.launch->site;
    launch_ = job.launch;
    const uint64_t gx = site.grid.x, gy = site.grid.y;
    block_.block_idx = {unsigned(linear_block % gx), unsigned(linear_block / gx % gy),
                        unsigned(linear_block / (gx * gy))};
    block_.block_dim = site.block;
    block_.grid_dim = site.grid;

    // Shared memory starts as 0xFF bytes, as if uninitialised.
    if (tbss_) std::memset(tbss_, 0xFF, tbss_size_);
    if (smem_size_ != site.dynamic_smem) {
        std::free(smem_);
        smem_ = nullptr;
        // exactly the launch's size, so that AddressSanitizer sees a read past it
        if (posix_memalign(reinterpret_cast<void**>(&smem_), 16, site.dynamic_smem ? site.dynamic_smem : 1) != 0)
            fatal("cannot allocate dynamic shared memory");
        smem_size_ = site.dynamic_smem;
    }
    std::memset(smem_, 0xFF, smem_size_);
    block_.dynamic_smem = smem_;

    const unsigned bx = site.block.x, by = site.block.y;
    n_ = bx * by * site.block.z;
    for (unsigned i = 0; i < n_; ++i) {
        SimThread& t = threads_[i];
        t.thread_idx = {i % bx, i / bx % by, i / (bx * by)};
        t.block = &block_;
        t.state = State::Unstarted;
        t.linear = i;
        t.lane = i % 32;
        t.warp = i / 32;
        t.asan_fake = nullptr;
    }
    const unsigned n_warps = (n_ + 31) / 32;
    for (unsigned w = 0; w < n_warps; ++w) {
        const unsigned in_warp = std::min(32u, n_ - 32 * w);
        warps_[w] = {in_warp == 32 ? 0xffffffffu : (1u << in_warp) - 1u, 0, 0};
    }
    for (unsigned i = 0; i < n_; ++i) order_[i] = job.order == Order::Reverse ? n_ - 1 - i : i;
    if (job.order == Order::Shuffle) {
        std::mt19937_64 rng(config().seed ^ (job.launch->id * 0x9E3779B97F4A7C15ull) ^ (linear_block << 20));
        std::shuffle(order_.begin(), order_.begin() + n_, rng);
    }

    live_ = runnable_ = n_;
    at_barrier_ = 0;
    while (live_ > 0) {
        for (unsigned k = 0; k < n_; ++k) {
            SimThread& t = threads_[order_[k]];
            if (t.state == State::Unstarted)
                start(t);
            else if (t.state == State::Ready)
                resume(t);
            else
                continue;
            after_switch(t);
        }
        if (runnable_ == 0 && live_ > 0) {
            if (at_barrier_ == live_)
                release_barrier();
            else
                report_stuck();
        }
    }
}

void Worker::after_switch(SimThread& t) {
    --runnable_;
    switch (t.state) {
        case State::Exited: {
            --live_;
            free_stacks_.push_back(t.stack);
            WarpState& w = warps_[t.warp];
            w.exited |= 1u << t.lane;
            for (unsigned l = 0; l < 32; ++l)
                if ((w.arrived >> l & 1u) && (threads_[t.warp * 32 + l].call.mask >> t.lane & 1u))
                    exited_lane(threads_[t.warp * 32 + l], t.lane);
            break;
        }
        case State::Barrier: ++at_barrier_; break;
        case State::Warp: warp_arrived(t); break;
        default: fail(&t, "internal: a simulated thread switched back in an unexpected state");
    }
}

void Worker::warp_arrived(SimThread& t) {
    WarpState& w = warps_[t.warp];
    const SyncCall& c = t.call;
    const unsigned bit = 1u << t.lane, mask = c.mask;
    if (!(mask & bit)) bad_mask(t, "does not name the calling lane", bit);
    if (mask & ~w.present) bad_mask(t, "names lanes that do not exist in this block", mask & ~w.present);
    if (mask & w.exited) bad_mask(t, "names lanes that have exited", mask & w.exited);
    if (c.width < 1 || c.width > 32 || (c.width & (c.width - 1)))
        bad_mask(t, "comes with a width that is not a power of 2 from 1 to 32", 0);
    // Every lane already waiting that shares a lane with this call must wait for the very same call. When the
    // first waiting lane has this mask, it suffices to compare with it: the others matched it on arrival.
    if (w.arrived) {
        const unsigned first = unsigned(std::countr_zero(w.arrived));
        const SyncCall& f = threads_[t.warp * 32 + first].call;
        if (f.mask == mask) {
            if (!same_call(f, c)) lanes_mismatch(t, first);
        } else {
            for (unsigned l = 0; l < 32; ++l) {
                if (!(w.arrived >> l & 1u)) continue;
                const SyncCall& o = threads_[t.warp * 32 + l].call;
                if (((mask >> l & 1u) || (o.mask & bit)) && !same_call(o, c)) lanes_mismatch(t, l);
            }
        }
    }
    w.arrived |= bit;
    if ((w.arrived & mask) == mask) resolve_warp(t.warp, mask);
}

void Worker::bad_mask(const SimThread& t, const char* problem, unsigned which) const {
    const WarpState& w = warps_[t.warp];
    fail(&t,
         str(where(t.call), ": the mask 0x", std::hex, t.call.mask, std::dec, " ", problem,
             which ? str(": lane(s) ", lanes(which)) : std::string(), " (the block has ", n_, " threads; warp ", t.warp,
             " has lanes ", lanes(w.present), ", of which ", w.exited ? lanes(w.exited) : "none", " exited)"));
}

void Worker::lanes_mismatch(const SimThread& t, unsigned l) const {
    const SimThread& o = threads_[t.warp * 32 + l];
    fail(&t, str("lanes of warp ", t.warp, " meet at different warp collectives: lane ", t.lane, " at ", where(t.call),
                 " with mask 0x", std::hex, t.call.mask, std::dec, ", lane ", l, " at ", where(o.call), " with mask 0x",
                 std::hex, o.call.mask, std::dec));
}

void Worker::exited_lane(const SimThread& waiting, unsigned lane) const {
    fail(&waiting, str(where(waiting.call), " with mask 0x", std::hex, waiting.call.mask, std::dec, ": lane ", lane,
                       " named in the mask exited without taking part"));
}

void Worker::unread_lane(const SimThread& t, int src) const {
    fail(&t, str(where(t.call), ": lane ", t.lane, " reads lane ", src, ", which is not in the mask 0x", std::hex,
                 t.call.mask, std::dec, " (its value is undefined)"));
}

void Worker::divergent_barrier(const SimThread& first, const SimThread& t) const {
    fail(&t, str("threads of one block wait at different barriers: thread ", dims(first.thread_idx), " at ",
                 where(first.call), ", thread ", dims(t.thread_idx), " at ", where(t.call),
                 " (a barrier in divergent code)"));
}

void Worker::resolve_warp(unsigned warp, unsigned mask) {
    SimThread* lane = &threads_[warp * 32];
    uint64_t ballot = 0;
    for (unsigned l = 0; l < 32; ++l)
        if ((mask >> l & 1u) && lane[l].call.value) ballot |= uint64_t(1) << l;
    for (unsigned l = 0; l < 32; ++l) {
        if (!(mask >> l & 1u)) continue;
        SimThread& t = lane[l];
        const SyncCall& c = t.call;
        const int width = c.width, seg = int(l) & ~(width - 1);
        int src = int(l);
        switch (c.kind) {
            case Sync::Shfl: src = seg + ((c.lane_arg % width) + width) % width; break;
            case Sync::ShflUp: src = int(l) - c.lane_arg < seg ? int(l) : int(l) - c.lane_arg; break;
            case Sync::ShflDown: src = int(l) + c.lane_arg >= seg + width ? int(l) : int(l) + c.lane_arg; break;
            case Sync::ShflXor: src = (int(l) ^ c.lane_arg) >= seg + width ? int(l) : int(l) ^ c.lane_arg; break;
            default: break;
        }
        switch (c.kind) {
            case Sync::Shfl:
            case Sync::ShflUp:
            case Sync::ShflDown:
            case Sync::ShflXor:
                if (src < 0 || src > 31 || !(mask >> src & 1u)) unread_lane(t, src);
                t.result = lane[src].call.value;
                break;
            case Sync::Ballot: t.result = ballot; break;
            case Sync::Any: t.result = ballot != 0; break;
            case Sync::All: t.result = ballot == mask; break;
            default: t.result = 0; break;
        }
    }
    for (unsigned l = 0; l < 32; ++l)
        if (mask >> l & 1u) {
            lane[l].state = State::Ready;
            ++runnable_;
        }
    warps_[warp].arrived &= ~mask;
}

void Worker::release_barrier() {
    const SimThread* first = nullptr;
    uint64_t count = 0;
    for (unsigned i = 0; i < n_; ++i) {
        const SimThread& t = threads_[i];
        if (t.state != State::Barrier) continue;
        if (!first)
            first = &t;
        else if (t.call.kind != first->call.kind || !same_place(t.call.where, first->call.where))
            divergent_barrier(*first, t);
        count += t.call.value;
    }
    uint64_t result = 0;
    switch (first->call.kind) {
        case Sync::BarrierCount: result = count; break;
        case Sync::BarrierAnd: result = count == at_barrier_; break;
        case Sync::BarrierOr: result = count != 0; break;
        default: break;
    }
    for (unsigned i = 0; i < n_; ++i) {
        SimThread& t = threads_[i];
        if (t.state != State::Barrier) continue;
        t.result = result;
        t.state = State::Ready;
    }
    runnable_ = at_barrier_;
    at_barrier_ = 0;
}

void Worker::report_stuck() const {
    // Nothing can run: some threads wait at a barrier that the others, stuck in warp collectives waiting for
    // lanes that sit at that barrier, will never reach.
    const SimThread* at_barrier = nullptr;
    const SimThread* in_warp = nullptr;
    for (unsigned i = 0; i < n_; ++i) {
        const SimThread& t = threads_[i];
        if (t.state == State::Barrier && !at_barrier) at_barrier = &t;
        if (t.state == State::Warp && !in_warp) in_warp = &t;
    }
    std::string msg = str("deadlock: ", at_barrier_, " of the block's ", live_, " live threads wait at ",
                          at_barrier ? where(at_barrier->call) : std::string("a barrier"));
    if (in_warp) {
        const unsigned missing = in_warp->call.mask & ~warps_[in_warp->warp].arrived;
        msg += str(", while lanes of warp ", in_warp->warp, " wait at ", where(in_warp->call), " for lane(s) ",
                   lanes(missing), " that are at the barrier (a barrier or collective in divergent code)");
    }
    fail(in_warp ? in_warp : at_barrier, msg);
}

// ---- the worker pool -------------------------------------------------------------------------------------

class Pool {
public:
    static Pool& instance() {
        static Pool* p = new Pool();  // leaked: workers live until the process ends
        return *p;
    }

    // Runs every block of the job; returns when all are done.
    void run(Job& job) {
        std::unique_lock<std::mutex> lock(mu_);
        job_ = &job;
        ++generation_;
        wake_.notify_all();
        done_.wait(lock, [&] { return job.done.load() == job.blocks && job.active == 0; });
        job_ = nullptr;
    }

private:
    Pool() {
        const int n = std::max(1, config().workers);
        for (int i = 0; i < n; ++i) {
            auto* w = new Worker();
            std::thread([this, w] { loop(w); }).detach();
        }
    }

    void loop(Worker* w) {
        w->init_on_thread();
        uint64_t seen = 0;
        for (;;) {
            Job* job = nullptr;
            {
                std::unique_lock<std::mutex> lock(mu_);
                wake_.wait(lock, [&] { return generation_ != seen && job_; });
                seen = generation_;
                job = job_;
                ++job->active;
            }
            for (uint64_t k; (k = job->next.fetch_add(1)) < job->blocks;) {
                const uint64_t b = job->order == Order::Forward   ? k
                                   : job->order == Order::Reverse ? job->blocks - 1 - k
                                                                  : job->block_order[k];
                w->run_block(*job, b);
                job->done.fetch_add(1);
            }
            std::lock_guard<std::mutex> lock(mu_);
            --job->active;
            done_.notify_all();
        }
    }

    std::mutex mu_;
    std::condition_variable wake_, done_;
    Job* job_ = nullptr;
    uint64_t generation_ = 0;
};

void execute(const KernelLaunch& k, Order order) {
    Job job;
    job.launch = &k;
    job.order = order;
    job.blocks = uint64_t(k.site.grid.x) * k.site.grid.y * k.site.grid.z;
    if (order == Order::Shuffle) {
        job.block_order.resize(job.blocks);
        for (uint64_t i = 0; i < job.blocks; ++i) job.block_order[i] = i;
        std::mt19937_64 rng(config().seed * 0x2545F4914F6CDD1Dull + k.id);
        std::shuffle(job.block_order.begin(), job.block_order.end(), rng);
    }
    Pool::instance().run(job);
}

// The device allocations a launch can write: those its pointer arguments point into, and those that any
// aligned 8-byte word of its class-type arguments points into (pointers inside argument structs).
std::vector<const Allocation*> reachable(const KernelLaunch& k) {
    std::vector<const Allocation*> out;
    auto add = [&](const void* p) {
        const Allocation* a = memory().find(p, 0);
        if (a && a->device == k.device && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    };
    for (const auto& p : k.kernel->pointer_args) add(p.value);
    for (const auto& [obj, size] : k.kernel->object_args) {
        const char* bytes = static_cast<const char*>(obj);
        for (size_t off = (8 - reinterpret_cast<uintptr_t>(bytes) % 8) % 8; off + 8 <= size; off += 8) {
            const void* word;
            std::memcpy(&word, bytes + off, 8);
            add(word);
        }
    }
    return out;
}

void race_checked(const KernelLaunch& k) {
    const std::vector<const Allocation*> allocs = reachable(k);
    std::vector<std::vector<char>> before(allocs.size()), first(allocs.size());
    for (size_t i = 0; i < allocs.size(); ++i) before[i].assign(allocs[i]->ptr, allocs[i]->ptr + allocs[i]->size);
    execute(k, Order::Forward);
    for (size_t i = 0; i < allocs.size(); ++i) {
        first[i].assign(allocs[i]->ptr, allocs[i]->ptr + allocs[i]->size);
        std::memcpy(allocs[i]->ptr, before[i].data(), before[i].size());
    }
    const Order second = config().race_order;
    execute(k, second);
    for (size_t i = 0; i < allocs.size(); ++i) {
        const Allocation& a = *allocs[i];
        if (std::memcmp(first[i].data(), a.ptr, a.size) == 0) continue;
        size_t differ = 0, at = a.size;
        for (size_t b = 0; b < a.size; ++b)
            if (first[i][b] != a.ptr[b]) {
                ++differ;
                if (at == a.size) at = b;
            }
        const size_t w = at / 4 * 4;
        float f1 = 0, f2 = 0;
        if (w + 4 <= a.size) {
            std::memcpy(&f1, first[i].data() + w, 4);
            std::memcpy(&f2, a.ptr + w, 4);
        }
        fatal(str("race: kernel ", k.site.kernel, " (launched at ", k.site.file, ":", k.site.line,
                  ") gives different results in two thread orders (forward, then ", order_name(second), "): ", differ,
                  " bytes of device allocation #", a.id, " (", a.size, " bytes on cuda:", a.device,
                  ") differ, the first at byte ", at, " (as float: ", f1, " vs ", f2,
                  "). Threads exchange data without a barrier between them, or blocks write the same memory."));
    }
}

}  // namespace

void KernelLaunch::run() const {
    if (config().race_check)
        race_checked(*this);
    else
        execute(*this, config().order);
}

// Called by the kernel's own code (device.hpp), on its fiber.
uint64_t detail::synchronize(const SyncCall& call) {
    auto* t = static_cast<SimThread*>(current_thread);
    if (!t)
        fatal(str(sync_name(call.kind), " called outside a kernel (", call.where.file_name(), ":", call.where.line(),
                  ")"));
    t->call = call;
    t->state = is_barrier(call.kind) ? State::Barrier : State::Warp;
    this_worker->yield(*t);
    return t->result;
}

// Device context for reports made while a kernel runs on this thread (fatal() in runtime.cpp).
std::string device_context() {
    const Worker* w = this_worker;
    if (!w || !w->launch()) return {};
    const KernelLaunch& k = *w->launch();
    return str("\n  kernel ", k.site.kernel, " launched at ", k.site.file, ":", k.site.line, " on cuda:", k.device,
               ", grid ", dims(k.site.grid), ", block ", dims(k.site.block), ", ", k.site.dynamic_smem,
               " bytes of dynamic shared memory");
}

}  // namespace cudasim
