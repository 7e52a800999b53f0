/* console.js - the OpenTSE web console. Signs in with an API key and secret
   (kept in this tab's memory only), then shows through the public HTTP API
   (docs/api.md) the organization's TSSs, their clients, open transactions
   and exports, a live chart from /metrics, and for the operator key the
   organizations and their API keys. Actions that need the admin PIN ask for
   it each time and forget it at once. */
'use strict';

(() => {
  const $ = (sel) => document.querySelector(sel);
  const MAX_UPDATE_DELAY = 45; /* seconds, TR-03153 */
  const POLL_MS = 2000;

  /* The API lives next to /ui/, also behind a proxy path prefix. */
  const base = location.pathname.replace(/ui\/[^/]*$/, '');
  const session = { token: null, refresh: null, expiresAt: 0, operator: false };
  let lang = (navigator.language || 'en').toLowerCase().startsWith('de') ? 'de' : 'en';
  let selected = null; /* TSS id shown in #detail */
  let timer = null;

  /* ---------------------------------------------------------------- texts */

  function t(key, ...args) {
    const s = (window.TEXTS[lang] && window.TEXTS[lang][key]) || window.TEXTS.en[key] || key;
    return s.replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)]));
  }

  function applyTexts() {
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
    $('#lang').value = lang;
  }

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
    return e;
  }

  /* A time in the browser's zone; UTC on hover. */
  function timeEl(unix) {
    if (!unix) return el('span', {}, '–');
    const d = new Date(unix * 1000);
    const e = el('time', { dateTime: d.toISOString(), title: d.toISOString().replace('.000Z', 'Z') + ' (UTC)' },
      d.toLocaleString(lang === 'de' ? 'de-DE' : 'en-GB'));
    return e;
  }

  function showError(err) {
    const p = $('#error');
    if (!err) { p.hidden = true; p.textContent = ''; return; }
    p.textContent = `${t('error_prefix')}: ${err.code ? err.code + ': ' : ''}${err.message || err}`;
    p.hidden = false;
  }

  /* ------------------------------------------------------------------ API */

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
    }
  }

  async function refreshToken() {
    const r = await fetch(base + 'api/v2/auth', { method: 'POST', body: JSON.stringify({ refresh_token: session.refresh }) });
    const j = await r.json();
    if (!r.ok) throw new ApiError(r.status, j);
    setTokens(j);
  }

  function setTokens(j) {
    session.token = j.access_token;
    session.refresh = j.refresh_token;
    session.expiresAt = j.access_token_expires_at;
  }

  async function raw(method, path, body) {
    if (session.token && session.expiresAt - Date.now() / 1000 < 60) await refreshToken();
    const opts = { method, headers: { Authorization: 'Bearer ' + session.token } };
    if (body !== undefined) opts.body = JSON.stringify(body);
    return fetch(base + path, opts);
  }

  async function api(method, path, body) {
    const r = await raw(method, path, body);
    const j = await r.json().catch(() => null);
    if (!r.ok) throw new ApiError(r.status, j);
    return j;
  }

  const tssPath = (id, rest) => `api/v2/tss/${id}${rest || ''}`;

  /* Asks for the admin PIN of `tss` for one action; resolves to the PIN
     handed to `use` (null when cancelled). The field is cleared at once. */
  function askPin(tss, what, use) {
    const dlg = $('#pin-dialog');
    $('#pin-why').textContent = t('pin_for', tss, what);
    $('#pin-input').value = '';
    dlg.returnValue = '';
    return new Promise((resolve) => {
      dlg.addEventListener('close', async () => {
        const pin = $('#pin-input').value;
        $('#pin-input').value = '';
        if (dlg.returnValue !== 'ok' || !pin) { resolve(false); return; }
        try { await use(pin); showError(null); resolve(true); } catch (e) { showError(e); resolve(false); }
      }, { once: true });
      dlg.showModal();
      $('#pin-input').focus();
    });
  }

  /* Runs `action` between an admin login with a PIN asked for now and a
     logout; the PIN is never kept. */
  function withAdmin(tss, what, action) {
    return askPin(tss, what, async (pin) => {
      await api('POST', tssPath(tss, '/admin/auth'), { admin_pin: pin });
      try { await action(); } finally { await api('POST', tssPath(tss, '/admin/logout')).catch(() => {}); }
    });
  }

  /* --------------------------------------------------------------- sign in */

  async function signIn(ev) {
    ev.preventDefault();
    const key = $('#api-key').value.trim(), secret = $('#api-secret').value;
    try {
      const r = await fetch(base + 'api/v2/auth', { method: 'POST', body: JSON.stringify({ api_key: key, api_secret: secret }) });
      const j = await r.json();
      if (!r.ok) throw new ApiError(r.status, j);
      setTokens(j);
      $('#api-secret').value = '';
      session.operator = j.role === 'OPERATOR';
      showError(null);
      $('#signin').hidden = true;
      $('#signout').hidden = false;
      $('#who').textContent = session.operator ? t('signed_in_op') : t('signed_in_org', j.organization_id);
      $('#who').dataset.key = key;
      $(session.operator ? '#operator-view' : '#org-view').hidden = false;
      startPolling();
    } catch (e) { showError(e); }
  }

  function signOut() {
    Object.assign(session, { token: null, refresh: null, expiresAt: 0, operator: false });
    clearInterval(timer);
    location.reload();
  }

  function startPolling() {
    const tick = () => (session.operator ? refreshOrgs() : refreshTss()).catch(showError);
    tick();
    timer = setInterval(tick, POLL_MS);
  }

  /* ------------------------------------------------------------- TSS list */

  function eouCell(tss) {
    const e = tss.end_of_usage || {};
    const td = el('td', { className: 'eou' }, timeEl(e.unix), ' ',
      el('span', {}, e.days_left < 0 ? t('expired', -e.days_left) : t('days_left', e.days_left)));
    td.dataset.days = e.days_left;
    if (e.warning_days) td.classList.add(e.days_left <= 30 ? 'flag-bad' : 'flag-warn');
    if (tss.warnings && tss.warnings.length) td.title = tss.warnings.join('\n');
    return td;
  }

  let tssCache = [];
  async function refreshTss() {
    const list = await api('GET', 'api/v2/tss?limit=100');
    tssCache = list.data;
    const body = $('#tss-table tbody');
    body.replaceChildren(...list.data.map((x) => {
      const tr = el('tr', {},
        el('td', {}, el('code', {}, x._id.slice(0, 8)), ' ', x.description || ''),
        el('td', { className: 'state' }, x.state),
        el('td', {}, x._env),
        el('td', { className: 'num sig' }, x.signature_counter),
        el('td', { className: 'num txc' }, x.transaction_counter),
        el('td', { className: 'num' }, x.number_registered_clients),
        el('td', { className: 'num open' + (x.overdue_active_transactions ? ' flag-bad' : '') },
          x.number_active_transactions, x.overdue_active_transactions ? ` (${t('overdue_n', x.overdue_active_transactions)})` : ''),
        eouCell(x),
        el('td', { className: x.self_test && x.self_test.passed ? 'ok' : 'flag-bad' },
          x.self_test && x.self_test.passed ? t('passed') : t('failed')));
      tr.dataset.tss = x._id;
      if (x._id === selected) tr.classList.add('selected');
      tr.addEventListener('click', () => select(x._id));
      return tr;
    }));
    if (selected) await refreshDetail();
    await refreshChart();
  }

  /* ------------------------------------------------------------ TSS detail */

  function select(id) {
    selected = id;
    $('#detail').hidden = false;
    $('#detail').dataset.tss = id;
    document.querySelectorAll('#tss-table tr[data-tss]').forEach((tr) => tr.classList.toggle('selected', tr.dataset.tss === id));
    refreshDetail().catch(showError);
  }

  function info(dl, label, ...value) { dl.append(el('dt', {}, label), el('dd', {}, ...value)); }

  let clientsSeen = '';
  async function refreshDetail() {
    const id = selected;
    const [x, clients, open] = await Promise.all([
      api('GET', tssPath(id)), api('GET', tssPath(id, '/client?limit=100')),
      api('GET', tssPath(id, '/tx?states[]=ACTIVE&limit=100'))]);
    if (id !== selected) return;
    $('#d-id').textContent = x._id;
    $('#d-desc').textContent = x.description || '';
    $('#d-warnings').replaceChildren(...(x.warnings || []).map((w) => el('li', {}, w)));
    const dl = $('#d-info');
    dl.replaceChildren();
    const e = x.end_of_usage || {};
    info(dl, t('state'), x.state);
    info(dl, t('info_serial'), el('code', {}, x.serial_number));
    info(dl, t('info_alg'), x.signature_algorithm, ' / ', x.signature_timestamp_format);
    info(dl, t('signatures'), x.signature_counter);
    info(dl, t('transactions'), x.transaction_counter);
    info(dl, t('info_clients'), t('of', x.number_registered_clients, x.max_number_registered_clients));
    info(dl, t('open_tx'), t('of', x.number_active_transactions, x.max_number_active_transactions));
    info(dl, t('info_created'), timeEl(x.time_creation));
    info(dl, t('info_init'), timeEl(x.time_init));
    info(dl, t('info_cert'), timeEl(x.certificate_expiry && x.certificate_expiry.unix));
    info(dl, t('info_eou'), timeEl(e.unix), ' — ', e.days_left < 0 ? t('expired', -e.days_left) : t('days_left', e.days_left),
      ' — ', t('info_eou_which', e.chain_index ? t('cert_ca', e.chain_index) : t('cert_tss')));
    info(dl, t('info_self_test'), timeEl(x.self_test && x.self_test.unix), ' ',
      x.self_test && x.self_test.passed ? t('passed') : t('failed'));
    if (x.successor) info(dl, t('info_successor'), el('code', { className: 'successor-id' }, x.successor));
    if (x.predecessor) info(dl, t('info_predecessor'), el('code', {}, x.predecessor));

    $('#clients-table tbody').replaceChildren(...clients.data.map((c) =>
      el('tr', {}, el('td', {}, el('code', {}, c._id)), el('td', { className: 'serial' }, c.serial_number),
        el('td', {}, c.state), el('td', {}, timeEl(c.time_creation)))));
    const key = clients.data.map((c) => c._id).join();
    if (key !== clientsSeen) {
      clientsSeen = key;
      $('#ex-client').replaceChildren(el('option', { value: '' }, t('all')),
        ...clients.data.map((c) => el('option', { value: c._id }, c.serial_number)));
    }

    const now = Date.now() / 1000;
    const rows = open.data.map((tx) => ({ tx, last: (tx.log && tx.log.timestamp) || tx.time_start }))
      .sort((a, b) => a.last - b.last);
    $('#open-table tbody').replaceChildren(...rows.map(({ tx, last }) => {
      const age = Math.max(0, Math.round(now - last));
      const tr = el('tr', { className: age > MAX_UPDATE_DELAY ? 'overdue' : '' },
        el('td', { className: 'num' }, tx.number), el('td', {}, tx.client_serial_number),
        el('td', { className: 'num' }, tx.latest_revision), el('td', {}, timeEl(last)),
        el('td', { className: 'num age' + (age > MAX_UPDATE_DELAY ? ' flag-bad' : '') }, t('seconds', age)));
      tr.dataset.tx = tx._id;
      return tr;
    }));
    await refreshExports();
  }

  /* --------------------------------------------------------------- exports */

  function unixOf(input) { return input.value ? String(Math.floor(new Date(input.value).getTime() / 1000)) : null; }

  async function startExport(ev) {
    ev.preventDefault();
    const q = new URLSearchParams();
    const add = (k, v) => { if (v) q.set(k, v); };
    add('start_date', unixOf($('#ex-start')));
    add('end_date', unixOf($('#ex-end')));
    add('start_transaction_number', $('#ex-tx-start').value);
    add('end_transaction_number', $('#ex-tx-end').value);
    add('client_id', $('#ex-client').value);
    const id = crypto.randomUUID();
    try {
      await api('PUT', tssPath(selected, `/export/${id}${q.toString() ? '?' + q : ''}`));
      showError(null);
      await refreshExports();
    } catch (e) { showError(e); }
  }

  async function download(tss, id) {
    try {
      const r = await raw('GET', tssPath(tss, `/export/${id}/file`));
      if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
      const blob = await r.blob();
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: `export-${tss}-${id}.tar` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { showError(e); }
  }

  async function refreshExports() {
    /* every job of the TSS (the list is oldest first, 100 a page), newest first */
    const tss = selected;
    let jobs = [];
    try {
      for (let offset = 0; offset < 10000; offset += 100) {
        const page = await api('GET', tssPath(tss, `/export?limit=100&offset=${offset}`));
        jobs = jobs.concat(page.data);
        if (page.data.length < 100) break;
      }
    } catch (e) { showError(e); }
    if (tss !== selected) return;
    jobs = jobs.reverse().slice(0, 50);
    $('#export-table tbody').replaceChildren(...jobs.map((j) => {
      const done = j.state === 'COMPLETED';
      const btn = el('button', { className: 'download', disabled: !done }, t('download'));
      btn.addEventListener('click', () => download(selected, j._id));
      const tr = el('tr', {}, el('td', {}, el('code', {}, j._id.slice(0, 8))), el('td', {}, timeEl(j.time_request)),
        el('td', { className: 'state' + (j.state === 'ERROR' ? ' flag-bad' : '') }, j.state,
          j.exception ? ` — ${j.exception}` : ''),
        el('td', { className: 'num' }, j.logs == null ? '' : j.logs), el('td', { className: 'num' }, j.bytes == null ? '' : j.bytes),
        el('td', {}, btn));
      tr.dataset.export = j._id;
      return tr;
    }));
  }

  /* --------------------------------------------------------------- actions */

  async function selfTest() {
    try { await api('POST', tssPath(selected, '/self-test')); showError(null); $('#successor-result').textContent = t('self_test_done'); await refreshDetail(); } catch (e) { showError(e); }
  }

  async function registerClient(ev) {
    ev.preventDefault();
    const serial = $('#client-serial').value.trim();
    if (!serial) return;
    const id = crypto.randomUUID();
    const ok = await withAdmin(selected, t('register_client') + ' ' + serial,
      () => api('PUT', tssPath(selected, `/client/${id}`), { serial_number: serial }));
    if (ok) { $('#client-serial').value = ''; await refreshDetail().catch(showError); }
  }

  async function disableTss() {
    if (!confirm(t('disable_confirm', selected))) return;
    await withAdmin(selected, t('disable'), () => api('PATCH', tssPath(selected), { state: 'DISABLED' }));
    await refreshTss().catch(showError);
  }

  async function createSuccessor() {
    const old = selected;
    let made = null;
    const ok = await askPin(old, t('successor'), async (pin) => {
      made = await api('POST', tssPath(old, '/successor'), { admin_pin: pin });
    });
    if (ok && made) {
      const ret = made.retirement || {};
      $('#successor-result').textContent = t('successor_done', made._id) +
        (made.admin_puk ? ` PUK: ${made.admin_puk} (${t('puk_once')})` : '') + ' ' +
        (ret.state === 'DISABLED' ? t('retired', old, ret.logs, ret.export_id)
          : ret.state === 'WAITING_FOR_OPEN_TRANSACTIONS' ? t('retire_waiting', ret.open_transactions) : ret.state || '');
      $('#successor-result').dataset.successor = made._id;
      await refreshTss().catch(showError);
    }
  }

  /* ------------------------------------------------------------ live chart */

  const series = []; /* {t, sigs, latSum, latCount} */
  async function refreshChart() {
    let text;
    try {
      const r = await fetch(base + 'metrics');
      if (!r.ok) throw new Error();
      text = await r.text();
      $('#chart-note').textContent = '';
    } catch (e) { $('#chart-note').textContent = t('metrics_unreachable'); return; }
    const mine = new Set(tssCache.map((x) => x._id));
    let sigs = 0, latSum = 0, latCount = 0;
    for (const line of text.split('\n')) {
      let m = line.match(/^opentse_signatures_total\{tss="([^"]+)"\} (\d+)/);
      if (m && mine.has(m[1])) sigs += Number(m[2]);
      m = line.match(/^opentsed_request_duration_seconds_(sum|count)\{route="tx"\} ([\d.eE+-]+)/);
      if (m && m[1] === 'sum') latSum = Number(m[2]);
      if (m && m[1] === 'count') latCount = Number(m[2]);
    }
    series.push({ t: Date.now() / 1000, sigs, latSum, latCount });
    if (series.length > 61) series.shift();
    draw();
  }

  function draw() {
    const c = $('#chart'), g = c.getContext('2d');
    const W = c.width, H = c.height, pad = 34;
    g.clearRect(0, 0, W, H);
    const pts = [];
    for (let i = 1; i < series.length; i++) {
      const a = series[i - 1], b = series[i], dt = b.t - a.t;
      const dn = b.latCount - a.latCount;
      pts.push({ rate: dt > 0 ? Math.max(0, b.sigs - a.sigs) / dt : 0, lat: dn > 0 ? (b.latSum - a.latSum) / dn * 1000 : null });
    }
    const maxRate = Math.max(1, ...pts.map((p) => p.rate)), maxLat = Math.max(1, ...pts.map((p) => p.lat || 0));
    g.strokeStyle = '#d8dce3';
    g.fillStyle = '#5d6675';
    g.font = '11px system-ui, sans-serif';
    g.beginPath(); g.moveTo(pad, 8); g.lineTo(pad, H - 18); g.lineTo(W - pad, H - 18); g.stroke();
    g.fillText(maxRate.toFixed(1), 2, 14);
    g.fillText(maxLat.toFixed(1), W - pad + 4, 14);
    const x = (i) => pad + (W - 2 * pad) * (i / 59);
    const line = (color, val, max) => {
      g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
      let started = false;
      pts.forEach((p, i) => {
        const v = val(p);
        if (v == null) return;
        const y = H - 18 - (H - 30) * (v / max);
        if (started) g.lineTo(x(i), y); else { g.moveTo(x(i), y); started = true; }
      });
      g.stroke(); g.lineWidth = 1;
    };
    line('#2463c7', (p) => p.rate, maxRate);
    line('#c25b12', (p) => p.lat, maxLat);
    c.dataset.rate = pts.length ? pts[pts.length - 1].rate.toFixed(2) : '0';
  }

  /* -------------------------------------------------------------- operator */

  let orgSelected = null;
  async function refreshOrgs() {
    const list = await api('GET', 'api/v2/organizations');
    $('#org-table tbody').replaceChildren(...list.data.map((o) => {
      const b = el('button', {}, t('keys'));
      b.addEventListener('click', () => { orgSelected = o._id; refreshKeys().catch(showError); });
      const tr = el('tr', {}, el('td', {}, o._id), el('td', {}, o.name), el('td', {}, timeEl(o.time_creation)), el('td', {}, b));
      tr.dataset.org = o._id;
      return tr;
    }));
    if (orgSelected) await refreshKeys();
  }

  async function refreshKeys() {
    const list = await api('GET', `api/v2/organizations/${orgSelected}/api-keys`);
    $('#keys').hidden = false;
    $('#keys-org').textContent = orgSelected;
    $('#key-table tbody').replaceChildren(...list.data.map((k) => {
      const b = el('button', { className: 'danger', disabled: !!k.revoked }, t('revoke'));
      b.addEventListener('click', async () => {
        try { await api('DELETE', `api/v2/organizations/${orgSelected}/api-keys/${k.key}`); await refreshKeys(); } catch (e) { showError(e); }
      });
      return el('tr', {}, el('td', {}, el('code', {}, k.key)), el('td', {}, k.revoked ? t('revoked') : t('active')),
        el('td', {}, timeEl(k.time_creation)), el('td', {}, b));
    }));
  }

  async function createOrg(ev) {
    ev.preventDefault();
    try { await api('POST', 'api/v2/organizations', { name: $('#org-name').value.trim() }); $('#org-name').value = ''; await refreshOrgs(); } catch (e) { showError(e); }
  }

  async function createKey() {
    try {
      const k = await api('POST', `api/v2/organizations/${orgSelected}/api-keys`, {});
      const p = $('#new-secret');
      p.textContent = t('new_secret', k.key, k.secret);
      p.hidden = false;
      await refreshKeys();
    } catch (e) { showError(e); }
  }

  /* ----------------------------------------------------------------- start */

  document.addEventListener('DOMContentLoaded', () => {
    applyTexts();
    $('#lang').addEventListener('change', () => {
      lang = $('#lang').value;
      applyTexts();
      clientsSeen = '';
      if (session.token) (session.operator ? refreshOrgs() : refreshTss()).catch(showError);
    });
    $('#signin-form').addEventListener('submit', signIn);
    $('#signout').addEventListener('click', signOut);
    $('#export-form').addEventListener('submit', startExport);
    $('#client-form').addEventListener('submit', registerClient);
    $('#self-test').addEventListener('click', selfTest);
    $('#disable-btn').addEventListener('click', disableTss);
    $('#successor-btn').addEventListener('click', createSuccessor);
    $('#org-form').addEventListener('submit', createOrg);
    $('#key-create').addEventListener('click', createKey);
  });
})();
