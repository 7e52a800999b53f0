#!/usr/bin/env python3
"""responses.py - every answer the API tests received, held against
docs/openapi.json: the exchanges the server tests (tests/server/harness.c)
and the contract tests (tests/contract/) recorded under OPENTSE_API_RECORD
are each matched to their documented operation and status, and a JSON body
is validated against that answer's schema (python3-jsonschema, Draft
2020-12). A path the document lacks must have answered an error; a JSON
answer where the document promises another type, or a status the operation
does not document, fails.

meson runs it after the other tests (lowest priority, not in parallel);
alone it checks what the last run of them left."""
import json
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openapi_doc import Doc, describe  # noqa: E402

root = os.environ.get('OPENTSE_API_RECORD')
if not root or not os.path.isdir(root):
    sys.exit('OPENTSE_API_RECORD (%r) is no directory of recorded exchanges: run the server and contract tests '
             'first (meson test)' % root)
doc = Doc()
fails = defaultdict(list)   # one line per operation + problem, with how often and one example
checked = 0
per_dir = {}
for sub in sorted(os.listdir(root)):
    d = os.path.join(root, sub)
    if not os.path.isdir(d):
        continue
    files = sorted(os.listdir(d))
    per_dir[sub] = len(files)
    for f in files:
        try:
            ex = json.load(open(os.path.join(d, f)))
        except ValueError:
            continue   # a test killed while writing
        checked += 1
        method, path, status = ex['method'], ex['path'], ex['status']
        body, is_json = ex.get('body'), ex.get('is_json')
        template, op = doc.operation(method, path)
        where = '%s %s' % (method, template or path.split('?')[0])
        if op is None:
            # An undocumented path or method: only an error may come of it.
            if status < 400:
                fails['%s: answered %d, but docs/openapi.json has no such operation' % (where, status)].append(sub)
            elif is_json:
                for e in doc.errors(doc.error_schema(), body)[:3]:
                    fails['%s -> %d: the error %s' % (where, status, describe(e))].append(sub)
            continue
        try:
            schema = doc.response_schema(op, status, ex.get('content_type'))
        except KeyError:
            fails['%s: status %d is not documented' % (where, status)].append(sub)
            continue
        if schema is None:
            continue   # no JSON body documented (TAR, text, redirect)
        if not is_json:
            if ex.get('content_type', '').startswith('application/json') or status >= 400:
                fails['%s -> %d: the body is not JSON' % (where, status)].append(sub)
            continue
        for e in doc.errors(schema, body)[:5]:
            fails['%s -> %d: %s' % (where, status, describe(e))].append(sub)

if not checked:
    sys.exit('no recorded exchanges under %s: run the server and contract tests first' % root)
print('%d exchanges from %d test programs checked against docs/openapi.json (%s)'
      % (checked, len(per_dir), ', '.join('%s %d' % kv for kv in sorted(per_dir.items()))))
if fails:
    print('%d kinds of answers do not match the document:' % len(fails))
    for msg, subs in sorted(fails.items()):
        print('  FAIL %s  [%d x, %s]' % (msg, len(subs), ', '.join(sorted(set(subs)))))
    sys.exit(1)
print('every answer matches its documented schema')
