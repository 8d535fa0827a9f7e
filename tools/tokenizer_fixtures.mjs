#!/usr/bin/env node
// Writes the expected outputs of HuggingFace tokenizers (the Rust core, through its Node binding)
// that tests/test_tokenizer*.cpp compare against.
//
//   npm ci --prefix tools/tokenizer_node                 # tokenizers@0.23.2, pinned in package-lock.json
//   node tools/tokenizer_fixtures.mjs                    # -> tests/fixtures/tokenizer/{hf_*,tokenizer_*}.json
//   node tools/tokenizer_fixtures.mjs --goemotions       # -> .devdata/tokenizer/goemotions_bert-base-uncased.jsonl
//                                                        #    (real vocab + GoEmotions from ../shared/data; never committed)
// Set TEMPER_TOKENIZERS_JS=/path/to/node_modules/tokenizers to use another copy of the package.
//
// The tokenizer is built like transformers' BertTokenizerFast (its BertConverter): BertNormalizer,
// BertPreTokenizer, WordPiece(unk [UNK], "##", max_input_chars_per_word 100), TemplateProcessing
// "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1", WordPiece decoder, and [PAD] [UNK] [CLS] [SEP]
// [MASK] as special added tokens. Offsets from the Node binding are in code points.
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';
import { fileURLToPath } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(path.join(here, 'tokenizer_node', 'package.json'));
const tk = process.env.TEMPER_TOKENIZERS_JS ? require(path.resolve(process.env.TEMPER_TOKENIZERS_JS)) : require('tokenizers');
const tkVersion = JSON.parse(fs.readFileSync(require.resolve(
  process.env.TEMPER_TOKENIZERS_JS ? path.join(path.resolve(process.env.TEMPER_TOKENIZERS_JS), 'package.json') : 'tokenizers/package.json'))).version;

const fixtures = path.join(root, 'tests', 'fixtures', 'tokenizer');
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

