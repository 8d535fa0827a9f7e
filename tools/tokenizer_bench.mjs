#!/usr/bin/env node
// Times HuggingFace tokenizers (the Rust core, through its Node binding) on the same work as
// bench/bench_tokenizer.cpp: GoEmotions train.tsv with bert-base-uncased when ../shared/data has
// them, else tests/fixtures/tokenizer/corpus.json with the fixture vocabulary.
//
//   npm ci --prefix tools/tokenizer_node
//   node tools/tokenizer_bench.mjs                      # batch uses all cores (Rayon)
//   RAYON_NUM_THREADS=1 node tools/tokenizer_bench.mjs  # batch on one thread
//   node tools/tokenizer_bench.mjs --json               # last line: {"version", "encode_ms", "encodeBatch_ms"}
//
// "encode" awaits one encode() per text, so it includes the binding's per-call cost (N-API, a
// promise, a JS Encoding object); "encodeBatch" sends 1024 texts per call, so that cost is small.
import { createRequire } from 'module';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { fileURLToPath } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(path.join(here, 'tokenizer_node', 'package.json'));
const tk = process.env.TEMPER_TOKENIZERS_JS ? require(path.resolve(process.env.TEMPER_TOKENIZERS_JS)) : require('tokenizers');

const shared = path.join(root, '..', 'shared', 'data');
let texts, vocab;
if (fs.existsSync(path.join(shared, 'goemotions', 'train.tsv')) && fs.existsSync(path.join(shared, 'bert-base-uncased', 'vocab.txt'))) {
  texts = fs.readFileSync(path.join(shared, 'goemotions', 'train.tsv'), 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0]);
  vocab = path.join(shared, 'bert-base-uncased', 'vocab.txt');
} else {
  texts = JSON.parse(fs.readFileSync(path.join(root, 'tests', 'fixtures', 'tokenizer', 'corpus.json'), 'utf8')).lines;
  vocab = path.join(root, 'tests', 'fixtures', 'tokenizer', 'vocab_uncased.txt');
}
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);

const model = await tk.WordPiece.fromFile(vocab, { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
const t = new tk.Tokenizer(model);
t.setNormalizer(tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }));
t.setPreTokenizer(tk.bertPreTokenizer());
t.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
t.setPostProcessor(tk.templateProcessing('[CLS]:0 $A:0 [SEP]:0', '[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1',
  [['[CLS]', t.tokenToId('[CLS]')], ['[SEP]', t.tokenToId('[SEP]')]]));

async function time(name, fn, reps = 5) {
  await fn();  // warm-up
  const ms = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    await fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const med = ms[Math.floor(ms.length / 2)];
  if (json) return med;
  console.log(`${name.padEnd(34)} ${med.toFixed(1).padStart(8)} ms   ${(bytes / med / 1e3).toFixed(2).padStart(7)} MB/s   ${(texts.length / med).toFixed(1).padStart(7)} k texts/s`);
}

const json = process.argv.includes('--json');
const version = JSON.parse(fs.readFileSync(require.resolve('tokenizers/package.json'))).version;
if (!json) console.log(`HF tokenizers ${version} via Node ${process.version}, ` +
  `${texts.length} texts, ${(bytes / 1e6).toFixed(2)} MB, ${os.cpus().length} cores (${os.cpus()[0].model}), RAYON_NUM_THREADS=${process.env.RAYON_NUM_THREADS ?? 'unset'}`);
const encodeMs = json ? null : await time('encode (one await per text)', async () => {
  for (const s of texts) await t.encode(s);
});
t.setTruncation(128);
t.setPadding({ padId: t.tokenToId('[PAD]'), padToken: '[PAD]' });
const batchMs = await time('encodeBatch (1024 per call, 128)', async () => {
  for (let i = 0; i < texts.length; i += 1024) await t.encodeBatch(texts.slice(i, i + 1024));
});
if (json) console.log(JSON.stringify({ version, texts: texts.length, bytes, encode_ms: encodeMs, encodeBatch_ms: batchMs }));
