#!/usr/bin/env python3
"""routes.py - the routes opentsed answers and the operations of
docs/openapi.json must be the same set.

The server's routes are derived, not listed: the route tables of
src/server/routes.c (`api_routes`, `tss_routes`) and the path segments the
handlers compare (every `strcmp(x, "segment")` of src/server/*.c) give the
candidate paths; a real opentsed with a real organization, TSS, client,
transaction and export answers each candidate for each method, and a
candidate is a route unless the answer is 405 or a 404 `E_NOT_FOUND` (what
the router and the handlers answer for a path or method they do not have).
Then: every documented operation is a route, every route is documented.
Also: GET /api/v2/openapi.json serves docs/openapi.json byte for byte."""
import http.client
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'contract'))
from openapi_doc import METHODS, ROOT, Doc  # noqa: E402
from contract import Contract, new_id, setup_tss  # noqa: E402

SRC = os.path.join(ROOT, 'src', 'server')


def table(text, name):
    m = re.search(r'\b%s\[\]\s*=\s*\{(.*?)\n\};' % name, text, re.S)
    if not m:
        sys.exit('routes.c has no table %s' % name)
    return re.findall(r'\{\s*"([^"]+)"\s*,', m.group(1))


routes_c = open(os.path.join(SRC, 'routes.c')).read()
api_names = table(routes_c, 'api_routes')
tss_names = table(routes_c, 'tss_routes')
literals = set()
for f in sorted(os.listdir(SRC)):
    if f.endswith('.c'):
        text = open(os.path.join(SRC, f)).read()
        literals.update(re.findall(r'\bstrn?cmp\(\s*[\w\[\]>.-]+\s*,\s*"([a-z][a-z0-9._-]*)"', text))
        literals.update(re.findall(r'\bstrn?cmp\(\s*"([a-z][a-z0-9._-]*)"\s*,', text))
literals = sorted(literals | set(api_names) | set(tss_names))

doc = Doc()
c = Contract('openapi_routes', record=False)   # its probes are no answers of a client
c.start()
key, secret = c.org_key('TEST')
op_tok = c.token(c.op_key, c.op_secret)
tok = c.token(key, secret)
org = c.call('GET', '/api/v2/organizations', token=op_tok).json['data'][-1]['_id']
r = c.call('POST', '/api/v2/organizations/%s/api-keys' % org, {}, token=op_tok)
key2 = r.json['key']   # revoked by the DELETE probe

# Real resources, so that a handler's lookup succeeds and its method check speaks.
pin = '271828'
tss = setup_tss(c, tok, pin)
client = new_id()
c.need(c.call('PUT', '/api/v2/tss/%s/client/%s' % (tss, client), {'serial_number': 'ROUTES'}, token=tok), 'client')
txid = new_id()
c.need(c.call('PUT', '/api/v2/tss/%s/tx/%s?tx_revision=1' % (tss, txid), {'state': 'ACTIVE', 'client_id': client},
              token=tok), 'start')
c.need(c.call('PUT', '/api/v2/tss/%s/tx/%s?tx_revision=2' % (tss, txid), {'state': 'FINISHED', 'client_id': client},
              token=tok), 'finish')
exp = new_id()
c.need(c.call('PUT', '/api/v2/tss/%s/export/%s' % (tss, exp), {}, token=tok), 'export')
for _ in range(300):
    if c.call('GET', '/api/v2/tss/%s/export/%s' % (tss, exp), token=tok).json.get('state') in ('COMPLETED', 'ERROR'):
        break
c.call('POST', '/api/v2/tss/%s/admin/logout' % tss, {}, token=tok)

IDS = {'tss_id': tss, 'client_id': client, 'tx_id_or_number': txid, 'export_id': exp, 'org_id': str(org),
       'key': key2, 'signature_counter': '1', 'file': 'index.html'}
