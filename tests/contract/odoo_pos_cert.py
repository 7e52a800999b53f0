#!/usr/bin/env python3
"""odoo_pos_cert.py - contract test: Odoo's German POS certification
(l10n_de_pos_cert) against a real opentsed: the Python side's TSS creation
(pos_config._l10n_de_create_tss_process) and export (l10n_de_pos.tss_export),
and the POS's transactions (pos_store: receipts with VAT as percentages and
five-decimal amounts, updates per order line, finish, cancel, and the
cancelling of every open transaction through the organization-wide list).

Odoo's JavaScript calls response.json() on every answer, errors too; the
Python side calls raise_for_status() and reads json()['admin_puk'] and the
export's state into a Selection (pending, working, completed, cancelled,
error)."""
import base64
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import Contract, check_env_mark, error_body, is_tar, js_number, js_string, new_id, process_data

c = Contract('odoo_pos_cert')
c.start()
key, secret = c.org_key('TEST')
V2 = '/api/v2'

# res_company._l10n_de_fiskaly_kassensichv_auth
c.step = 'auth'
r = c.call('POST', V2 + '/auth', {'api_secret': secret, 'api_key': key})
c.need(r, 'POST /auth')
tok = r.json['access_token']
r = c.call('POST', V2 + '/auth', {'api_secret': 'not the secret', 'api_key': key})
c.check(r.status == 401, 'a wrong secret answers %s, Odoo tells the user on 401 only' % r)

# pos_config._l10n_de_create_tss_process
c.step = 'create TSS process'
tss = new_id()
r = c.call('PUT', V2 + '/tss/' + tss, {}, token=tok)
c.need(r, 'PUT /tss/{id} {}')
puk = r.json.get('admin_puk')
c.check(isinstance(puk, str) and puk, 'json()["admin_puk"] is %r' % (puk,))
c.expect(c.call('PATCH', V2 + '/tss/' + tss, {'state': 'UNINITIALIZED'}, token=tok), 'PATCH UNINITIALIZED')
pin = '493817'   # six random digits
c.expect(c.call('PATCH', V2 + '/tss/%s/admin' % tss, {'admin_puk': puk, 'new_admin_pin': pin}, token=tok),
         'PATCH admin')
