#!/usr/bin/env python3
"""fiskaltrust_scu.py - contract test: the requests of fiskaltrust's
middleware SCU for the market API (C#, Newtonsoft.Json DTOs) against a real
opentsed, each answer read as its DTOs read it.

The SCU gets an INITIALIZED TSS and its admin PIN from its configuration;
the test makes that TSS first, then replays: token, the TSE info calls,
client registration under admin login, a transaction started by id and
finished by number (after losing its revision cache), the export with its
doubled `??` query, export and TSS metadata, deregistration, DISABLED."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import (Contract, TSS_STATES_FISKALTRUST, check_env_mark, cs_dict, cs_guid, cs_int, cs_long,
                      cs_nullable_int, cs_object, cs_string, cs_uint, b64, is_tar, new_id, setup_tss)

c = Contract('fiskaltrust_scu')
c.start()
key, secret = c.org_key('LIVE')
V2 = '/api/v2/'


def tss_dto(t):
    """TssDto (Models/TssDto.cs)."""
    cs_guid(c, t, '_id')
    for k in ('_type', '_env', '_version', 'description', 'state', 'certificate', 'public_key',
              'signature_algorithm', 'signature_timestamp_format', 'transaction_data_encoding', 'serial_number'):
        cs_string(c, t, k)
    state = t.get('state')
    cs_long(c, t, 'time_creation', required=True)
    cs_long(c, t, 'time_init', required=state in ('INITIALIZED', 'DISABLED'))
    cs_long(c, t, 'time_disable', required=state == 'DISABLED')
    cs_long(c, t, 'signature_counter', required=True)     # TseInfo.CurrentNumberOfSignatures
    cs_long(c, t, 'transaction_counter', required=True)   # the end of the export range
    cs_string(c, t, 'serial_number', required=True)
    cs_string(c, t, 'public_key', required=True)
    for k in ('max_number_active_transactions', 'max_number_registered_clients', 'number_active_transactions'):
        cs_nullable_int(c, t, k)
    cs_dict(c, t, 'metadata', required=True)   # GetExportRange: tss.Metadata.ContainsKey(...)
    c.check(t.get('state') in TSS_STATES_FISKALTRUST, 'TSS state %r is not one the SCU maps' % t.get('state'))


def client_dto(x):
    cs_guid(c, x, '_id')
    cs_string(c, x, 'serial_number', required=True)
    cs_string(c, x, 'state', required=True)
    cs_int(c, x, 'time_creation')
    cs_int(c, x, 'time_update')
    cs_guid(c, x, 'tss_id')
    cs_dict(c, x, 'metadata')


def tx_dto(x, raw=True):
    """TransactionDto (Models/TransactionDto.cs) and what FiskalySCU reads."""
    cs_guid(c, x, 'tss_id')
    cs_guid(c, x, 'client_id')
    for k in ('tss_serial_number', 'client_serial_number', 'state', 'qr_code_data'):
        cs_string(c, x, k)
    cs_int(c, x, 'revision')
    cs_int(c, x, 'latest_revision', required=True)
    cs_uint(c, x, 'number', required=True)
    cs_long(c, x, 'time_start', required=True)
    cs_long(c, x, 'time_end', required=x.get('state') in ('FINISHED', 'CANCELLED'))
    log = cs_object(c, x, 'log')
    if log is not None:
        cs_string(c, log, 'operation')
        cs_long(c, log, 'timestamp', required=True)
        cs_string(c, log, 'timestamp_format', required=True)
    sig = cs_object(c, x, 'signature')
    if sig is not None:
        for k in ('value', 'algorithm', 'public_key'):
            cs_string(c, sig, k, required=True)
        cs_uint(c, sig, 'counter', required=True)
    schema = cs_object(c, x, 'schema', required=raw)
    if raw and schema is not None:   # CreateFinishTransactionResponse: transaction.Schema.RawData.ProcessData
        rd = cs_object(c, schema, 'raw')
        if rd is not None:
            cs_string(c, rd, 'process_data')
            cs_string(c, rd, 'process_type')
    cs_dict(c, x, 'metadata')


def export_dto(e):
    """ExportStateInformationDto."""
    cs_guid(c, e, '_id')
    cs_guid(c, e, 'tss_id')
    for k in ('href', 'state', 'exception'):
        cs_string(c, e, k)
    for k in ('estimated_time_of_completion', 'time_request', 'time_start', 'time_end', 'time_expiration',
              'time_error'):
        cs_long(c, e, k)


def collection(r, item):
    if not c.expect(r, r.method + ' ' + r.path):
        return []
    cs_int(c, r.json, 'count')
    data = r.json.get('data')
    if not c.check(isinstance(data, list), 'data is %r, not a list' % (data,)):
        return []
    for x in data:
        item(x)
    return data


# The TSS fiskaltrust's portal made (admin PIN in the SCU's configuration).
c.step = 'setup'
pin = '852456'
portal = c.token(key, secret)
tss = setup_tss(c, portal, pin)
c.call('POST', V2 + 'tss/%s/admin/logout' % tss, {}, token=portal)

# AuthenticatedHttpClientHandler.GetToken
c.step = 'token'
r = c.call('POST', V2 + 'auth', {'api_key': key, 'api_secret': secret})
if c.expect(r, 'POST auth'):
    cs_string(c, r.json, 'access_token', required=True)
    cs_int(c, r.json, 'access_token_expires_in', required=True)
tok = r.json['access_token']


def tse_info():
    """GetTseInfoAsync: clients, TSS and ACTIVE transactions."""
    clients = collection(c.call('GET', V2 + 'tss/%s/client' % tss, token=tok), client_dto)
    r = c.call('GET', V2 + 'tss/' + tss, token=tok)
    if c.expect(r, 'GET tss'):
        tss_dto(r.json)
    active = collection(c.call('GET', V2 + 'tss/%s/tx?states[]=ACTIVE' % tss, token=tok), lambda x: tx_dto(x, raw=False))
    return clients, r.json or {}, active


c.step = 'GetTseInfo'
clients, t, active = tse_info()
c.check(t.get('state') == 'INITIALIZED', 'TSS state %r' % t.get('state'))
c.check(t.get('_env') == 'LIVE', '_env %r for a TSS of a LIVE key' % t.get('_env'))
c.check(active == [], 'ACTIVE transactions on a new TSS: %r' % active)

# RegisterClientIdAsync: admin login, PUT client, logout.
c.step = 'RegisterClientId'
serial = 'POS-0815'
cid = new_id()
c.expect(c.call('POST', V2 + 'tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=tok), 'admin/auth')
r = c.call('PUT', V2 + 'tss/%s/client/%s' % (tss, cid), {'serial_number': serial}, token=tok)
c.expect(r, 'PUT client')
c.expect(c.call('POST', V2 + 'tss/%s/admin/logout' % tss, {}, token=tok), 'admin/logout')
clients, t, active = tse_info()
reg = {x.get('serial_number'): x.get('_id') for x in clients if x.get('state') == 'REGISTERED'}
c.check(reg.get(serial) == cid, 'the registered client %s is not listed as REGISTERED: %r' % (serial, clients))

# StartTransactionAsync: a new id, revision 1, no schema (no process data yet).
c.step = 'StartTransaction'
txid = new_id()
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=1' % (tss, txid), {'state': 'ACTIVE', 'client_id': cid},
           token=tok)
number = None
if c.expect(r, 'start'):
    tx_dto(r.json, raw=False)
    number = r.json.get('number')
    c.check(r.json.get('latest_revision') == 1, 'latest_revision %r after the start' % r.json.get('latest_revision'))
    c.check('time_end' not in r.json or isinstance(r.json['time_end'], int),
            'time_end of an ACTIVE transaction is %r' % r.json.get('time_end'))
# A second start with process data (the raw schema the SCU sends when it has some).
txid2 = new_id()
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=1' % (tss, txid2),
           {'state': 'ACTIVE', 'client_id': cid, 'schema': {'raw': {'process_type': '', 'process_data': ''}}},
           token=tok)
number2 = r.json.get('number') if c.expect(r, 'start with an empty raw schema') else None

c.step = 'GetTseInfo with open transactions'
clients, t, active = tse_info()
c.check(sorted(x.get('number') for x in active) == sorted([number, number2]),
        'the ACTIVE list holds %r, not transactions %r' % ([x.get('number') for x in active], [number, number2]))
cs_nullable_int(c, t, 'number_active_transactions')
c.check(t.get('number_active_transactions') in (None, 2), 'number_active_transactions %r'
        % t.get('number_active_transactions'))

# FinishTransactionAsync after a restart of the middleware: the revision is
# looked up by NUMBER, the finish addresses the transaction by NUMBER.
c.step = 'FinishTransaction by number'
pd = b64('Beleg^11.90_0.00_0.00_0.00_0.00^11.90:Bar')
if number is not None:
    r = c.call('GET', V2 + 'tss/%s/tx/%d' % (tss, number), token=tok)
    latest = None
    if c.expect(r, 'GET tx by number'):
        tx_dto(r.json, raw=False)
        c.check(r.json.get('_id') == txid, 'GET tx/%d answers transaction %r, not %s' % (number, r.json.get('_id'),
                                                                                     txid))
        latest = r.json.get('latest_revision')
    if isinstance(latest, int):
        body = {'state': 'FINISHED', 'client_id': cid,
                'schema': {'raw': {'process_type': 'Kassenbeleg-V1', 'process_data': pd}}}
        r = c.call('PUT', V2 + 'tss/%s/tx/%d?tx_revision=%d' % (tss, number, latest + 1), body, token=tok)
        if c.expect(r, 'finish by number'):
            tx_dto(r.json)
            c.check(r.json.get('state') == 'FINISHED', 'state %r after the finish' % r.json.get('state'))
            c.check(r.json.get('_id') == txid and r.json.get('number') == number,
                    'the finish by number changed another transaction: %r' % r.json.get('_id'))
            raw = (r.json.get('schema') or {}).get('raw') or {}
            c.check(raw.get('process_data') == pd and raw.get('process_type') == 'Kassenbeleg-V1',
                    'schema.raw is %r, not what was sent' % raw)
            c.check(isinstance(r.json.get('time_end'), int), 'time_end %r after the finish' % r.json.get('time_end'))
if number2 is not None:
    r = c.call('PUT', V2 + 'tss/%s/tx/%d?tx_revision=2' % (tss, number2),
               {'state': 'FINISHED', 'client_id': cid,
                'schema': {'raw': {'process_type': 'Kassenbeleg-V1', 'process_data': pd}}}, token=tok)
    if c.expect(r, 'finish the second by number'):
        tx_dto(r.json)

# StartExportSessionAsync: the range from the TSS's metadata and counter.
c.step = 'StartExportSession'
r = c.call('GET', V2 + 'tss/' + tss, token=tok)
meta = (r.json or {}).get('metadata') if c.expect(r, 'GET tss') else None
to = (r.json or {}).get('transaction_counter')
c.check(isinstance(meta, dict) and 'LastExportedTransactionNumber' not in meta, 'metadata %r' % (meta,))
c.check(isinstance(to, int) and to >= 2, 'transaction_counter %r' % (to,))
to = to if isinstance(to, int) else 2


def export(exp, query, frm, upto):
    r = c.call('PUT', V2 + 'tss/%s/export/%s?%s' % (tss, exp, query), raw=b'{}', token=tok)
    c.expect(r, 'PUT export ?' + query)
    meta = {'end_transaction_number': str(upto)}
    if frm is not None:
        meta = {'start_transaction_number': str(frm), 'end_transaction_number': str(upto)}
    c.expect(c.call('PATCH', V2 + 'tss/%s/export/%s/metadata' % (tss, exp), meta, token=tok),
             'PATCH export metadata')
    state = None
    for _ in range(300):   # WaitUntilExportFinished: polls each second (here faster)
        r = c.call('GET', V2 + 'tss/%s/export/%s' % (tss, exp), token=tok)
        if not c.expect(r, 'GET export'):
            return None
        export_dto(r.json)
        state = r.json.get('state')
        if state in ('COMPLETED', 'ERROR'):
            break
        __import__('time').sleep(0.1)
    if not c.check(state == 'COMPLETED', 'export state %r: %r' % (state, r.json)):
        return None
    # GetExportByExportStateAsync: the URL from the export's own tss_id and _id.
    r = c.call('GET', V2 + 'tss/%s/export/%s/file' % (r.json.get('tss_id'), r.json.get('_id')), token=tok)
    c.check(r.status == 200 and is_tar(r.body), 'the export file is no TAR: %s' % r)
    return r.body


exp = new_id()
# RequestExportAsync builds "tss/{id}/export/{eid}?{query}" with query
# starting with "?": the query string on the wire begins with "?".
tar = export(exp, '?end_transaction_number=%d' % to, None, to)
if tar:
    check_env_mark(c, tar, 'LIVE')

# EndExportSessionAsync(erase): no open transaction, the export's metadata,
# LastExportedTransactionNumber into the TSS's metadata (as a JSON number).
c.step = 'EndExportSession'
collection(c.call('GET', V2 + 'tss/%s/tx?states[]=ACTIVE' % tss, token=tok), lambda x: tx_dto(x, raw=False))
r = c.call('GET', V2 + 'tss/%s/export/%s/metadata' % (tss, exp), token=tok)
if c.expect(r, 'GET export metadata'):
    c.check(isinstance(r.json, dict) and str(r.json.get('end_transaction_number')) == str(to),
            'export metadata %r lacks end_transaction_number %d' % (r.json, to))
r = c.call('PATCH', V2 + 'tss/%s/metadata' % tss, {'LastExportedTransactionNumber': to}, token=tok)
c.expect(r, 'PATCH tss metadata with a number value')
r = c.call('GET', V2 + 'tss/%s/metadata' % tss, token=tok)
if c.expect(r, 'GET tss metadata'):
    v = r.json.get('LastExportedTransactionNumber') if isinstance(r.json, dict) else None
    c.check(str(v) == str(to), 'GET tss/metadata answers %r, not the flat object with the number %d' % (r.json, to))
r = c.call('GET', V2 + 'tss/' + tss, token=tok)
if c.expect(r, 'GET tss'):
    tss_dto(r.json)
    v = (r.json.get('metadata') or {}).get('LastExportedTransactionNumber')
    c.check(str(v) == str(to), 'the TSS metadata has LastExportedTransactionNumber %r' % (v,))

# The next export session starts after the last exported number.
c.step = 'second export'
r = c.call('PUT', V2 + 'tss/%s/tx/%s?tx_revision=1' % (tss, new_id()), {'state': 'ACTIVE', 'client_id': cid},
           token=tok)
if c.expect(r, 'start'):
    r = c.call('PUT', V2 + 'tss/%s/tx/%d?tx_revision=2' % (tss, r.json.get('number')),
               {'state': 'FINISHED', 'client_id': cid,
                'schema': {'raw': {'process_type': 'Kassenbeleg-V1', 'process_data': pd}}}, token=tok)
    c.expect(r, 'finish by number')
exp2 = new_id()
export(exp2, '?end_transaction_number=%d&client_id=%s&start_transaction_number=%d' % (to + 1, cid, to + 1),
       to + 1, to + 1)
export(new_id(), '?start_date=1&end_date=%d&client_id=%s' % (2**31, cid), None, to + 1)

# UnregisterClientIdAsync and SetTseStateAsync (under admin login).
c.step = 'UnregisterClientId'
c.expect(c.call('POST', V2 + 'tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=tok), 'admin/auth')
c.expect(c.call('PATCH', V2 + 'tss/%s/client/%s' % (tss, cid), {'state': 'DEREGISTERED'}, token=tok),
         'PATCH client DEREGISTERED')
c.call('POST', V2 + 'tss/%s/admin/logout' % tss, {}, token=tok)
clients, t, active = tse_info()
c.check(not [x for x in clients if x.get('state') == 'REGISTERED'], 'a deregistered client is still REGISTERED')

c.step = 'SetTseState DISABLED'
c.expect(c.call('POST', V2 + 'tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=tok), 'admin/auth')
r = c.call('GET', V2 + 'tss/' + tss, token=tok)
c.check(c.expect(r, 'GET tss') and r.json.get('state') != 'CREATED', 'state %r' % (r.json or {}).get('state'))
r = c.call('PATCH', V2 + 'tss/' + tss, {'state': 'DISABLED'}, token=tok)
if c.expect(r, 'PATCH DISABLED'):
    tss_dto(r.json)
    c.check(r.json.get('state') == 'DISABLED', 'state %r' % r.json.get('state'))
    c.check(isinstance(r.json.get('time_disable'), int), 'time_disable %r after DISABLED' % r.json.get('time_disable'))
c.call('POST', V2 + 'tss/%s/admin/logout' % tss, {}, token=tok)
c.finish()