SUB_ID = {'client': client, 'tx': txid, 'export': exp, 'log': '1', 'api-keys': key2}

conn = None


def probe(method, path):
    """True when opentsed has a route for method + path."""
    global conn
    tk = op_tok if path.startswith('/api/v2/organizations') else tok
    body = b'{}' if method in ('PUT', 'POST', 'PATCH') else None
    for attempt in (1, 2):
        try:
            if conn is None:
                conn = http.client.HTTPConnection(c.host, c.port, timeout=60)
            conn.request(method, path, body=body, headers={'Content-Type': 'application/json',
                                                            'Authorization': 'Bearer ' + tk})
            res = conn.getresponse()
            data = res.read()
            if res.getheader('Connection', '').lower() == 'close':
                conn.close()
                conn = None
            break
        except (http.client.HTTPException, OSError):
            conn = None
            if attempt == 2:
                raise
    if res.status == 405:
        return False
    if res.status == 404:
        try:
            e = json.loads(data)
        except ValueError:
            return True
        return not (e.get('code') == 'E_NOT_FOUND' or str(e.get('message', '')).startswith('no such route'))
    return True


fails = []
# 1. Every documented operation is answered, and no other method on its path.
for template, item in doc.doc['paths'].items():
    path = re.sub(r'\{([^}]+)\}', lambda m: IDS.get(m.group(1), 'x'), template)
    for m in METHODS:
        routed = probe(m.upper(), path)
        if m in item and not routed:
            fails.append('%s %s is documented but opentsed has no such route (probed %s)'
                         % (m.upper(), template, path))
        elif m not in item and routed:
            fails.append('%s %s: opentsed answers it, docs/openapi.json lacks the operation (probed %s)'
                         % (m.upper(), template, path))

# 2. No route outside the documented paths: the candidates the code names.
cands = {'/'} | {'/' + lit for lit in literals} | {'/api/v2/' + lit for lit in literals}
for n in api_names:
    nid = {'tss': tss, 'organizations': str(org)}.get(n, new_id())
    base = '/api/v2/%s/%s' % (n, nid)
    cands |= {'/api/v2/' + n, base} | {base + '/' + lit for lit in literals}
    cands |= {'%s/%s/%s' % (base, lit, SUB_ID.get(lit, 'x')) for lit in literals}
for s in tss_names:
    base = '/api/v2/tss/%s/%s' % (tss, s)
    sid = SUB_ID.get(s, 'x')
    cands |= {base, '%s/%s' % (base, sid)} | {base + '/' + lit for lit in literals}
    cands |= {'%s/%s/%s' % (base, sid, lit) for lit in literals}
    cands |= {'%s/%s/%s/%s' % (base, sid, lit, SUB_ID.get(lit, 'x')) for lit in literals}
undocumented = 0
for path in sorted(cands):
    if doc.match(path):
        continue
    for m in METHODS:
        if probe(m.upper(), path):
            undocumented += 1
            fails.append('%s %s: opentsed answers it, docs/openapi.json has no such path' % (m.upper(), path))

# 3. The served document is the repository's.
r = c.call('GET', '/api/v2/openapi.json')
if r.status != 200 or r.body != doc.raw:
    fails.append('GET /api/v2/openapi.json does not serve docs/openapi.json: %s' % r)
if not r.headers.get('content-type', '').startswith('application/json'):
    fails.append('GET /api/v2/openapi.json: Content-Type %r' % r.headers.get('content-type'))

c.stop()
if fails:
    print('routes and docs/openapi.json differ (%d):' % len(fails))
    for f in fails:
        print('  FAIL ' + f)
    sys.exit(1)
print('routes: %d documented operations answered, %d candidate paths from routes.c and the handlers probed, '
      'none undocumented (route tables: %s; %s)' % (
          sum(len([m for m in i if m in METHODS]) for i in doc.doc['paths'].values()), len(cands),
          ', '.join(api_names), ', '.join(tss_names)))
