#!/usr/bin/env python3
"""mews_fiscalizations.py - contract test: the requests of
MewsSystems/fiscalizations (Germany V2, C#, Newtonsoft.Json) against a real
opentsed, each answer read as its DTOs and ModelMapper read it, and the
errors its ErrorResult.MapError maps (any other code throws there)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import (Contract, CLIENT_STATES, ENVS, PAYMENT_TYPES, RECEIPT_TYPES, TSS_STATES_MEWS, TX_STATES,
                      VAT_RATES, cs_bytes, cs_enum, cs_guid, cs_int, cs_long, cs_object, cs_string, error_body,
                      new_id)

MAPPED = ['E_TX_UPSERT', 'E_TSS_DISABLED', 'E_TSS_NOT_INITIALIZED', 'E_TX_ILLEGAL_TYPE_CHANGE',
          'E_TX_NO_TYPE_DEFINED', 'E_API_VERSION', 'E_CLIENT_NOT_FOUND', 'E_TSS_NOT_FOUND', 'E_TSS_CONFLICT',
          'E_CLIENT_CONFLICT']

c = Contract('mews_fiscalizations')
c.start()
key, secret = c.org_key('TEST')
V2 = '/api/v2/'


def tss_response(t):
    cs_guid(c, t, '_id')
    for k in ('description', 'certificate', 'serial_number', 'public_key', 'signature_algorithm',
              'signature_timestamp_format'):
        cs_string(c, t, k)
    state = cs_enum(c, t, 'state', TSS_STATES_MEWS)
    # MapTss: FromUnixTime of each time (absent: 1970, right only while it
    # has not happened), the counters.
    cs_long(c, t, 'time_creation', required=True)
    cs_long(c, t, 'time_init', required=state in ('INITIALIZED', 'DISABLED'))
    cs_long(c, t, 'time_disable', required=state == 'DISABLED')
    cs_long(c, t, 'transaction_counter', required=True)
    cs_int(c, t, 'signature_counter', required=True)


def client_response(x):
    cs_enum(c, x, 'state', CLIENT_STATES)
    cs_string(c, x, 'serial_number')
    cs_long(c, x, 'time_creation', required=True)
    cs_guid(c, x, 'tss_id')
    cs_guid(c, x, '_id')
    for k in ('_type', '_env', '_version'):
        cs_string(c, x, k)


def tx_response(x):
    cs_long(c, x, 'number', required=True)
    cs_long(c, x, 'time_start', required=True)
    cs_long(c, x, 'time_end', required=x.get('state') in ('FINISHED', 'CANCELLED'))
    for k in ('client_serial_number', 'certificate_serial', 'qr_code_data', 'tss_serial_number', '_type', '_env',
              '_version'):
        cs_string(c, x, k)
    cs_enum(c, x, 'state', TX_STATES)
    cs_guid(c, x, 'client_id')
    cs_guid(c, x, 'tss_id')
    cs_guid(c, x, '_id')
    cs_long(c, x, 'revision', required=True)
    cs_long(c, x, 'latest_revision', required=True)
    log = cs_object(c, x, 'log', required=False)
    if log:
        cs_string(c, log, 'operation')
        cs_long(c, log, 'timestamp')
        cs_string(c, log, 'timestamp_format')
    sig = cs_object(c, x, 'signature')   # MapTransaction: transaction.Signature.Value
    if sig:
        cs_string(c, sig, 'value')
        cs_string(c, sig, 'algorithm')
        cs_int(c, sig, 'counter', required=True)
        c.check(cs_bytes(c, sig, 'public_key') is not None, 'signature.public_key (byte[]) is missing')
    schema = cs_object(c, x, 'schema', required=False)
    sv1 = cs_object(c, schema, 'standard_v1', required=False) if schema else None
    rec = cs_object(c, sv1, 'receipt', required=False) if sv1 else None
    if rec:
        cs_enum(c, rec, 'receipt_type', RECEIPT_TYPES)
        for a in rec.get('amounts_per_vat_rate') or []:
            cs_enum(c, a, 'vat_rate', VAT_RATES)
            cs_string(c, a, 'amount')
        for a in rec.get('amounts_per_payment_type') or []:
            cs_enum(c, a, 'payment_type', PAYMENT_TYPES)
            cs_string(c, a, 'amount')
            cs_string(c, a, 'currency_code')


def mews_error(r, status, code, what):
    """ErrorResult.MapError: `error` is dereferenced always; 401 is
    'Unauthorized'; a 4xx code outside MAPPED throws NotImplementedException.
    status None: any 4xx (the library maps by code alone)."""
    if status is None:
        c.check(400 <= r.status < 500, '%s: %s' % (what, r))
        status = r.status
    e = error_body(c, r, status, [code], what)
    if e and status == 401:
        c.check(e.get('error') == 'Unauthorized', '%s: error %r, not "Unauthorized"' % (what, e.get('error')))


# GetAccessTokenAsync
c.step = 'GetAccessToken'
r = c.call('POST', V2 + 'auth', {'api_key': key, 'api_secret': secret})
if c.expect(r, 'POST auth'):
    cs_string(c, r.json, 'access_token', required=True)
    claims = cs_object(c, r.json, 'access_token_claims')   # token.AuthorizationTokenData.Environment
    if claims is not None:
        c.check(cs_enum(c, claims, 'env', ENVS) == 'TEST', 'access_token_claims.env %r for a TEST key'
                % claims.get('env'))
    for k in ('access_token_expires_in', 'refresh_token_expires_in', 'refresh_token_expires_at'):
        cs_long(c, r.json, k)
    cs_long(c, r.json, 'access_token_expires_at', required=True)
    cs_string(c, r.json, 'refresh_token')
tok = r.json['access_token']
r = c.call('POST', V2 + 'auth', {'api_key': key, 'api_secret': 'wrong'})
mews_error(r, 401, r.json.get('code') if isinstance(r.json, dict) else None, 'auth with a wrong secret')

# FiskalyTestFixture: the enabled TSSs (repeated `states=`), none yet: create one.
c.step = 'GetAllEnabledTSSs'
r = c.call('GET', V2 + 'tss?states=CREATED&states=INITIALIZED&states=UNINITIALIZED', token=tok)
if c.expect(r, 'GET tss?states=..&states=..'):
    c.check(r.json.get('data') == [], 'a new organization lists TSSs: %r' % r.json.get('data'))

c.step = 'CreateTss'
tss = new_id()
r = c.call('PUT', V2 + 'tss/' + tss, {}, token=tok)
puk = None
if c.expect(r, 'PUT tss {}'):
    tss_response(r.json)
    cs_string(c, r.json, 'admin_puk', required=True)
    puk = r.json.get('admin_puk')
    c.check(r.json.get('_env') == 'TEST', '_env %r for a TSS of a TEST key' % r.json.get('_env'))
r = c.call('PATCH', V2 + 'tss/' + tss, {'state': 'UNINITIALIZED'}, token=tok)
if c.expect(r, 'PATCH UNINITIALIZED'):
    tss_response(r.json)
pin = '47110815'
c.expect(c.call('PATCH', V2 + 'tss/%s/admin' % tss, {'admin_puk': puk, 'new_admin_pin': pin}, token=tok),
         'PATCH admin (ChangeAdminPin)')
c.expect(c.call('POST', V2 + 'tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=tok), 'admin/auth')
r = c.call('PATCH', V2 + 'tss/' + tss, {'state': 'INITIALIZED'}, token=tok)
if c.expect(r, 'PATCH INITIALIZED'):
    tss_response(r.json)
    c.check(r.json.get('state') == 'INITIALIZED', 'state %r' % r.json.get('state'))
    c.check(isinstance(r.json.get('time_init'), int), 'time_init %r after INITIALIZED' % r.json.get('time_init'))

c.step = 'CreateClient'
cid = new_id()
r = c.call('PUT', V2 + 'tss/%s/client/%s' % (tss, cid), {'serial_number': cid}, token=tok)
if c.expect(r, 'PUT client'):
    client_response(r.json)
    c.check(r.json.get('_id') == cid and r.json.get('state') == 'REGISTERED', 'client %r' % r.json)
# AdminLogoutAsync sends no Authorization header: a JSON 401 it can map.
r = c.call('POST', V2 + 'tss/%s/admin/logout' % tss, {})
mews_error(r, 401, r.json.get('code') if isinstance(r.json, dict) else None, 'admin/logout without a token')

c.step = 'GetTss and the TSS lists'
r = c.call('GET', V2 + 'tss/' + tss, token=tok)
if c.expect(r, 'GET tss'):
    tss_response(r.json)
for q in ('tss', 'tss?states=CREATED&states=INITIALIZED&states=UNINITIALIZED'):
    r = c.call('GET', V2 + q, token=tok)
    if c.expect(r, 'GET ' + q):
        for t in r.json.get('data') or []:
            tss_response(t)
        c.check([t.get('_id') for t in r.json.get('data') or []] == [tss], 'GET %s lists %r' % (q, r.json))
r = c.call('GET', V2 + 'tss?states=CREATED&states=UNINITIALIZED', token=tok)
if c.expect(r, 'GET tss?states=CREATED&states=UNINITIALIZED'):
    c.check(r.json.get('data') == [], 'repeated states= is not honoured: the INITIALIZED TSS is listed')

c.step = 'clients'
c.expect(c.call('POST', V2 + 'tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=tok), 'admin/auth')
cid2 = new_id()
r = c.call('PUT', V2 + 'tss/%s/client/%s' % (tss, cid2), {'serial_number': cid2}, token=tok)
c.expect(r, 'PUT a second client')
r = c.call('PATCH', V2 + 'tss/%s/client/%s' % (tss, cid2), {'state': 'DEREGISTERED'}, token=tok)
if c.expect(r, 'PATCH client DEREGISTERED'):
    client_response(r.json)
    c.check(r.json.get('state') == 'DEREGISTERED', 'state %r' % r.json.get('state'))
r = c.call('GET', V2 + 'tss/%s/client?state=REGISTERED' % tss, token=tok)
if c.expect(r, 'GET client?state=REGISTERED'):
    ids = []
    for x in r.json.get('data') or []:
        client_response(x)
        ids.append(x.get('_id'))
    c.check(cid in ids, 'the registered client is missing from %r' % ids)
r = c.call('GET', V2 + 'tss/%s/client/%s' % (tss, cid), token=tok)
if c.expect(r, 'GET client'):
    client_response(r.json)
# A client id again with another serial number: E_CLIENT_CONFLICT.
r = c.call('PUT', V2 + 'tss/%s/client/%s' % (tss, cid), {'serial_number': 'another'}, token=tok)
mews_error(r, None, 'E_CLIENT_CONFLICT', 'a client id with another serial number')

c.step = 'StartTransaction'
txid = new_id()
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=1' % (tss, txid), {'state': 'ACTIVE', 'client_id': cid},
           token=tok)
if c.expect(r, 'start'):
    tx_response(r.json)

c.step = 'FinishTransaction'
receipt = {'receipt_type': 'RECEIPT',
           'amounts_per_vat_rate': [{'vat_rate': 'NORMAL', 'amount': '119.00'},
                                    {'vat_rate': 'REDUCED_1', 'amount': '10.70'}],
           'amounts_per_payment_type': [{'payment_type': 'CASH', 'amount': '100.00', 'currency_code': 'EUR'},
                                        {'payment_type': 'NON_CASH', 'amount': '29.70', 'currency_code': 'EUR'}]}
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=2' % (tss, txid),
           {'state': 'FINISHED', 'client_id': cid, 'schema': {'standard_v1': {'receipt': receipt}}}, token=tok)
if c.expect(r, 'finish'):
    tx_response(r.json)
    c.check(r.json.get('state') == 'FINISHED', 'state %r' % r.json.get('state'))
    c.check(r.json.get('schema', {}).get('standard_v1', {}).get('receipt') == receipt,
            'the receipt is not echoed as sent: %r' % r.json.get('schema'))
r = c.call('GET', V2 + 'tss/%s/tx/%s' % (tss, txid), token=tok)
if c.expect(r, 'GET tx'):
    tx_response(r.json)

c.step = 'errors the library maps'
# A stale revision.
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=1' % (tss, txid), {'state': 'ACTIVE', 'client_id': cid},
           token=tok)
mews_error(r, None, 'E_TX_UPSERT', 'a stale revision')
# A transaction of a client the TSS does not know.
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=1' % (tss, new_id()), {'state': 'ACTIVE', 'client_id': new_id()},
           token=tok)
mews_error(r, 400, 'E_CLIENT_NOT_FOUND', 'a transaction of an unknown client')
r = c.call('GET', V2 + 'tss/' + new_id(), token=tok)
mews_error(r, 404, 'E_TSS_NOT_FOUND', 'an unknown TSS')
r = c.call('GET', V2 + 'tss/' + tss)
mews_error(r, 401, r.json.get('code') if isinstance(r.json, dict) else None, 'no token')
# A TSS not yet initialized.
t2 = new_id()
c.expect(c.call('PUT', V2 + 'tss/' + t2, {}, token=tok), 'create a second TSS')
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=1' % (t2, new_id()), {'state': 'ACTIVE', 'client_id': cid},
           token=tok)
c.check(400 <= r.status < 500, 'a transaction on a CREATED TSS: %s' % r)
error_body(c, r, r.status, MAPPED, 'a transaction on a CREATED TSS')
# A disabled TSS.
c.expect(c.call('POST', V2 + 'tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=tok), 'admin/auth')
r = c.call('PATCH', V2 + 'tss/' + tss, {'state': 'DISABLED'}, token=tok)
if c.expect(r, 'PATCH DISABLED'):
    tss_response(r.json)
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=1' % (tss, new_id()), {'state': 'ACTIVE', 'client_id': cid},
           token=tok)
mews_error(r, None, 'E_TSS_DISABLED', 'a transaction on a DISABLED TSS')
c.finish()
