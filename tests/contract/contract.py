"""contract.py - shared parts of the contract tests: starts the real opentsed
on a free port with a fresh data directory, makes the organization and API
key a user of the market API would have, sends requests byte for byte as a
client library does, and checks every answer the way that library parses it
(a C# `long` must be an integer, an enum one of the names the client knows,
...). Standard library only.

A test collects every broken expectation instead of stopping at the first,
so that one run tells which fields of which call a client cannot read, and
exits 1 when there was any. With OPENTSE_API_RECORD set, every exchange is
written there as JSON for the OpenAPI response check (tests/openapi/)."""
import base64
import http.client
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid

UUID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
B64_RE = re.compile(r'^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$')

TSS_STATES_FISKALTRUST = ['CREATED', 'UNINITIALIZED', 'INITIALIZED', 'DISABLED', 'DELETED', 'DEFECTIVE', 'EVICTED']
TSS_STATES_MEWS = ['CREATED', 'UNINITIALIZED', 'INITIALIZED', 'DISABLED', 'DELETED', 'DEFECTIVE']
CLIENT_STATES = ['REGISTERED', 'DEREGISTERED']
TX_STATES = ['ACTIVE', 'CANCELLED', 'FINISHED']
RECEIPT_TYPES = ['RECEIPT', 'TRAINING', 'TRANSFER', 'ORDER', 'CANCELLATION', 'ABORT', 'BENEFIT_IN_KIND',
                 'INVOICE', 'OTHER', 'ANNULATION']
VAT_RATES = ['NORMAL', 'REDUCED_1', 'SPECIAL_RATE_1', 'SPECIAL_RATE_2', 'NULL']
PAYMENT_TYPES = ['CASH', 'NON_CASH']
EXPORT_STATES = ['PENDING', 'WORKING', 'COMPLETED', 'CANCELLED', 'ERROR']
ENVS = ['TEST', 'LIVE']


class Resp:
    def __init__(self, method, path, status, headers, body):
        self.method, self.path, self.status, self.headers, self.body = method, path, status, headers, body
        try:
            self.json = json.loads(body.decode('utf-8')) if body else None
            self.is_json = bool(body)
        except (ValueError, UnicodeDecodeError):
            self.json, self.is_json = None, False

    def ok(self):
        return 200 <= self.status < 300

    def __str__(self):
        return '%s %s -> %d %s' % (self.method, self.path, self.status, self.body[:300].decode('utf-8', 'replace'))


class Contract:
    """One client's contract run: the server, the failures found."""

    def __init__(self, name, record=True):
        self.name = name
        self.failures = []
        self.step = ''
        self.proc = None
        self.tmp = None
        self.seq = 0
        self.record = os.environ.get('OPENTSE_API_RECORD') if record else None
        if self.record:
            self.record = os.path.join(self.record, 'contract_' + name)
            shutil.rmtree(self.record, ignore_errors=True)
            os.makedirs(self.record, exist_ok=True)

    # -- the server -----------------------------------------------------
    def start(self):
        binary = os.environ.get('OPENTSED_BIN')
        if not binary:
            sys.exit('OPENTSED_BIN is not set (run through meson test)')
        root = os.environ.get('OPENTSE_TEST_TMP') or tempfile.gettempdir()
        os.makedirs(root, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix='contract_%s_' % self.name, dir=root)
        self.proc = subprocess.Popen([binary, '--data-dir', self.tmp, '--listen', '127.0.0.1:0',
                                      '--access-log', '0'], stdout=subprocess.PIPE)
        op_key = op_secret = None
        for raw in self.proc.stdout:
            line = raw.decode('utf-8', 'replace').strip()
            m = re.match(r'operator api_key:\s*(\S+)', line)
            if m:
                op_key = m.group(1)
            m = re.match(r'operator api_secret:\s*(\S+)', line)
            if m:
                op_secret = m.group(1)
            m = re.match(r'opentsed listening on http://([^:/]+):(\d+)', line)
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                break
        else:
            sys.exit('opentsed did not start (exit %s)' % self.proc.wait())
        self.proc.stdout.close()
        if not op_key or not op_secret:
            sys.exit('opentsed printed no operator key on its first start')
        self.op_key, self.op_secret = op_key, op_secret

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def org_key(self, env='TEST'):
        """The operator makes an organization and an API key of environment
        `env`, as a deployment's operator does for a customer."""
        tok = self.token(self.op_key, self.op_secret)
        r = self.call('POST', '/api/v2/organizations', {'name': 'contract %s' % self.name}, token=tok)
        self.need(r, 'the operator creates an organization')
        org = r.json['_id']
        r = self.call('POST', '/api/v2/organizations/%s/api-keys' % org, {'env': env}, token=tok)
        if not r.ok():
            self.fail('an API key of environment %s cannot be made: %s' % (env, r))
            r = self.call('POST', '/api/v2/organizations/%s/api-keys' % org, {}, token=tok)
        self.need(r, 'the operator creates an API key')
        return r.json['key'], r.json['secret']

    def token(self, key, secret):
        r = self.call('POST', '/api/v2/auth', {'api_key': key, 'api_secret': secret})
        self.need(r, 'POST /api/v2/auth')
        return r.json['access_token']

    # -- HTTP -------------------------------------------------------------
    def call(self, method, path, body=None, token=None, headers=None, raw=None):
        """Sends one request. `body` is JSON-encoded (compact, as the client
        libraries send it); `raw` bytes are sent as they are."""
        h = {'Content-Type': 'application/json'}
        if token is not None:
            h['Authorization'] = 'Bearer ' + token
        h.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body, separators=(',', ':')).encode())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        conn.request(method, path, body=data, headers=h)
        res = conn.getresponse()
        r = Resp(method, path, res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
        conn.close()
        if self.record:
            self.seq += 1
            with open(os.path.join(self.record, '%05d.json' % self.seq), 'w') as f:
                json.dump({'method': method, 'path': path, 'status': r.status,
                           'content_type': r.headers.get('content-type', ''),
                           'body': r.json if r.is_json else None, 'is_json': r.is_json}, f)
        return r

    # -- expectations -----------------------------------------------------
    def fail(self, msg):
        self.failures.append('[%s] %s' % (self.step, msg))

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)
        return cond

    def need(self, r, what):
        """A request the rest of the run depends on: stop the run if it failed."""
        if not r.ok() or not r.is_json:
            self.fail('%s failed: %s' % (what, r))
            self.finish()
        return r

    def expect(self, r, what, status=None):
        """A 2xx answer with a JSON body (every client parses every answer)."""
        good = (r.status == status) if status else r.ok()
        self.check(good, '%s: %s' % (what, r))
        self.check(r.is_json, '%s: the answer is not JSON (the client parses every body): %r' % (what, r.body[:100]))
        return good and r.is_json

    def finish(self):
        self.stop()
        if self.failures:
            print('%s: %d expectation(s) of the client not met:' % (self.name, len(self.failures)))
            for f in self.failures:
                print('  FAIL ' + f)
            sys.exit(1)
        print('%s: every call of the client\'s flow answered as it parses it' % self.name)
        sys.exit(0)


