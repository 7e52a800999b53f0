#!/usr/bin/env python3
"""fiskaly_ruby.py - contract test: the requests of the uala/fiskaly-ruby gem
(FiskalyRuby::KassenSichV, HTTParty) against a real opentsed.

Every request carries `Content-Type: application/json` and `Authorization:
Bearer <token>` (on /auth with an empty token); GET requests of TSS and
client carry the body `{}`; every answer, errors and admin logout included,
goes through JSON.parse. Transactions are addressed by id or by number;
export filters travel in the JSON body (digit strings, integers)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import Contract, is_tar, new_id

c = Contract('fiskaly_ruby')
c.start()
key, secret = c.org_key('TEST')
V2 = '/api/v2'


def ruby(method, path, payload=None, token=None, body=True):
    """BaseRequest: headers always, body = payload.slice(...).to_json."""
    raw = None if not body else (b'{}' if payload is None else None)
    r = c.call(method, V2 + path, payload if raw is None else None, token=token if token is not None else tok,
               raw=raw)
    c.check(r.is_json, '%s %s: JSON.parse fails on the answer %r' % (method, path, r.body[:120]))
    return r


tok = ''
c.step = 'KassenSichV::Authenticate'
r = ruby('POST', '/auth', {'api_key': key, 'api_secret': secret})   # "Authorization: Bearer " (empty)
c.need(r, 'POST /auth with an empty bearer token')
tok = r.json['access_token']

c.step = 'TSS::Create'
tss = new_id()
r = ruby('PUT', '/tss/' + tss, {'metadata': {'shop': 'Filiale 7'}})
c.need(r, 'PUT /tss/{id} with metadata')
puk = r.json.get('admin_puk')
c.check(r.json.get('state') == 'CREATED' and r.json.get('_id') == tss, 'created TSS %r' % r.json)
c.check((r.json.get('metadata') or {}).get('shop') == 'Filiale 7', 'metadata %r' % r.json.get('metadata'))
tss2 = new_id()
r = ruby('PUT', '/tss/' + tss2)   # payload {} -> body "{}"
c.expect(r, 'PUT /tss/{id} {}')

c.step = 'TSS::Update, ChangeAdminPin, Admin::Authenticate'
r = ruby('PATCH', '/tss/' + tss, {'state': 'UNINITIALIZED', 'description': 'Kasse 1 (Theke)'})
if c.expect(r, 'PATCH UNINITIALIZED with a description'):
    c.check(r.json.get('description') == 'Kasse 1 (Theke)', 'description %r' % r.json.get('description'))
pin = 'geheim-123'
c.expect(ruby('PATCH', '/tss/%s/admin' % tss, {'new_admin_pin': pin, 'admin_puk': puk}), 'PATCH admin')
c.expect(ruby('POST', '/tss/%s/admin/auth' % tss, {'admin_pin': pin}), 'admin/auth')
r = ruby('PATCH', '/tss/' + tss, {'state': 'INITIALIZED', 'metadata': {'shop': 'Filiale 7', 'till': '1'}})
if c.expect(r, 'PATCH INITIALIZED with metadata'):
    c.check(r.json.get('metadata') == {'shop': 'Filiale 7', 'till': '1'}, 'metadata %r' % r.json.get('metadata'))

c.step = 'TSS::Client::Create, Retrieve'
cid = new_id()
serial = '9f86d081884c7d659a2feaa0c55ad015'   # SecureRandom.hex
r = ruby('PUT', '/tss/%s/client/%s' % (tss, cid), {'serial_number': serial, 'metadata': {'register': 'A'}})
if c.expect(r, 'PUT client with metadata'):
    c.check((r.json.get('metadata') or {}).get('register') == 'A', 'client metadata %r' % r.json.get('metadata'))
r = ruby('GET', '/tss/%s/client/%s' % (tss, cid))   # a GET with the body {}
if c.expect(r, 'GET client with a body {}'):
    c.check(r.json.get('serial_number') == serial, 'client %r' % r.json)
r = ruby('GET', '/tss/' + tss)
c.expect(r, 'GET tss with a body {}')

c.step = 'Admin::Logout'
r = ruby('POST', '/tss/%s/admin/logout' % tss)
c.expect(r, 'admin/logout (JSON.parse of the answer)')

c.step = 'TSS::Tx::Upsert'
txid = new_id()
r = ruby('PUT', '/tss/%s/tx/%s?tx_revision=1' % (tss, txid),
         {'state': 'ACTIVE', 'client_id': cid, 'metadata': {'table': '12'}})
number = r.json.get('number') if c.expect(r, 'start by id') else None
if c.check(isinstance(number, int), 'number %r' % (number,)):
    c.check((r.json.get('metadata') or {}).get('table') == '12', 'tx metadata %r' % r.json.get('metadata'))
    receipt = {'receipt': {'receipt_type': 'RECEIPT', 'amounts_per_vat_rate': [{'vat_rate': 'NORMAL',
                                                                                 'amount': '5.95'}],
                           'amounts_per_payment_type': [{'payment_type': 'CASH', 'amount': '5.95',
                                                         'currency_code': 'EUR'}]}}
    r = ruby('PUT', '/tss/%s/tx/%d?tx_revision=2' % (tss, number),
             {'state': 'ACTIVE', 'client_id': cid, 'schema': {'standard_v1': receipt}})
    if c.expect(r, 'update by number'):
        c.check(r.json.get('_id') == txid and r.json.get('revision') == 2, 'update by number: %r' % r.json)
    r = ruby('PUT', '/tss/%s/tx/%d?tx_revision=3' % (tss, number), {'state': 'FINISHED', 'client_id': cid})
    if c.expect(r, 'finish by number without schema'):
        c.check(r.json.get('state') == 'FINISHED' and r.json.get('_id') == txid, 'finish %r' % r.json)
txc = new_id()
r = ruby('PUT', '/tss/%s/tx/%s?tx_revision=1' % (tss, txc), {'state': 'ACTIVE', 'client_id': cid})
if c.expect(r, 'start'):
    r = ruby('PUT', '/tss/%s/tx/%s?tx_revision=2' % (tss, txc),
             {'state': 'CANCELLED', 'client_id': cid,
              'schema': {'standard_v1': {'receipt': {'receipt_type': 'RECEIPT', 'amounts_per_vat_rate': [],
                                                     'amounts_per_payment_type': []}}}})
    if c.expect(r, 'cancel'):
        c.check(r.json.get('state') == 'CANCELLED', 'state %r' % r.json.get('state'))
r = ruby('PUT', '/tss/%s/tx/%s?tx_revision=1' % (tss, new_id()), {'state': 'ACTIVE', 'client_id': new_id()})
c.check(r.status == 400 and isinstance(r.json, dict) and r.json.get('code') == 'E_CLIENT_NOT_FOUND',
        'an unknown client: %s' % r)

c.step = 'TSS::Export::Trigger, Retrieve, RetrieveFile'
exp = new_id()
r = ruby('PUT', '/tss/%s/export/%s' % (tss, exp),
         {'start_transaction_number': '1', 'end_transaction_number': str(number or 1)})
c.expect(r, 'PUT export with digit-string filters in the body')
state = None
for _ in range(300):
    r = ruby('GET', '/tss/%s/export/%s' % (tss, exp), body=False)
    if not c.expect(r, 'GET export'):
        break
    state = r.json.get('state')
    if state in ('COMPLETED', 'ERROR', 'CANCELLED'):
        break
    __import__('time').sleep(0.1)
if c.check(state == 'COMPLETED', 'export state %r: %r' % (state, r.json)):
    p = r.json.get('parameters') or {}
    c.check(str(p.get('start_transaction_number')) == '1', 'the body filters were not applied: %r' % p)
    r = c.call('GET', V2 + '/tss/%s/export/%s/file' % (tss, exp), token=tok)
    c.check(r.status == 200 and is_tar(r.body), 'RetrieveFile: %s' % r)
exp2 = new_id()
r = ruby('PUT', '/tss/%s/export/%s' % (tss, exp2), {'start_date': 1, 'end_date': 4102444800, 'client_id': cid})
c.expect(r, 'PUT export with integer dates and client_id in the body')
r = ruby('GET', '/tss/%s/export/%s/file' % (tss, new_id()), body=False)
c.check(r.status == 404, 'the file of an unknown export: %s' % r)
c.finish()
