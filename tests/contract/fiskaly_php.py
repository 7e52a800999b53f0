#!/usr/bin/env python3
"""fiskaly_php.py - contract test: the requests of
drechsler-development/fiskaly (PHP, curl) against a real opentsed: the
example run of its TestClass (TSS with metadata, admin login before each
admin call, a receipt on the start, finish at latest_revision + 1), then the
library's other calls: metadata routes of TSS, client, transaction and
export (bodies wrapped as {"metadata": {...}}), the organization-wide and
per-client lists, a transaction's log, export list and cancel.

PHP's json_encode of an empty array is `[]`: the library sends that as the
body of a TSS without metadata and of an export trigger."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import Contract, is_tar, new_id

c = Contract('fiskaly_php')
c.start()
key, secret = c.org_key('TEST')
V2 = '/api/v2'
HDR = {'Accept': 'application/json', 'request-id': new_id()}
tok = None


def php(method, path, body=None, query='', raw=None):
    """HttpClient::Request: json_encode($body) when not null."""
    r = c.call(method, V2 + path + query, body, token=tok, headers=HDR, raw=raw)
    return r


c.step = 'AuthenticateWithApiKey'
r = php('POST', '/auth', {'api_key': key, 'api_secret': secret})
c.need(r, 'POST /auth')
tok = r.json['access_token']

c.step = 'CreateTss'
tss = new_id()
r = php('PUT', '/tss/' + tss, {'metadata': {'internal_reference': 'vabs-test-tss'}})
c.need(r, 'CreateTss with metadata')
puk = r.json.get('admin_puk')
c.check(bool(puk) and r.json.get('_id') == tss and r.json.get('state') == 'CREATED', 'CreateTss answer %r' % r.json)
c.step = 'SetUninitialized'
r = php('PATCH', '/tss/' + tss, {'state': 'UNINITIALIZED'})
c.check(r.ok() and (r.json or {}).get('state') == 'UNINITIALIZED', 'SetUninitialized: %s' % r)
c.step = 'ChangeAdminPin'
pin = '12345678'
c.expect(php('PATCH', '/tss/%s/admin' % tss, {'admin_puk': puk, 'new_admin_pin': pin}), 'ChangeAdminPin')
c.step = 'SetInitialized'
c.expect(php('POST', '/tss/%s/admin/auth' % tss, {'admin_pin': pin}), 'AuthenticateAdmin')
c.expect(php('PATCH', '/tss/' + tss, {'state': 'INITIALIZED'}), 'SetInitialized')
c.step = 'CreateClient'
c.expect(php('POST', '/tss/%s/admin/auth' % tss, {'admin_pin': pin}), 'AuthenticateAdmin when logged in already')
cid = new_id()
r = php('PUT', '/tss/%s/client/%s' % (tss, cid), {'serial_number': 'KASSE-4711'})
c.expect(r, 'CreateClient')
c.step = 'LogoutAdmin'
c.expect(php('POST', '/tss/%s/admin/logout' % tss, raw=b'{}'), 'LogoutAdmin')

c.step = 'StartTransaction'
receipt = {'standard_v1': {'receipt': {'receipt_type': 'RECEIPT',
                                       'amounts_per_vat_rate': [{'vat_rate': 'NORMAL', 'amount': '119.00'}],
                                       'amounts_per_payment_type': [{'payment_type': 'CASH', 'amount': '119.00'}],
                                       'currency_code': 'EUR'}}}
meta = {'sales_order_document_id': 'SO-1234', 'sales_invoice_document_id': 'SI-5678'}
txid = new_id()
r = php('PUT', '/tss/%s/tx/%s' % (tss, txid), {'state': 'ACTIVE', 'client_id': cid, 'schema': receipt,
                                                'metadata': meta}, query='?tx_revision=1')
latest = (r.json or {}).get('latest_revision') if c.expect(r, 'StartTransaction with a receipt') else None
c.check(latest == 1, 'latest_revision %r' % (latest,))
c.step = 'FinishTransaction'
r = php('PUT', '/tss/%s/tx/%s' % (tss, txid), {'state': 'FINISHED', 'client_id': cid, 'schema': receipt,
                                                'metadata': meta}, query='?tx_revision=%d' % ((latest or 1) + 1))
number = None
if c.expect(r, 'FinishTransaction'):
    c.check(r.json.get('state') == 'FINISHED' and r.json.get('metadata') == meta, 'finished %r' % r.json)
    number = r.json.get('number')

c.step = 'RetrieveTransaction by number, its log, its metadata'
if isinstance(number, int):
    r = php('GET', '/tss/%s/tx/%d' % (tss, number))
    c.check(r.ok() and (r.json or {}).get('_id') == txid, 'RetrieveTransaction(number): %s' % r)
    r = php('GET', '/tss/%s/tx/%d/log' % (tss, number))
    c.check(r.ok() and r.is_json, 'RetrieveTransactionLog: %s' % r)
r = php('GET', '/tss/%s/tx/%s/log' % (tss, txid))
if c.expect(r, 'RetrieveTransactionLog'):
    logs = r.json.get('data') if isinstance(r.json, dict) else r.json
    c.check(isinstance(logs, list) and len(logs) >= 2, 'the log messages of the transaction: %r' % (r.json,))
r = php('GET', '/tss/%s/tx/%s/metadata' % (tss, txid))
c.check(r.ok() and r.json == meta, 'tx RetrieveMetadata: %s' % r)
r = php('PATCH', '/tss/%s/tx/%s/metadata' % (tss, txid), {'metadata': {'note': 'bezahlt'}})
c.expect(r, 'tx UpdateMetadata (wrapped)')
r = php('GET', '/tss/%s/tx/%s/metadata' % (tss, txid))
c.check(r.ok() and isinstance(r.json, dict) and r.json.get('note') == 'bezahlt', 'tx metadata after PATCH: %s' % r)

c.step = 'lists'
r = php('GET', '/tx')
c.check(r.ok() and txid in [x.get('_id') for x in (r.json or {}).get('data') or []], 'ListAllTransactions: %s' % r)
r = php('GET', '/tss/%s/client/%s/tx' % (tss, cid))
c.check(r.ok() and txid in [x.get('_id') for x in (r.json or {}).get('data') or []],
        'ListClientTransactions: %s' % r)
r = php('GET', '/tss/%s/tx' % tss, query='?states[]=FINISHED')
c.check(r.ok() and [x.get('_id') for x in (r.json or {}).get('data') or []] == [txid], 'ListTransactions: %s' % r)
r = php('GET', '/client')
c.check(r.ok() and cid in [x.get('_id') for x in (r.json or {}).get('data') or []], 'ListAllClients: %s' % r)
r = php('GET', '/tss/%s/client' % tss)
c.check(r.ok() and [x.get('_id') for x in (r.json or {}).get('data') or []] == [cid], 'ListClients: %s' % r)
r = php('GET', '/tss', query='?limit=10&offset=0')
c.check(r.ok() and tss in [x.get('_id') for x in (r.json or {}).get('data') or []], 'ListTss: %s' % r)

c.step = 'TSS and client metadata'
r = php('GET', '/tss/%s/metadata' % tss)
c.check(r.ok() and isinstance(r.json, dict) and r.json.get('internal_reference') == 'vabs-test-tss',
        'TSS RetrieveMetadata: %s' % r)
c.expect(php('POST', '/tss/%s/admin/auth' % tss, {'admin_pin': pin}), 'AuthenticateAdmin')
r = php('PATCH', '/tss/%s/metadata' % tss, {'metadata': {'branch': 'Nord'}})
c.expect(r, 'TSS UpdateMetadata (wrapped)')
r = php('GET', '/tss/' + tss)
c.check(r.ok() and (r.json or {}).get('metadata', {}).get('branch') == 'Nord', 'TSS metadata %s' % r)
r = php('PATCH', '/tss/%s/client/%s/metadata' % (tss, cid), {'metadata': {'location': 'Theke'}})
c.expect(r, 'client UpdateMetadata (wrapped)')
r = php('GET', '/tss/%s/client/%s/metadata' % (tss, cid))
c.check(r.ok() and isinstance(r.json, dict) and r.json.get('location') == 'Theke', 'client metadata %s' % r)
r = php('PATCH', '/tss/%s/client/%s' % (tss, cid), {'state': 'DEREGISTERED', 'metadata': {'location': 'Lager'}})
c.check(r.ok() and (r.json or {}).get('state') == 'DEREGISTERED', 'DeregisterClient with metadata: %s' % r)
r = php('PATCH', '/tss/%s/client/%s' % (tss, cid), {'state': 'REGISTERED'})
c.check(r.ok() and (r.json or {}).get('state') == 'REGISTERED', 'RegisterClient: %s' % r)

c.step = 'exports'
exp = new_id()
r = php('PUT', '/tss/%s/export/%s' % (tss, exp), [], query='?client_id=%s' % cid)   # body "[]"
c.expect(r, 'TriggerExport with the body []')
state = None
for _ in range(300):
    r = php('GET', '/tss/%s/export/%s' % (tss, exp))
    if not c.expect(r, 'RetrieveExport'):
        break
    state = r.json.get('state')
    if state in ('COMPLETED', 'ERROR', 'CANCELLED'):
        break
    __import__('time').sleep(0.1)
c.check(state == 'COMPLETED', 'export state %r' % state)
r = c.call('GET', V2 + '/tss/%s/export/%s/file' % (tss, exp), token=tok,
           headers={'Accept': 'application/json, application/octet-stream'})
c.check(r.status == 200 and is_tar(r.body), 'RetrieveExportFile: %s' % r)
r = php('PATCH', '/tss/%s/export/%s/metadata' % (tss, exp), {'metadata': {'purpose': 'Kassennachschau'}})
c.expect(r, 'export UpdateMetadata (wrapped)')
r = php('GET', '/tss/%s/export/%s/metadata' % (tss, exp))
c.check(r.ok() and isinstance(r.json, dict) and r.json.get('purpose') == 'Kassennachschau', 'export metadata %s' % r)
r = php('GET', '/tss/%s/export' % tss)
c.check(r.ok() and exp in [x.get('_id') for x in (r.json or {}).get('data') or []],
        'ListExports (a JSON list of the jobs): %s' % r)
r = php('GET', '/export')
c.check(r.ok() and exp in [x.get('_id') for x in (r.json or {}).get('data') or []], 'ListAllExports: %s' % r)
r = php('GET', '/tss/%s/export' % tss, query='?states[]=COMPLETED')
c.check(r.ok() and exp in [x.get('_id') for x in (r.json or {}).get('data') or []],
        'ListExports?states[]=COMPLETED: %s' % r)
exp2 = new_id()
r = php('PUT', '/tss/%s/export/%s' % (tss, exp2), [], query='?start_date=1&end_date=4102444800')
c.expect(r, 'TriggerExport by dates')
r = php('DELETE', '/tss/%s/export/%s' % (tss, exp2))
# A job that has not finished yet is cancelled; one that has already
# completed (a small export is done at once) answers an error ApiException
# can carry, and stays COMPLETED.
after = php('GET', '/tss/%s/export/%s' % (tss, exp2))
if r.ok():
    c.check(r.is_json and r.json.get('state') == 'CANCELLED', 'CancelExport answered %s' % r)
    c.check(after.ok() and (after.json or {}).get('state') == 'CANCELLED', 'the cancelled export: %s' % after)
else:
    c.check(400 <= r.status < 500 and isinstance(r.json, dict) and str(r.json.get('code', '')).startswith('E_'),
            'CancelExport: %s' % r)
    c.check(after.ok() and (after.json or {}).get('state') == 'COMPLETED', 'an export not cancelled: %s' % after)

c.step = 'CreateTss without metadata'
r = php('PUT', '/tss/' + new_id(), [])   # json_encode([]) = "[]"
c.check(r.ok() and bool((r.json or {}).get('admin_puk')), 'CreateTss with the body []: %s' % r)
c.finish()