c.expect(c.call('POST', V2 + '/tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=tok), 'admin/auth')
c.expect(c.call('PATCH', V2 + '/tss/' + tss, {'state': 'INITIALIZED'}, token=tok), 'PATCH INITIALIZED')
client = new_id()
config_uuid = new_id()   # the pos.config's uuid is the client's serial number
c.expect(c.call('PUT', V2 + '/tss/%s/client/%s' % (tss, client), {'serial_number': config_uuid}, token=tok),
         'PUT client')
r = c.call('POST', V2 + '/tss/%s/admin/logout' % tss, {'admin_pin': pin}, token=tok)
c.expect(r, 'admin/logout with {"admin_pin": ...}')


def tx(txid, rev, body, what):
    """pos_store.transactionCall: PUT, response.json(), tx_revision += 1."""
    r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=%d' % (tss, txid, rev), body, token=tok)
    c.expect(r, what)
    return r


def update_tss_info(data):
    """Order._updateTssInfo."""
    js_number(c, data, 'number')
    js_number(c, data, 'time_start')
    js_number(c, data, 'time_end')
    js_string(c, data, 'tss_serial_number')
    log = data.get('log')
    c.check(isinstance(log, dict) and isinstance(log.get('timestamp_format'), str), 'log %r' % (log,))
    sig = data.get('signature')
    if c.check(isinstance(sig, dict), 'signature %r' % (sig,)):
        for k in ('value', 'algorithm', 'public_key'):
            js_string(c, sig, k)
    js_string(c, data, 'client_serial_number')
    c.check(data.get('client_serial_number') == config_uuid, 'client_serial_number %r'
            % data.get('client_serial_number'))


def receipt(vat, pay, rtype='RECEIPT'):
    return {'state': 'ACTIVE', 'client_id': client,
            'schema': {'standard_v1': {'receipt': {'receipt_type': rtype, 'amounts_per_vat_rate': vat,
                                                   'amounts_per_payment_type': pay}}}}


# pos_store.createTransaction on the first order line, again on each line
# change (tx_revision counts up), finishShortTransaction on payment.
c.step = 'order with three lines'
order = new_id()
body = receipt([{'vat_rate': '19', 'amount': '11.90000'}], [])
if tx(order, 1, body, 'start, VAT "19", amount with five decimals').ok():
    d = c.call('GET', V2 + '/tss/%s/tx/%s' % (tss, order), token=tok).json or {}
    c.check(d.get('state') == 'ACTIVE' and d.get('latest_revision') == 1, 'the started order %r' % d)
body = receipt([{'vat_rate': '19', 'amount': '11.90000'}, {'vat_rate': '7', 'amount': '3.21000'}], [])
tx(order, 2, body, 'update, a second line at "7"')
vat = [{'vat_rate': '19', 'amount': '11.90000'}, {'vat_rate': '7', 'amount': '3.21000'},
       {'vat_rate': '10.7', 'amount': '1.07000'}, {'vat_rate': '5.5', 'amount': '2.11000'},
       {'vat_rate': '0', 'amount': '0.98765'}]
pay = [{'payment_type': 'CASH', 'amount': '20.00'}, {'payment_type': 'CASH', 'amount': '-0.72'}]
body = receipt(vat, pay)
body['state'] = 'FINISHED'
r = tx(order, 3, body, 'finish, all five rates as percentages')
if r.ok():
    update_tss_info(r.json)
    c.check(r.json.get('state') == 'FINISHED', 'state %r' % r.json.get('state'))
    # Rounded to two places, in DSFinV-K's order of rates, as the market API
    # writes processData.
    c.check(process_data(c, r.json) == 'Beleg^11.90_3.21_1.07_2.11_0.99^19.28:Bar',
            'processData %r' % process_data(c, r.json))
    c.check((r.json.get('schema') or {}).get('standard_v1', {}).get('receipt', {}).get('amounts_per_vat_rate')
            == vat, 'the receipt is not echoed as sent: %r' % r.json.get('schema'))

c.step = 'an unpaid order with an adjustment line'
order2 = new_id()
tx(order2, 1, receipt([{'vat_rate': '7', 'amount': '4.50000'}, {'vat_rate': '0', 'amount': '0.50'}], []),
   'start')
body = receipt([{'vat_rate': '7', 'amount': '4.50000'}, {'vat_rate': '0', 'amount': '0.50'}],
               [{'payment_type': 'NON_CASH', 'amount': '5.00'}])
body['state'] = 'FINISHED'
r = tx(order2, 2, body, 'finish')
if r.ok():
    update_tss_info(r.json)
    c.check(process_data(c, r.json) == 'Beleg^0.00_4.50_0.00_0.00_0.50^5.00:Unbar',
            'processData %r' % process_data(c, r.json))

# pos_store.cancelTransaction: the order is deleted.
c.step = 'order deleted'
order3 = new_id()
tx(order3, 1, receipt([{'vat_rate': '19', 'amount': '2.38000'}], []), 'start')
body = receipt([{'vat_rate': '19', 'amount': '2.38000'}], [], 'CANCELLATION')
body['state'] = 'CANCELLED'
r = tx(order3, 2, body, 'cancel with a CANCELLATION receipt')
if r.ok():
    c.check(r.json.get('state') == 'CANCELLED', 'state %r' % r.json.get('state'))

# pos_store.cancelActiveTransactions at the session's closing: every ACTIVE
# transaction of the organization, cancelled with an empty receipt.
c.step = 'cancel the open transactions'
open_ids = []
for _ in range(2):
    t = new_id()
    if tx(t, 1, receipt([{'vat_rate': '19', 'amount': '1.19000'}], []), 'start').ok():
        open_ids.append(t)
r = c.call('GET', V2 + '/tx?states[]=ACTIVE', token=tok)
if c.expect(r, 'GET /tx?states[]=ACTIVE (the organization\'s)'):
    data = r.json.get('data')
    if c.check(isinstance(data, list), 'data %r' % (data,)):
        c.check(sorted(x.get('_id') for x in data) == sorted(open_ids),
                'the ACTIVE list %r is not the open transactions %r' % ([x.get('_id') for x in data], open_ids))
        for x in data:
            js_number(c, x, 'revision')
            if x.get('_id') is None or not isinstance(x.get('revision'), int):
                continue
            r = tx(x['_id'], x['revision'] + 1,
                   {'state': 'CANCELLED', 'client_id': client,
                    'schema': {'standard_v1': {'receipt': {'receipt_type': 'CANCELLATION',
                                                           'amounts_per_vat_rate': []}}}},
                   'cancel with an empty receipt, no payments')
            if r.ok():
                c.check(r.json.get('state') == 'CANCELLED', 'state %r' % r.json.get('state'))
r = c.call('GET', V2 + '/tx?states[]=ACTIVE', token=tok)
if c.expect(r, 'GET /tx?states[]=ACTIVE'):
    c.check(r.json.get('data') == [], 'still ACTIVE: %r' % r.json.get('data'))

# pos_store.fiskalyError: the codes and messages it tells apart.
c.step = 'errors the POS tells apart'
r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=1' % (new_id(), new_id()),
           {'state': 'ACTIVE', 'client_id': client}, token=tok)
error_body(c, r, 404, ['E_TSS_NOT_FOUND'], 'an unknown TSS id')
r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=1' % (tss, new_id()),
           {'state': 'ACTIVE', 'client_id': new_id()}, token=tok)