# -- typed reads: what a field must be for the client's parser -------------
def _get(c, obj, key):
    if not isinstance(obj, dict):
        c.fail('expected an object holding %s, got %r' % (key, obj))
        return False, None
    return key in obj, obj.get(key)


def cs_integer(c, obj, key, lo, hi, typ, required=False):
    """Newtonsoft into a non-nullable integer type: absent is 0, null or a
    non-integer throws, a digit string is converted."""
    there, v = _get(c, obj, key)
    where = '%s (C# %s)' % (key, typ)
    if not there:
        c.check(not required, '%s is absent; the client uses it' % where)
        return None
    if isinstance(v, str) and re.match(r'^-?\d+$', v):
        v = int(v)
    if v is None:
        c.fail('%s is null: Newtonsoft throws converting null to %s' % (where, typ))
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v == int(v):
            v = int(v)
        else:
            c.fail('%s is %r, not an integer' % (where, v))
            return None
    c.check(lo <= v <= hi, '%s = %d is out of range' % (where, v))
    return v


def cs_long(c, obj, key, required=False):
    return cs_integer(c, obj, key, -2**63, 2**63 - 1, 'long', required)


def cs_int(c, obj, key, required=False):
    return cs_integer(c, obj, key, -2**31, 2**31 - 1, 'int', required)


def cs_uint(c, obj, key, required=False):
    return cs_integer(c, obj, key, 0, 2**32 - 1, 'uint', required)


def cs_nullable_int(c, obj, key):
    there, v = _get(c, obj, key)
    if there and v is not None:
        return cs_int(c, obj, key)
    return None


def cs_string(c, obj, key, required=False):
    """Newtonsoft into `string`: null and numbers are fine, an object or
    array throws."""
    there, v = _get(c, obj, key)
    if not there or v is None:
        c.check(not required, '%s (string) is %s; the client uses it' % (key, 'null' if there else 'absent'))
        return None
    if isinstance(v, (dict, list)):
        c.fail('%s is %s, Newtonsoft cannot read it into a string' % (key, type(v).__name__))
        return None
    return v if isinstance(v, str) else json.dumps(v)


def cs_guid(c, obj, key, required=True):
    there, v = _get(c, obj, key)
    if not there:
        c.check(not required, '%s (C# Guid) is absent' % key)
        return None
    if not isinstance(v, str) or not UUID_RE.match(v):
        c.fail('%s = %r is not a Guid' % (key, v))
        return None
    return v.lower()


def cs_enum(c, obj, key, values, required=True):
    """Newtonsoft into an enum from a string: one of the names, else it throws."""
    there, v = _get(c, obj, key)
    if not there:
        c.check(not required, '%s (enum) is absent' % key)
        return None
    if not isinstance(v, str) or v.upper() not in values:
        c.fail('%s = %r is none of the values the client knows %s' % (key, v, values))
        return None
    return v


