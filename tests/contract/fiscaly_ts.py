#!/usr/bin/env python3
"""fiscaly_ts.py - contract test: the requests of guidoffm/fiscaly
(TypeScript, axios) against a real opentsed, answers checked against its
response types (number fields numbers, optional ones absent rather than
null), the transaction list with indexed `states[0]=` filters and every
revision of a transaction read back with `?tx_revision=N`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import Contract, js_number, js_string, new_id

c = Contract('fiscaly_ts')
c.start()
key, secret = c.org_key('TEST')
V2 = '/api/v2'


def tx_item(x, optional_end=False):
    """StartUpdateOrFinishTransactionResponse / ListTransactionsOfTssResponseDataItem."""
    for k in ('state', 'tss_id', 'tss_serial_number', 'client_id', 'client_serial_number', '_id', '_type', '_env',
              '_version'):
        js_string(c, x, k)
    for k in ('revision', 'latest_revision', 'number', 'time_start'):
        js_number(c, x, k)
    js_number(c, x, 'time_end', required=not optional_end)
    for o, ks in (('signature', ('algorithm', 'public_key', 'value')), ('log', ('operation', 'timestamp_format'))):
        v = x.get(o)
        if c.check(isinstance(v, dict), '%s %r' % (o, v)):
            for k in ks:
                js_string(c, v, k)
            js_number(c, v, 'counter' if o == 'signature' else 'timestamp')
    c.check('qr_code_data' not in x or isinstance(x['qr_code_data'], str), 'qr_code_data %r' % x.get('qr_code_data'))


def tss_item(t):
    """TssStateData."""
    for k in ('certificate', 'serial_number', 'public_key', 'signature_algorithm', 'signature_timestamp_format',
              '_id', '_type', '_env', '_version', 'state'):
        js_string(c, t, k)
    for k in ('time_creation', 'max_number_registered_clients', 'max_number_active_transactions',
              'number_registered_clients', 'number_active_transactions'):
        js_number(c, t, k)
    for k in ('time_uninit', 'time_init', 'time_defective', 'time_disable'):
        js_number(c, t, k, required=False)
    c.check(isinstance(t.get('metadata'), dict), 'metadata %r' % (t.get('metadata'),))


c.step = 'auth'
r = c.call('POST', V2 + '/auth', {'api_key': key, 'api_secret': secret})
c.need(r, 'POST /auth')
for k in ('access_token_expires_in', 'access_token_expires_at', 'refresh_token_expires_in',
          'refresh_token_expires_at'):
    js_number(c, r.json, k)
js_string(c, r.json, 'refresh_token')
c.check(isinstance(r.json.get('access_token_claims'), dict), 'access_token_claims %r'
        % r.json.get('access_token_claims'))
tok = r.json['access_token']

c.step = 'createTss ... INITIALIZED'
tss = new_id()
r = c.call('PUT', V2 + '/tss/' + tss, {}, token=tok)
c.need(r, 'createTss')
tss_item(r.json)
js_string(c, r.json, 'admin_puk')
c.check('time_init' not in r.json, 'a CREATED TSS has time_init %r' % r.json.get('time_init'))
puk = r.json['admin_puk']
c.expect(c.call('PATCH', V2 + '/tss/' + tss, {'state': 'UNINITIALIZED'}, token=tok), 'updateTss UNINITIALIZED')
c.expect(c.call('PATCH', V2 + '/tss/%s/admin' % tss, {'admin_puk': puk, 'new_admin_pin': '123456'}, token=tok),
         'changeOrUnblockAdminPin')
c.expect(c.call('POST', V2 + '/tss/%s/admin/auth' % tss, {'admin_pin': '123456'}, token=tok), 'authenticateAdmin')
c.expect(c.call('PATCH', V2 + '/tss/' + tss, {'state': 'INITIALIZED'}, token=tok), 'updateTss INITIALIZED')

c.step = 'createClient'
cid = new_id()
r = c.call('PUT', V2 + '/tss/%s/client/%s' % (tss, cid), {'serial_number': 'ERS ' + cid}, token=tok)
if c.expect(r, 'createClient'):
    for k in ('serial_number', 'state', 'tss_id', '_id', '_type', '_env', '_version'):
        js_string(c, r.json, k)
    js_number(c, r.json, 'time_creation')
    c.check(isinstance(r.json.get('metadata'), dict), 'metadata %r' % (r.json.get('metadata'),))
    c.check(r.json.get('state') in ('REGISTERED', 'DEREGISTERED'), 'state %r' % r.json.get('state'))

c.step = 'listTss'
r = c.call('GET', V2 + '/tss', token=tok)
if c.expect(r, 'GET /tss'):
    js_number(c, r.json, 'count')
    for k in ('_type', '_env', '_version'):
        js_string(c, r.json, k)
    for t in r.json.get('data') or []:
        tss_item(t)
        c.check('time_uninit' in t and 'time_init' in t, 'an INITIALIZED TSS without time_uninit/time_init: %r'
                % {k: t.get(k) for k in ('time_uninit', 'time_init')})


def upsert(txid, rev, state, schema=None, metadata=None):
    """startUpdateOrFinishTransaction: schema and metadata only when given."""
    body = {'state': state, 'client_id': cid}
    if schema:
        body['schema'] = schema
    if metadata:
        body['metadata'] = metadata
    r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=%d' % (tss, txid, rev), body, token=tok)
    if c.expect(r, '%s revision %d' % (state, rev)):
        tx_item(r.json, optional_end=state == 'ACTIVE')
        c.check(r.json.get('revision') == rev and r.json.get('latest_revision') == rev,
                'revision %r / latest_revision %r after revision %d' % (r.json.get('revision'),
                                                                       r.json.get('latest_revision'), rev))
    return r


c.step = 'transactions'
receipt = {'standard_v1': {'receipt': {'receipt_type': 'RECEIPT',
                                       'amounts_per_vat_rate': [{'vat_rate': 'REDUCED_1', 'amount': '3.20'}],
                                       'amounts_per_payment_type': [{'payment_type': 'CASH', 'amount': '3.20',
                                                                     'currency_code': 'EUR'}]}}}
order = {'standard_v1': {'order': {'line_items': [{'quantity': '1', 'text': 'Kaffee', 'price_per_unit': '3.20'}]}}}
t1, t2, t3 = new_id(), new_id(), new_id()
upsert(t1, 1, 'ACTIVE')
upsert(t1, 2, 'ACTIVE', order, {'order_no': '4711'})
r = upsert(t1, 3, 'FINISHED', receipt)
if r.ok():
    c.check(isinstance(r.json.get('qr_code_data'), str), 'qr_code_data %r' % r.json.get('qr_code_data'))
    c.check((r.json.get('metadata') or {}).get('order_no') == '4711', 'metadata %r' % r.json.get('metadata'))
upsert(t2, 1, 'ACTIVE')
upsert(t2, 2, 'CANCELLED', {'standard_v1': {'receipt': {'receipt_type': 'RECEIPT', 'amounts_per_vat_rate': [],
                                                        'amounts_per_payment_type': []}}})
upsert(t3, 1, 'ACTIVE')


def listed(query):
    r = c.call('GET', V2 + '/tss/%s/tx%s' % (tss, query), token=tok)
    if not c.expect(r, 'listTransactionsOfTss ' + query):
        return None
    js_number(c, r.json, 'count')
    for k in ('_env', '_type', '_version'):
        js_string(c, r.json, k)
    for x in r.json.get('data') or []:
        tx_item(x, optional_end=True)
    return sorted(x.get('_id') for x in r.json.get('data') or [])


c.step = 'listTransactionsOfTss'
for query, want in (('', [t1, t2, t3]), ('?states[0]=ACTIVE', [t3]), ('?states[0]=CANCELLED', [t2]),
                    ('?states[0]=ACTIVE&states[1]=FINISHED', [t1, t3]),
                    ('?states[0]=CANCELLED&states[1]=FINISHED', [t1, t2])):
    got = listed(query)
    c.check(got is None or got == sorted(want), '%s lists %r, not %r' % (query or 'no filter', got, sorted(want)))

c.step = 'retrieveTransactionAllRevisions'
revs = []
latest = -1
n = 1
while latest == -1 or n <= latest:
    r = c.call('GET', V2 + '/tss/%s/tx/%s?tx_revision=%d' % (tss, t1, n), token=tok)
    if not c.expect(r, 'retrieveTransaction revision %d' % n):
        break
    tx_item(r.json, optional_end=True)
    latest = r.json.get('latest_revision')
    if not c.check(isinstance(latest, int) and latest <= 10, 'latest_revision %r' % (latest,)):
        break
    revs.append((r.json.get('revision'), r.json.get('state')))
    n += 1
c.check(revs == [(1, 'ACTIVE'), (2, 'ACTIVE'), (3, 'FINISHED')], 'the revisions read back: %r' % revs)
r = c.call('GET', V2 + '/tss/%s/tx/%s' % (tss, t1), token=tok)
if c.expect(r, 'retrieveTransaction'):
    c.check(r.json.get('revision') == 3, 'without tx_revision: revision %r, not the latest' % r.json.get('revision'))

c.step = 'updateTss DISABLED'
upsert(t3, 2, 'FINISHED', receipt)
r = c.call('PATCH', V2 + '/tss/' + tss, {'state': 'DISABLED'}, token=tok)
if c.expect(r, 'updateTss DISABLED'):
    tss_item(r.json)
    js_number(c, r.json, 'time_disable')
c.finish()
