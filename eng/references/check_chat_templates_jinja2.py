"""Cross-checks Fixtures/ChatTemplates/expected.json (rendered by @huggingface/jinja) against Python's jinja2 set up
as transformers' apply_chat_template sets it up (transformers/utils/chat_template_utils.py: an
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loopcontrols extension, a {% generation %}
extension, a tojson filter that is json.dumps(ensure_ascii=False), and the raise_exception and strftime_now globals).
strftime_now is pinned to the date recorded in expected.json.

Where the two disagree, transformers' own behaviour (jinja2) is what counts: with --write, the jinja2 result is
recorded in the entry as "jinja2" and the tests expect it instead.

Usage: /usr/bin/python3 check_chat_templates_jinja2.py [--write]   (needs python3-jinja2).
Exit code 1 on a disagreement not recorded.
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "test", "Microsoft.ML.NEFTune.Tests", "Fixtures", "ChatTemplates")


class TemplateError(Exception):
    pass


class Generation(Extension):
    """{% generation %}...{% endgeneration %}: renders its body (transformers also records where)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: now.strftime(fmt)
    return env


def main():
    templates = json.load(open(os.path.join(FIXTURES, "templates.json"), encoding="utf-8"))
    conversations = json.load(open(os.path.join(FIXTURES, "conversations.json"), encoding="utf-8"))
    expected = json.load(open(os.path.join(FIXTURES, "expected.json"), encoding="utf-8"))
    env = make_environment(datetime.datetime.fromisoformat(expected["pinned_date"]))
    compiled = {name: env.from_string(t["chat_template"]) for name, t in templates.items()}
    disagreements = 0
    for r in expected["renders"]:
        t = templates[r["template"]]
        variables = dict(t["tokens"])
        try:
            text = compiled[r["template"]].render(
                messages=conversations[r["conversation"]], tools=None, documents=None,
                add_generation_prompt=r["add_generation_prompt"], **variables)
            got = {"text": text}
        except TemplateError as e:
            got = {"error": str(e)}
        except Exception as e:  # a jinja2 error, not the template's own
            got = {"jinja2_error": f"{type(e).__name__}: {e}"}
        want = {k: r[k] for k in ("text", "error") if k in r}
        if "--write" in sys.argv:
            r.pop("jinja2", None)
            if got != want:
                r["jinja2"] = got
        elif got == r.get("jinja2"):
            continue
        if got != want:
            disagreements += 1
            print(f"DIFFER {r['template']} / {r['conversation']} / add_generation_prompt={r['add_generation_prompt']}")
            print(f"  @huggingface/jinja: {json.dumps(want, ensure_ascii=False)[:400]}")
            print(f"  jinja2 {jinja2.__version__}:      {json.dumps(got, ensure_ascii=False)[:400]}")
    print(f"{len(expected['renders'])} renders, {disagreements} disagreements between @huggingface/jinja and jinja2")
    if "--write" in sys.argv:
        with open(os.path.join(FIXTURES, "expected.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")
        return 0
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