def cs_bytes(c, obj, key):
    """Newtonsoft into byte[]: a base64 string."""
    there, v = _get(c, obj, key)
    if not there or v is None:
        return None
    if not isinstance(v, str) or not B64_RE.match(v):
        c.fail('%s = %r is not base64 (C# byte[])' % (key, v))
        return None
    return base64.b64decode(v)


def cs_dict(c, obj, key, required=False):
    there, v = _get(c, obj, key)
    if not there or v is None:
        c.check(not required, '%s is %s; the client reads its keys' % (key, 'null' if there else 'absent'))
        return None
    if not isinstance(v, dict):
        c.fail('%s = %r is not an object (Dictionary<string, object>)' % (key, v))
        return None
    return v


def cs_object(c, obj, key, required=True):
    there, v = _get(c, obj, key)
    if not isinstance(v, dict):
        c.check(not required and v is None, '%s is %r; the client dereferences it' % (key, v))
        return None
    return v


def js_number(c, obj, key, required=True):
    """A TypeScript `number` field (optional ones may be absent, never null)."""
    there, v = _get(c, obj, key)
    if not there:
        c.check(not required, '%s (number) is absent' % key)
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        c.fail('%s = %r is not a number' % (key, v))
        return None
    return v


def js_string(c, obj, key, required=True):
    there, v = _get(c, obj, key)
    if not isinstance(v, str):
        c.check(not required and not there, '%s = %r is not a string' % (key, v))
        return None
    return v


def error_body(c, r, status, codes, what):
    """A market-style error: status_code (int), error, code, message strings;
    code one of `codes`."""
    if not c.check(r.status == status, '%s: expected %d, got %s' % (what, status, r)):
        return None
    e = r.json
    if not c.check(isinstance(e, dict), '%s: the error is not a JSON object: %r' % (what, r.body[:200])):
        return None
    cs_int(c, e, 'status_code', required=True)
    c.check(e.get('status_code') == status, '%s: status_code %r, not %d' % (what, e.get('status_code'), status))
    for k in ('error', 'code', 'message'):
        c.check(isinstance(e.get(k), str), '%s: error field %s = %r is not a string' % (what, k, e.get(k)))
    c.check(e.get('code') in codes, '%s: code %r, the client maps %s' % (what, e.get('code'), codes))
    return e


def new_id():
    return str(uuid.uuid4())


def setup_tss(c, token, pin, tss=None, body=None):
    """Creates a TSS the way the market API's guide has it (create,
    UNINITIALIZED, admin PIN, admin login, INITIALIZED) for clients that get
    their TSS from elsewhere; leaves the admin logged in."""
    tss = tss or new_id()
    r = c.need(c.call('PUT', '/api/v2/tss/' + tss, {} if body is None else body, token=token), 'create the TSS')
    puk = r.json.get('admin_puk')
    c.need(c.call('PATCH', '/api/v2/tss/' + tss, {'state': 'UNINITIALIZED'}, token=token), 'deploy the TSS')
    c.need(c.call('PATCH', '/api/v2/tss/%s/admin' % tss, {'admin_puk': puk, 'new_admin_pin': pin}, token=token),
           'set the admin PIN')
    c.need(c.call('POST', '/api/v2/tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=token), 'admin login')
    c.need(c.call('PATCH', '/api/v2/tss/' + tss, {'state': 'INITIALIZED'}, token=token), 'initialize the TSS')
    return tss


def b64(s):
    return base64.b64encode(s.encode()).decode()


def process_data(c, tx):
    """The processData the TSS signed (the `process_data` field, base64)."""
    v = tx.get('process_data') if isinstance(tx, dict) else None
    if not isinstance(v, str):
        c.fail('the transaction has no process_data to check what was signed: %r' % (v,))
        return None
    return base64.b64decode(v).decode('utf-8', 'replace')


def is_tar(data):
    """A TAR archive: ustar magic at 257 of the first header, a size that is
    a multiple of 512."""
    return len(data) >= 1024 and len(data) % 512 == 0 and data[257:262] == b'ustar'


def tar_text(data, name):
    """The text of member `name` of a TAR archive (None if it has none)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            f = t.extractfile(name)
            return f.read().decode('utf-8', 'replace') if f else None
    except (tarfile.TarError, KeyError):
        return None


TEST_MARK = 'TEST (not for production use)'


def check_env_mark(c, tar, env):
    """An export of a TEST TSS says so in info.csv's description, one of a
    LIVE TSS does not: a development archive is never taken for a real one."""
    info = tar_text(tar, 'info.csv')
    if not c.check(info is not None, 'the export has no info.csv'):
        return
    if env == 'TEST':
        c.check(TEST_MARK in info, 'info.csv of a TEST TSS does not say %r: %r' % (TEST_MARK, info[:300]))
    else:
        c.check(TEST_MARK not in info, 'info.csv of a LIVE TSS is marked TEST: %r' % info[:300])
