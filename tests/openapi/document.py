#!/usr/bin/env python3
"""document.py - checks docs/openapi.json itself: OpenAPI 3.1, every schema a
valid Draft 2020-12 schema, every $ref resolving, every operation with
answers, the path parameters of each template declared and no others, each
operation either the market API's or marked as an OpenTSE extension by its
tag."""
import json
import os
import re
import sys

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openapi_doc import METHODS, Doc  # noqa: E402

fails = []
d = Doc()
doc = d.doc
if not str(doc.get('openapi', '')).startswith('3.1.'):
    fails.append('openapi is %r, not 3.1.x' % doc.get('openapi'))
if doc.get('jsonSchemaDialect') != 'https://json-schema.org/draft/2020-12/schema':
    fails.append('jsonSchemaDialect %r' % doc.get('jsonSchemaDialect'))
for k in ('info', 'paths', 'components'):
    if k not in doc:
        fails.append('no %s' % k)

for name, schema in doc['components']['schemas'].items():
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        fails.append('schema %s: %s' % (name, e.message))


def refs(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == '$ref':
                try:
                    d.resolve(v)
                except (KeyError, TypeError):
                    fails.append('%s: $ref %s does not resolve' % (where, v))
            else:
                refs(v, where + '/' + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            refs(v, '%s/%d' % (where, i))


refs(doc, '#')

ext_tags = {t['name'] for t in doc.get('tags', []) if t.get('x-opentse-extension')}
ids = [op.get('operationId') for item in doc['paths'].values() for m, op in item.items() if m in METHODS]
if None in ids or len(set(ids)) != len(ids):
    fails.append('operationIds missing or not unique: %s' % sorted(i for i in ids if ids.count(i) > 1 or i is None))
for template, item in doc['paths'].items():
    want = set(re.findall(r'\{([^}]+)\}', template))
    for method, op in item.items():
        if method not in METHODS:
            fails.append('%s: %s is no HTTP method this server answers' % (template, method))
            continue
        where = '%s %s' % (method.upper(), template)
        if not op.get('responses'):
            fails.append(where + ': no responses')
        have = {p['name'] for p in op.get('parameters', []) if p.get('in') == 'path'}
        if have != want:
            fails.append('%s: path parameters %s, the template has %s' % (where, sorted(have), sorted(want)))
        tags = set(op.get('tags', []))
        if not tags:
            fails.append(where + ': no tag')
        if bool(tags & ext_tags) and not op.get('x-opentse-extension'):
            fails.append(where + ': an extension tag without x-opentse-extension')
        if op.get('x-opentse-extension') is not None and op.get('x-opentse-extension') is not True:
            fails.append(where + ': x-opentse-extension must be true or absent')
        try:
            d.response_schema(op, 200, 'application/json')
        except KeyError:
            if not any(s.startswith(('2', '3')) for s in op['responses']):
                fails.append(where + ': no success answer')

# A market operation (no extension mark) must sit under /api/v2.
for template, item in doc['paths'].items():
    for method, op in item.items():
        if not op.get('x-opentse-extension') and not template.startswith('/api/v2/'):
            fails.append('%s %s: outside /api/v2 but not marked as an extension' % (method.upper(), template))

json.loads(d.raw)   # the served bytes parse as they are
if fails:
    print('docs/openapi.json: %d problem(s):' % len(fails))
    for f in fails:
        print('  FAIL ' + f)
    sys.exit(1)
n = sum(len([m for m in item if m in METHODS]) for item in doc['paths'].values())
print('docs/openapi.json: OpenAPI %s, %d operations on %d paths, %d schemas, all valid'
      % (doc['openapi'], n, len(doc['paths']), len(doc['components']['schemas'])))
