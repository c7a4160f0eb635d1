// Renders every template of Fixtures/ChatTemplates/templates.json on a set of conversations with
// @huggingface/jinja (Hugging Face's JavaScript Jinja for chat templates), passing the variables transformers'
// apply_chat_template passes: messages, add_generation_prompt, tools = none, documents = none and the special tokens
// that are set. Writes Fixtures/ChatTemplates/expected.json.
//
// Usage: npm install && TZ=UTC LANG=C node render-chat-templates.mjs
import fs from "node:fs";
import path from "node:path";
import { Template } from "@huggingface/jinja";

const here = path.dirname(new URL(import.meta.url).pathname);
const dir = path.join(here, "../../test/Microsoft.ML.NEFTune.Tests/Fixtures/ChatTemplates");
const templates = JSON.parse(fs.readFileSync(path.join(dir, "templates.json"), "utf8"));
const conversations = JSON.parse(fs.readFileSync(path.join(dir, "conversations.json"), "utf8"));

// strftime_now is @huggingface/jinja's own, reading the clock: the clock is pinned to 2025-03-07 09:05:03 (a
// Friday) in UTC and in English month names (run with TZ=UTC and LANG=C, as the npm script "render" does).
const pinnedMs = Date.UTC(2025, 2, 7, 9, 5, 3);
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    super(...(args.length ? args : [pinnedMs]));
  }
  static now() {
    return pinnedMs;
  }
};
if (new Date().getHours() !== 9) throw new Error("run with TZ=UTC");

const expected = { pinned_date: "2025-03-07T09:05:03", renders: [] };
for (const [name, t] of Object.entries(templates)) {
  const template = new Template(t.chat_template);
  for (const [conversation, messages] of Object.entries(conversations)) {
    for (const addGenerationPrompt of [false, true]) {
      const variables = { messages, add_generation_prompt: addGenerationPrompt, tools: null, documents: null, ...t.tokens };
      const entry = { template: name, conversation, add_generation_prompt: addGenerationPrompt };
      try {
        entry.text = template.render(variables);
      } catch (e) {
        entry.error = String(e.message ?? e);
      }
      expected.renders.push(entry);
    }
  }
}

fs.writeFileSync(path.join(dir, "expected.json"), JSON.stringify(expected, null, 1) + "\n");
const errors = expected.renders.filter((r) => r.error).length;
console.log(`${expected.renders.length} renders (${errors} raised) -> expected.json`);
