#!/usr/bin/env python3
"""odoo_pos_res_cert.py - contract test: Odoo's restaurant variant
(l10n_de_pos_res_cert) against a real opentsed: every order sent to the
kitchen is a transaction of its own, started without a schema and finished
with standard_v1.order.line_items (quantities as strings, negative for a
removed line), which the TSS signs as Bestellung-V1; deleting a table's
order sends its removed lines, then starts and cancels the receipt."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import Contract, js_number, js_string, new_id, process_data, setup_tss

c = Contract('odoo_pos_res_cert')
c.start()
key, secret = c.org_key('TEST')
V2 = '/api/v2'
c.step = 'setup'
r = c.call('POST', V2 + '/auth', {'api_secret': secret, 'api_key': key})
c.need(r, 'POST /auth')
tok = r.json['access_token']
pin = '602214'
tss = setup_tss(c, tok, pin)
client = new_id()
serial = new_id()
c.need(c.call('PUT', V2 + '/tss/%s/client/%s' % (tss, client), {'serial_number': serial}, token=tok), 'PUT client')
c.call('POST', V2 + '/tss/%s/admin/logout' % tss, {'admin_pin': pin}, token=tok)


def order_transaction(lines, what):
    """Order.createAndFinishOrderTransaction(lineDifference)."""
    for line in lines:   # quantity.toString(), price_per_unit rounded .toFixed(2)
        line['quantity'] = str(line['quantity'])
        line['price_per_unit'] = '%.2f' % line['price_per_unit']
    t = new_id()
    r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=1' % (tss, t), {'state': 'ACTIVE', 'client_id': client},
               token=tok)
    if not c.expect(r, what + ': start without schema'):
        return None
    r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=2' % (tss, t),
               {'state': 'FINISHED', 'client_id': client,
                'schema': {'standard_v1': {'order': {'line_items': lines}}}}, token=tok)
    if not c.expect(r, what + ': finish with the line items'):
        return None
    js_number(c, r.json, 'number')
    js_number(c, r.json, 'time_end')
    js_string(c, r.json, 'qr_code_data')
    c.check(r.json.get('process_type') == 'Bestellung-V1', 'process_type %r' % r.json.get('process_type'))
    c.check((r.json.get('schema') or {}).get('standard_v1', {}).get('order', {}).get('line_items') == lines,
            'the order is not echoed as sent: %r' % r.json.get('schema'))
    return r.json


c.step = 'order to the kitchen'
t = order_transaction([{'quantity': 2, 'text': 'Pizza Margherita', 'price_per_unit': 9.5},
                       {'quantity': 1.5, 'text': 'Wein "Haus" 0,2l', 'price_per_unit': 4.2}], 'two lines')
if t:
    c.check(process_data(c, t) == '2;"Pizza Margherita";9.50\r1.5;"Wein ""Haus"" 0,2l";4.20',
            'Bestellung-V1 processData %r' % process_data(c, t))

c.step = 'a line taken back'
t = order_transaction([{'quantity': -1, 'text': 'Pizza Margherita', 'price_per_unit': 9.5}], 'a removed line')
if t:
    c.check(process_data(c, t) == '-1;"Pizza Margherita";9.50', 'processData %r' % process_data(c, t))

# Order.cancelOrderTransaction: the removed lines, then the receipt
# transaction started and cancelled.
c.step = 'table order deleted'
order_transaction([{'quantity': -1, 'text': 'Pizza Margherita', 'price_per_unit': 9.5},
                   {'quantity': -1.5, 'text': 'Wein "Haus" 0,2l', 'price_per_unit': 4.2}], 'the remaining lines removed')
rec = new_id()
r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=1' % (tss, rec),
           {'state': 'ACTIVE', 'client_id': client,
            'schema': {'standard_v1': {'receipt': {'receipt_type': 'RECEIPT', 'amounts_per_vat_rate': [],
                                                   'amounts_per_payment_type': []}}}}, token=tok)
c.expect(r, 'start the receipt with empty amounts')
r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=2' % (tss, rec),
           {'state': 'CANCELLED', 'client_id': client,
            'schema': {'standard_v1': {'receipt': {'receipt_type': 'CANCELLATION', 'amounts_per_vat_rate': [],
                                                   'amounts_per_payment_type': []}}}}, token=tok)
if c.expect(r, 'cancel the receipt'):
    c.check(r.json.get('state') == 'CANCELLED', 'state %r' % r.json.get('state'))

c.step = 'the table pays'
pay = new_id()
r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=1' % (tss, pay),
           {'state': 'ACTIVE', 'client_id': client,
            'schema': {'standard_v1': {'receipt': {'receipt_type': 'RECEIPT',
                                                   'amounts_per_vat_rate': [{'vat_rate': '19', 'amount': '23.20000'}],
                                                   'amounts_per_payment_type': []}}}}, token=tok)
c.expect(r, 'start the receipt')
r = c.call('PUT', V2 + '/tss/%s/tx/%s?tx_revision=2' % (tss, pay),
           {'state': 'FINISHED', 'client_id': client,
            'schema': {'standard_v1': {'receipt': {'receipt_type': 'RECEIPT',
                                                   'amounts_per_vat_rate': [{'vat_rate': '19', 'amount': '23.20000'}],
                                                   'amounts_per_payment_type': [{'payment_type': 'NON_CASH',
                                                                                 'amount': '23.20'}]}}}}, token=tok)
if c.expect(r, 'finish the receipt at the payment'):
    c.check(process_data(c, r.json) == 'Beleg^23.20_0.00_0.00_0.00_0.00^23.20:Unbar',
            'processData %r' % process_data(c, r.json))
c.finish()
