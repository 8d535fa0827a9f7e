// vocab.txt: WordPiece::from_vocab_file accepts or throws temper::Error. A tokenizer that loads encodes,
// decodes and maps ids back to tokens without leaving its vocabulary.
#include "fuzz_util.hpp"
#include "temper/text/wordpiece.hpp"

using namespace temper;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = temper_fuzz::write_scratch("vocab.txt", data, size);
    try {
        const auto tok = text::WordPiece::from_vocab_file(path);
        const auto e =
            tok.encode_pair("Hello, WORLD! [MASK] unaffable ##ing 中文 café", "[SEP] [PAD]x", {.max_length = 32});
        for (int64_t id : e.ids) FUZZ_CHECK(id >= 0 && size_t(id) < tok.vocab_size());
        (void)tok.decode(e.ids);
        (void)tok.decode(e.ids, true);
        for (size_t i = 0; i < tok.vocab_size(); ++i)
            FUZZ_CHECK(tok.token_to_id(tok.id_to_token(int64_t(i))).has_value());
    } catch (const Error&) {}
    return 0;
}
