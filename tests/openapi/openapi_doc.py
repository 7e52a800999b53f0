"""openapi_doc.py - reads docs/openapi.json for the OpenAPI tests: finds the
operation of a concrete method and path, and validates a JSON answer
against the schema the document gives for its status (JSON Schema Draft
2020-12, python3-jsonschema)."""
import json
import os
import re

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_PATH = os.path.join(ROOT, 'docs', 'openapi.json')
METHODS = ('get', 'put', 'post', 'patch', 'delete')


def load():
    with open(DOC_PATH, 'rb') as f:
        raw = f.read()
    return raw, json.loads(raw)


def template_regex(template):
    """/api/v2/tss/{tss_id} -> a regex matching one segment per parameter."""
    parts = re.split(r'(\{[^/}]+\})', template)
    return re.compile('^' + ''.join('[^/]+' if p.startswith('{') else re.escape(p) for p in parts) + '$')


class Doc:
    def __init__(self):
        self.raw, self.doc = load()
        self.templates = []
        for t in self.doc['paths']:
            # Literal paths before templated ones (/log/last before /log/{n}).
            self.templates.append((t.count('{'), t, template_regex(t)))
        self.templates.sort()
        self.validators = {}

    def match(self, path):
        """The documented template of a concrete path (query stripped), or None."""
        p = path.split('?', 1)[0]
        for _, t, rx in self.templates:
            if rx.match(p):
                return t
        return None

    def operation(self, method, path):
        t = self.match(path)
        if t is None:
            return None, None
        return t, self.doc['paths'][t].get(method.lower())

    def response_schema(self, op, status, content_type):
        """The schema of the answer `status` of operation `op` (None: the
        document says no JSON body), or raises KeyError when the document has
        no answer for that status."""
        res = op['responses']
        r = res.get(str(status)) or res.get('%dXX' % (status // 100)) or res.get('default')
        if r is None:
            raise KeyError(status)
        if '$ref' in r:
            r = self.resolve(r['$ref'])
        content = r.get('content') or {}
        if 'application/json' in content:
            return content['application/json'].get('schema')
        return None

    def resolve(self, ref):
        node = self.doc
        for part in ref.lstrip('#/').split('/'):
            node = node[part]
        return node

    def validator(self, schema):
        key = json.dumps(schema, sort_keys=True)
        v = self.validators.get(key)
        if v is None:
            # The schema within the whole document, so that its $refs resolve.
            root = {'$schema': 'https://json-schema.org/draft/2020-12/schema',
                    'components': self.doc['components']}
            root.update(schema)
            v = self.validators[key] = jsonschema.Draft202012Validator(root)
        return v

    def errors(self, schema, instance):
        return sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))

    def error_schema(self):
        return {'$ref': '#/components/schemas/Error'}


def describe(err):
    where = '/'.join(str(p) for p in err.absolute_path) or '(the body)'
    return '%s: %s' % (where, err.message[:300])
