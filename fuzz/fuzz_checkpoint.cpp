// A checkpoint directory through the file system: the input is model.safetensors next to a fixed tiny
// config.json. SafeTensors::open (mmap) and from_pretrained (names, shapes, dtypes, conversion into the
// model) accept or throw temper::Error; a model that loads runs a forward pass.
#include "fuzz_util.hpp"
#include "temper/temper.hpp"

using namespace temper;

static const char* kConfig = R"({"vocab_size": 10, "dim": 4, "n_layers": 1, "n_heads": 2, "hidden_dim": 8,
  "max_position_embeddings": 8, "id2label": {"0": "neg", "1": "pos"}})";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string dir = [] {
        temper_fuzz::write_scratch("config.json", reinterpret_cast<const uint8_t*>(kConfig), std::strlen(kConfig));
        return temper_fuzz::scratch_dir().string();
    }();
    const std::string path = temper_fuzz::write_scratch("model.safetensors", data, size);
    try {
        const auto st = io::SafeTensors::open(path);
        FUZZ_CHECK(st.tensors().size() <= size);
    } catch (const Error&) {}
    try {
        auto m = models::DistilBertForSequenceClassification<float>::from_pretrained(dir, {.verbose = false});
        FUZZ_CHECK(m.config.dim == 4 && m.classifier.weight.numel() == 8);
        NoGradGuard ng;
        m.eval();
        const auto logits = m(Tensor<int64_t>::from_vector({1, 5, 9, 2}, {1, 4}));
        FUZZ_CHECK(logits.numel() == 2);
    } catch (const Error&) {}
    return 0;
}
