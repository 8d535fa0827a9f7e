// tokenizer.json: WordPiece::from_json accepts or throws temper::Error (never a JSON library exception). A
// tokenizer that loads encodes, truncates, pads and decodes without leaving its vocabulary.
#include "fuzz_util.hpp"
#include "temper/text/wordpiece.hpp"

using namespace temper;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return 0;  // not JSON: covered by the file readers' own error path
    try {
        const auto tok = text::WordPiece::from_json(j, "tokenizer.json");
        const std::string a = "Hello, WORLD! [MASK] unaffable ##ing 中文 café <special> ", b = "[SEP] x  yes";
        for (const auto& e :
             {tok.encode(a), tok.encode_pair(a, b, {.max_length = 12, .padding = text::Padding::MaxLength})}) {
            FUZZ_CHECK(e.ids.size() == e.offsets.size() && e.ids.size() == e.attention_mask.size());
            for (int64_t id : e.ids) FUZZ_CHECK(id >= 0 && size_t(id) < tok.vocab_size());
            (void)tok.decode(e.ids, true);
        }
    } catch (const Error&) {}
    return 0;
}
