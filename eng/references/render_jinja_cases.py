"""Renders the small Jinja cases of Fixtures/ChatTemplates/jinja-cases.json (scoping, whitespace control, loops,
Python values, tojson, macros) with Python jinja2 set up as transformers sets it up for chat templates (see
check_chat_templates_jinja2.py) and writes each case's "expected" output (or "error" for the template's own
raise_exception) back into the file.

Usage: /usr/bin/python3 render_jinja_cases.py   (needs python3-jinja2)
"""
import datetime
import json
import os

from check_chat_templates_jinja2 import FIXTURES, TemplateError, make_environment

path = os.path.join(FIXTURES, "jinja-cases.json")
cases = json.load(open(path, encoding="utf-8"))
env = make_environment(datetime.datetime(2025, 3, 7, 9, 5, 3))
for case in cases:
    case.pop("expected", None)
    case.pop("error", None)
    try:
        case["expected"] = env.from_string(case["template"]).render(**case.get("variables", {}))
    except TemplateError as e:
        case["error"] = str(e)
with open(path, "w", encoding="utf-8") as f:
    f.write(json.dumps(cases, ensure_ascii=False, indent=1) + "\n")
print(f"{len(cases)} cases -> {path}")
