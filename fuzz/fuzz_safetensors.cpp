// safetensors from memory: SafeTensors::from_bytes accepts or throws temper::Error, never anything else.
// An accepted file's tensors tile the data buffer exactly, and each reads back as every type it converts to.
#include "fuzz_util.hpp"
#include "temper/io/safetensors.hpp"

using namespace temper;

template <class T>
static void try_read(const io::SafeTensors& st, const io::TensorInfo& t) {
    try {
        FUZZ_CHECK(st.read_as<T>(t.name).size() == size_t(t.numel()));
    } catch (const Error&) {  // dtype that does not convert, or an integer out of range
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data),
                                 reinterpret_cast<const std::byte*>(data) + size);
    try {
        const auto st = io::SafeTensors::from_bytes(std::move(bytes), "fuzz.safetensors");
        uint64_t header = 0;
        std::memcpy(&header, data, 8);
        uint64_t covered = 0;
        for (const auto& t : st.tensors()) {
            FUZZ_CHECK(t.begin == covered);
            FUZZ_CHECK(st.bytes(t).size() == uint64_t(t.numel()) * dtype_size(t.dtype));
            FUZZ_CHECK(st.find(t.name) == &t);
            covered = t.end;
            try_read<float>(st, t);
            try_read<double>(st, t);
            try_read<bf16>(st, t);
            try_read<f16>(st, t);
            try_read<int64_t>(st, t);
            try_read<int32_t>(st, t);
        }
        FUZZ_CHECK(8 + header + covered == size);
    } catch (const Error&) {}
    return 0;
}