error_body(c, r, 400, ['E_CLIENT_NOT_FOUND'], 'an unknown client id')   # 400 and the code: "Client ID" popup
r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=1' % (tss, new_id()), {'state': 'ACTIVE', 'client_id': client},
           token='a.forged.token')
c.check(r.status == 401 and isinstance(r.json, dict) and r.json.get('status_code') == 401,
        'a bad token: %s (the POS re-authenticates on status_code 401)' % r)

# l10n_de_pos.tss_export: filters in the JSON body, dates as floats.
c.step = 'TSS export'
exp = new_id()
now = datetime.datetime.now().timestamp()
r = c.call('PUT', V2 + '/tss/%s/export/%s' % (tss, exp),
           {'start_date': float(int(now) - 3600), 'end_date': float(int(now) + 60), 'client_id': client}, token=tok)
states = ['pending', 'working', 'completed', 'cancelled', 'error']
if c.expect(r, 'PUT export with the filters in the body'):
    c.check(str(r.json.get('state')).lower() in states, 'state %r is no Selection value' % r.json.get('state'))
state = None
for _ in range(300):
    r = c.call('GET', V2 + '/tss/%s/export/%s' % (tss, exp), token=tok)
    if not c.expect(r, 'GET export (refresh state)'):
        break
    state = str(r.json.get('state')).lower()
    c.check(state in states, 'state %r is no Selection value' % state)
    if state in ('completed', 'error', 'cancelled'):
        break
    __import__('time').sleep(0.1)
if c.check(state == 'completed', 'the export ended %r' % state):
    params = r.json.get('parameters') or {}
    r = c.call('GET', V2 + '/tss/%s/export/%s/file' % (tss, exp), token=tok)
    if c.check(r.status == 200 and is_tar(r.body), 'download: %s' % r):
        check_env_mark(c, r.body, 'TEST')
    c.check(params.get('client_id') == client and 'start_date' in params,
            'the filters of the body were not applied: parameters %r' % (params,))

# pos_config.unlink: admin login, DISABLED.
c.step = 'unlink'
c.expect(c.call('POST', V2 + '/tss/%s/admin/auth' % tss, {'admin_pin': pin}, token=tok), 'admin/auth')
r = c.call('PATCH', V2 + '/tss/' + tss, {'state': 'DISABLED'}, token=tok)
c.check(r.ok() and (r.json or {}).get('state') == 'DISABLED', 'PATCH DISABLED: %s' % r)
c.finish()
