// The tokenizer on arbitrary bytes: two fixed tokenizers (tokenizer.json with added tokens, and a bare
// vocab.txt), options drawn from the input. Checks the invariants of every Encoding: parallel arrays of one
// length, ids inside the vocabulary, offsets inside the text, truncation to max_length, and that decode,
// tokenize and char_offsets run.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_util.hpp"
#include "temper/text/wordpiece.hpp"

using namespace temper;

static void check_encoding(const text::Encoding& e, const text::WordPiece& tok, size_t len_a, size_t len_b,
                           const text::EncodeOptions& o) {
    const size_t n = e.ids.size();
    FUZZ_CHECK(e.type_ids.size() == n && e.attention_mask.size() == n && e.offsets.size() == n && e.tokens.size() == n);
    for (size_t i = 0; i < n; ++i) {
        FUZZ_CHECK(e.ids[i] >= 0 && size_t(e.ids[i]) < tok.vocab_size());
        FUZZ_CHECK(e.offsets[i].first <= e.offsets[i].second);
        FUZZ_CHECK(e.offsets[i].second <= (e.type_ids[i] == 0 ? len_a : len_b));
        FUZZ_CHECK(e.attention_mask[i] == 0 || e.attention_mask[i] == 1);
    }
    if (o.truncation && o.padding != text::Padding::MaxLength) FUZZ_CHECK(n <= o.max_length);
    if (o.truncation && o.padding == text::Padding::MaxLength) FUZZ_CHECK(n == o.max_length);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto added =
        text::WordPiece::from_tokenizer_json(TEMPER_FIXTURES_DIR "/tokenizer/tokenizer_added.json");
    static const auto bare = text::WordPiece::from_vocab_file(TEMPER_FIXTURES_DIR "/tokenizer/vocab_cased.txt");
    FuzzedDataProvider in(data, size);
    const auto& tok = in.ConsumeBool() ? added : bare;
    text::EncodeOptions o;
    o.truncation = in.ConsumeBool();
    o.add_special_tokens = in.ConsumeBool();
    o.padding = in.PickValueInArray({text::Padding::None, text::Padding::Longest, text::Padding::MaxLength});
    o.max_length = in.ConsumeIntegralInRange<size_t>(0, 40);
    o.num_threads = 1;
    const std::string a = in.ConsumeRandomLengthString(), b = in.ConsumeRemainingBytesAsString();
    try {
        const auto e = tok.encode(a, o);
        check_encoding(e, tok, a.size(), 0, o);
        (void)tok.decode(e.ids);
        (void)tok.decode(e.ids, true);
        (void)text::char_offsets(a, e.offsets);
    } catch (const Error&) {  // max_length below the special tokens' count
    }
    try {
        const auto e = tok.encode_pair(a, b, o);
        check_encoding(e, tok, a.size(), b.size(), o);
        const auto batch = tok.encode_batch(std::vector<std::pair<std::string, std::string>>{{a, b}, {b, a}}, o);
        // The batch row equals the single encoding unless padding to the batch's longest row changes it.
        if (o.padding == text::Padding::None || (o.padding == text::Padding::MaxLength && o.truncation))
            FUZZ_CHECK(batch.encodings[0].ids == e.ids);
        FUZZ_CHECK(batch.input_ids.size() == batch.batch * batch.seq_len);
    } catch (const Error&) {}
    (void)tok.tokenize(a);
    return 0;
}
