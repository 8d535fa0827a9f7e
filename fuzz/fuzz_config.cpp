// config.json: DistilBertConfig accepts or throws temper::Error. An accepted config passes validate() and
// survives to_json -> from_json unchanged.
#include "fuzz_util.hpp"
#include "temper/models/distilbert_config.hpp"

using namespace temper;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const auto j = io::parse_json_file(std::string(reinterpret_cast<const char*>(data), size), "config.json");
        const auto c = models::DistilBertConfig::from_json(j, "config.json");
        c.validate("config.json");
        FUZZ_CHECK(c.dim % c.n_heads == 0 && c.vocab_size >= 1 && c.num_labels() >= 1);
        const auto again = models::DistilBertConfig::from_json(c.to_json(), "round trip");
        FUZZ_CHECK(again.to_json() == c.to_json());
    } catch (const Error&) {}
    return 0;
}