// normalizer = null builds a tokenizer with no normalizer, no post-processor and no decoder.
async function bertTokenizer(vocabFile, normalizer) {
  const model = await tk.WordPiece.fromFile(vocabFile, { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
  const t = new tk.Tokenizer(model);
  t.setPreTokenizer(tk.bertPreTokenizer());
  t.addSpecialTokens(SPECIALS);
  if (normalizer === null) return t;
  t.setNormalizer(tk.bertNormalizer(normalizer));
  t.setPostProcessor(tk.templateProcessing('[CLS]:0 $A:0 [SEP]:0', '[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1',
    [['[CLS]', t.tokenToId('[CLS]')], ['[SEP]', t.tokenToId('[SEP]')]]));
  t.setDecoder(tk.wordPieceDecoder('##', true));
  return t;
}

// One JSON value per line inside arrays of records: small diffs when something changes.
function writeJson(file, obj) {
  const parts = [];
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v) && v.length && typeof v[0] === 'object') {
      parts.push(`${JSON.stringify(k)}: [\n${v.map((x) => '  ' + JSON.stringify(x)).join(',\n')}\n]`);
    } else {
      parts.push(`${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    }
  }
  fs.writeFileSync(file, '{\n' + parts.join(',\n') + '\n}\n');
}

// Encodes every input of a case; which fields are kept depends on what the case checks.
async function runCase(t, name, inputs, { pair = false, addSpecialTokens = true, maxLength = null, offsets = false, tokens = false }) {
  if (maxLength) t.setTruncation(maxLength, { strategy: 'LongestFirst' });
  else t.disableTruncation();
  const results = [];
  for (const x of inputs) {
    const e = pair ? await t.encode(x[0], x[1], { addSpecialTokens }) : await t.encode(x, null, { addSpecialTokens });
    const r = { ids: e.getIds() };
    if (pair) r.type_ids = e.getTypeIds();
    if (offsets) r.offsets = e.getOffsets().flat();
    if (tokens) r.tokens = e.getTokens();
    results.push(r);
  }
  t.disableTruncation();
  return { name, pair, add_special_tokens: addSpecialTokens, max_length: maxLength, results };
}

async function writeConfig(name, vocab, normalizer, corpus, { full = true, extraTokens = null, lines = null, pairs = null } = {}) {
  const t = await bertTokenizer(path.join(fixtures, vocab), normalizer);
  if (extraTokens) t.addAddedTokens(extraTokens.map(([content, special, opts]) => new tk.AddedToken(content, special, opts)));
  lines = lines ?? corpus.lines;
  pairs = pairs ?? corpus.pairs;
  const cases = [await runCase(t, 'single', lines, { offsets: true, tokens: true })];
  cases.push(await runCase(t, 'pair', pairs, { pair: true, offsets: true }));
  if (full) {
    cases.push(await runCase(t, 'single_plain', lines, { addSpecialTokens: false }));
    cases.push(await runCase(t, 'single_trunc8', lines, { maxLength: 8, offsets: true }));
    cases.push(await runCase(t, 'pair_plain', pairs, { pair: true, addSpecialTokens: false }));
    cases.push(await runCase(t, 'pair_trunc12', pairs, { pair: true, maxLength: 12, offsets: true }));
    cases.push(await runCase(t, 'pair_trunc12_plain', pairs, { pair: true, maxLength: 12, addSpecialTokens: false }));
  }
  const decode = [];
  for (const r of cases[0].results) decode.push([await t.decode(r.ids, true), await t.decode(r.ids, false)]);
  t.save(path.join(fixtures, `tokenizer_${name}.json`), true);
  writeJson(path.join(fixtures, `hf_${name}.json`), {
    generator: 'tools/tokenizer_fixtures.mjs',
    tokenizers: `${tkVersion} (Rust core via the Node binding)`,
    offsets_unit: 'code points',
    vocab,
    tokenizer_json: `tokenizer_${name}.json`,
    normalizer,
    lines,
    pairs,
    cases,
    decode: decode.map(([skip, keep]) => ({ skip, keep })),
  });
  console.log(`hf_${name}.json: ${lines.length} lines, ${pairs.length} pairs, ${cases.length} cases`);
}

// ---- pair truncation (longest_first) over a grid of lengths ---------------------------------------

async function writeTruncation() {
  const t = await bertTokenizer(path.join(fixtures, 'vocab_uncased.txt'), {});
  const [ida, idb] = [t.tokenToId('a'), t.tokenToId('b')];
  const rows = [];
  for (const special of [false, true]) {
    for (const m of special ? [3, 4, 5, 6, 7, 11, 12] : [0, 1, 2, 3, 4, 5, 8, 9]) {
      t.setTruncation(m, { strategy: 'LongestFirst' });
      for (let a = 0; a <= 14; a++) {
        for (let b = 0; b <= 14; b++) {
          const ids = (await t.encode('a '.repeat(a), 'b '.repeat(b), { addSpecialTokens: special })).getIds();
          rows.push([special ? 1 : 0, m, a, b, ids.filter((x) => x === ida).length, ids.filter((x) => x === idb).length]);
        }
      }
    }
  }
  writeJson(path.join(fixtures, 'hf_truncation.json'), {
    generator: 'tools/tokenizer_fixtures.mjs',
    tokenizers: `${tkVersion} (Rust core via the Node binding)`,
    what: 'encode("a " * len_a, "b " * len_b), truncation longest_first to max_length, with or without [CLS] a [SEP] b [SEP]',
    columns: ['add_special_tokens', 'max_length', 'len_a', 'len_b', 'kept_a', 'kept_b'],
    rows: rows.map((r) => r.join(' ')),
  });
  console.log(`hf_truncation.json: ${rows.length} rows`);
}

// ---- every code point: normalizer and pre-tokenizer behaviour, as per-block hashes -------------

// Letters assigned in Unicode 16/17 that Rust's std lowercases. Our tables come from the UCD 15.0
// of Debian's unicode-data and do not know them; docs/tokenizer.md lists this difference.
const AFTER_UCD_15 = [0x1C89, 0xA7CB, 0xA7CC, 0xA7CE, 0xA7D2, 0xA7D4, 0xA7DA, 0xA7DC];
for (let c = 0x10D50; c <= 0x10D65; c++) AFTER_UCD_15.push(c);
for (let c = 0x16EA0; c <= 0x16EB8; c++) AFTER_UCD_15.push(c);

function fnv1a(h, bytes) {
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

function writeUnicode() {
  const features = {
    uncased: tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }),
    cased: tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: false }),
    lowercase: tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true }),
    strip: tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false }),
  };
  const pre = tk.bertPreTokenizer();
  const skip = new Set(AFTER_UCD_15);
  const names = [...Object.keys(features), 'reorder', 'pretok'];
  const hashes = Object.fromEntries(names.map((n) => [n, []]));
  const sep = Buffer.from([0xff]);
  for (let block = 0; block < 0x110000 >> 12; block++) {
    const h = Object.fromEntries(names.map((n) => [n, 0x811c9dc5]));
    for (let cp = block << 12; cp < (block + 1) << 12; cp++) {
      if ((cp >= 0xd800 && cp < 0xe000) || skip.has(cp)) continue;
      const c = String.fromCodePoint(cp);
      for (const [n, norm] of Object.entries(features)) h[n] = fnv1a(fnv1a(h[n], Buffer.from(norm.normalizeString(c))), sep);
      // Canonical reordering around two spacing marks that survive stripping (ccc 226 and 216).
      const r = features.strip.normalizeString('x\u{1D16D}' + c + '\u{1D165}');
      h.reorder = fnv1a(fnv1a(h.reorder, Buffer.from(r)), sep);
      // 1 piece: part of a word, 2: whitespace, 3: punctuation.
      h.pretok = fnv1a(h.pretok, [pre.preTokenizeString('a' + c + 'a').length, 0xff]);
    }
    for (const n of names) hashes[n].push(h[n].toString(16).padStart(8, '0'));
  }
  writeJson(path.join(fixtures, 'hf_unicode.json'), {
    generator: 'tools/tokenizer_fixtures.mjs',
    tokenizers: `${tkVersion} (Rust core via the Node binding)`,
    hash: 'FNV-1a 32 over, for each code point of a 4096-code-point block (surrogates and skip excluded), the UTF-8 of the output then 0xFF; pretok hashes the piece count then 0xFF',
    features: {
      uncased: 'BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase) of the code point',
      cased: 'BertNormalizer(clean_text, handle_chinese_chars) of the code point',
      lowercase: 'BertNormalizer(lowercase) of the code point',
      strip: 'BertNormalizer(strip_accents) of the code point',
      reorder: 'BertNormalizer(strip_accents) of "x" U+1D16D cp U+1D165',
      pretok: 'number of BertPreTokenizer pieces of "a" cp "a"',
    },
    skip: AFTER_UCD_15,
    hashes,
  });
  console.log('hf_unicode.json written');
}

// ---- GoEmotions with the real bert-base-uncased vocabulary (local only) -------------------------

async function writeGoEmotions(shared, outDir) {
  const vocab = path.join(shared, 'data', 'bert-base-uncased', 'vocab.txt');
  const t = await bertTokenizer(vocab, { cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true });
  fs.mkdirSync(outDir, { recursive: true });
  const out = [];
  const pairTexts = [];
  for (const file of ['train.tsv', 'dev.tsv', 'test.tsv']) {
    const lines = fs.readFileSync(path.join(shared, 'data', 'goemotions', file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === '') continue;
      const text = lines[i].split('\t')[0];
      const e = await t.encode(text, null);
      out.push(JSON.stringify({ file, line: i, ids: e.getIds(), offsets: e.getOffsets().flat() }));
      if (file === 'dev.tsv') pairTexts.push([i, text]);
    }
  }
  // Pairs of consecutive dev lines, truncated to 32 tokens: longest_first on real text.
  t.setTruncation(32, { strategy: 'LongestFirst' });
  for (let k = 0; k + 1 < pairTexts.length; k += 2) {
    const e = await t.encode(pairTexts[k][1], pairTexts[k + 1][1]);
    out.push(JSON.stringify({ file: 'dev.tsv', pair: [pairTexts[k][0], pairTexts[k + 1][0]], max_length: 32, ids: e.getIds(), type_ids: e.getTypeIds(), offsets: e.getOffsets().flat() }));
  }
  const file = path.join(outDir, 'goemotions_bert-base-uncased.jsonl');
  fs.writeFileSync(file, out.join('\n') + '\n');
  console.log(`${file}: ${out.length} records (tokenizers ${tkVersion})`);
}

const args = process.argv.slice(2);
if (args.includes('--goemotions')) {
  const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
  await writeGoEmotions(path.resolve(opt('--shared', path.join(root, '..', 'shared'))), path.resolve(opt('--out', path.join(root, '.devdata', 'tokenizer'))));
} else {
  const corpus = JSON.parse(fs.readFileSync(path.join(fixtures, 'corpus.json'), 'utf8'));
  await writeConfig('uncased', 'vocab_uncased.txt', { cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }, corpus);
  await writeConfig('cased', 'vocab_cased.txt', { cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: false }, corpus);
  // lowercase without accent stripping and without CJK spacing: exercises 'İ' -> "i̇" and the flags.
  await writeConfig('lower_nostrip', 'vocab_uncased.txt', { cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: true }, corpus, { full: false });
  // Added tokens beyond the specials: stripping, normalized and non-special ones.
  const added = [
    ['[NAME]', true, { normalized: false }],
    ['<emo>', true, { leftStrip: true, rightStrip: true, normalized: false }],
    ['NewWord', false, { normalized: true }],
    ['Ünïcode', false, { normalized: true }],
    ['@@', false, { normalized: false }],
  ];
  const addedLines = ['[NAME] is the best', 'hi [NAME]!', 'a <emo> b', 'a  <emo>  b', '<emo><emo>', 'x\t<emo>\ny', 'newword NEWWORD NewWords',
    'unicode UNICODE Ünïcode ünicode', '@@ mention@@x', '[name] [NAME][NAME]', 'the [MASK] <emo> [NAME] newword @@', ...corpus.lines.slice(0, 40)];
  const addedPairs = [['[NAME] said', 'newword <emo> @@'], ['<emo>', '[NAME]'], ...corpus.pairs.slice(0, 6)];
  await writeConfig('added', 'vocab_uncased.txt', { cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }, corpus,
    { full: false, extraTokens: added, lines: addedLines, pairs: addedPairs });
  // No normalizer, post-processor or decoder: raw text into the pre-tokenizer, tokens joined by spaces.
  await writeConfig('bare', 'vocab_cased.txt', null, corpus, { full: false });
  await writeTruncation();
  writeUnicode();
}
