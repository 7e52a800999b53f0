/* test_console.js - the web console in a real headless Chromium (the
   system's, driven by playwright-core) against a real opentsed: sign in,
   see the demo TSS, run transactions and watch the counters move, see a TSS
   whose certificate ends in 20 days flagged, register a client with the
   admin PIN, see an open transaction flagged past 45 s, start an export and
   download a TAR that `opentse verify` accepts, create a successor for the
   20-day TSS, switch to German, sign in as the operator, and sign in again
   behind nginx under a path prefix and on opentsed's own TLS listener. No
   console errors; screenshots go to OUT_DIR.

   env: OPENTSED_BIN, OPENTSE_CLI, OUT_DIR (build directory for data,
   screenshots and the downloaded archive), CHROMIUM (default
   /usr/bin/chromium). */
'use strict';

const { chromium } = require('playwright-core');
const { spawn, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const assert = require('assert');
const readline = require('readline');

const OUT = process.env.OUT_DIR;
const BIN = process.env.OPENTSED_BIN;
const CLI = process.env.OPENTSE_CLI;
const PIN_KEY = 'admin_pin';
const TWENTY_DAYS = String(20 * 86400);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = require('net').createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

/* nginx in front of `upstream` under the path prefix /tse/ (docs/deploy.md). */
async function startNginx(dir, upstream) {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 2m;
    location /tse/ {
      proxy_pass ${upstream}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`);
  const proc = spawn('nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], { stdio: 'inherit' });
  await until('nginx to listen', async () => {
    try { return (await fetch(`http://127.0.0.1:${port}/tse/health`)).ok; } catch (e) { return false; }
  });
  return { proc, base: `http://127.0.0.1:${port}/tse/` };
}

/* Signs in on a console at `url` and waits for TSS `tss` in the list. */
async function signInAndSee(page, url, key, secret, tss) {
  await page.goto(url);
  await page.selectOption('#lang', 'en');
  await page.fill('#api-key', key);
  await page.fill('#api-secret', secret);
  await page.click('#signin-btn');
  await page.waitForSelector(`#tss-table tr[data-tss="${tss}"]`);
  await until('the chart to read /metrics', async () =>
    (await page.textContent('#chart-note')) === '' && (await page.getAttribute('#chart', 'data-rate')) !== null);
}

/* Starts opentsed; resolves {proc, base, opKey, opSecret} once it listens. */
function startServer(dataDir, extra) {
  const proc = spawn(BIN, ['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--access-log', '0', ...extra],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const info = { proc };
    const rl = readline.createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      let m = line.match(/^operator api_key:\s+(\S+)/);
      if (m) info.opKey = m[1];
      m = line.match(/^operator api_secret:\s+(\S+)/);
      if (m) info.opSecret = m[1];
      m = line.match(/^opentsed listening on (\S+)/);
      if (m) { info.base = m[1]; resolve(info); }
    });
    proc.on('exit', (code) => reject(new Error(`opentsed exited ${code} before listening`)));
  });
}

function stopServer(s) {
  return new Promise((resolve) => { s.proc.removeAllListeners('exit'); s.proc.on('exit', resolve); s.proc.kill('SIGTERM'); });
}

/* The public API, for the test's own setup and the register's transactions. */
async function call(base, method, p, token, body) {
  const r = await fetch(base + p, { method, headers: token ? { Authorization: 'Bearer ' + token } : {},
    body: body === undefined ? undefined : JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

async function token(base, key, secret) {
  return (await call(base, 'POST', '/api/v2/auth', null, { api_key: key, api_secret: secret })).access_token;
}

async function readyTss(base, tok, id, pin, clientId, serial) {
  const p = `/api/v2/tss/${id}`;
  const t = await call(base, 'PUT', p, tok, {});
  await call(base, 'PATCH', p, tok, { state: 'UNINITIALIZED' });
  await call(base, 'PATCH', p + '/admin', tok, { admin_puk: t.admin_puk, new_admin_pin: pin });
  await call(base, 'POST', p + '/admin/auth', tok, { admin_pin: pin });
  await call(base, 'PATCH', p, tok, { state: 'INITIALIZED' });
  await call(base, 'PUT', `${p}/client/${clientId}`, tok, { serial_number: serial });
  await call(base, 'POST', p + '/admin/logout', tok);
}

async function transaction(base, tok, tss, client, finish) {
  const id = crypto.randomUUID();
  const p = `/api/v2/tss/${tss}/tx/${id}`;
  await call(base, 'PUT', p + '?tx_revision=1', tok, { state: 'ACTIVE', client_id: client });
  if (finish) await call(base, 'PUT', p + '?tx_revision=2', tok, { state: 'FINISHED', client_id: client });
  return id;
}

/* Waits until fn() is truthy (re-evaluated every 100 ms), or fails naming `what`. */
async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

async function main() {
  assert(OUT && BIN && CLI, 'OUT_DIR, OPENTSED_BIN and OPENTSE_CLI are needed');
  const work = path.join(OUT, 'console-test');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const shots = path.join(OUT, 'console-screenshots');
  fs.rmSync(shots, { recursive: true, force: true });
  fs.mkdirSync(shots, { recursive: true });
  const dataDir = path.join(work, 'data');

  /* The demo TSS with the default 10-year certificate, then a restart whose
     new TSSs get 20 days. */
  let srv = await startServer(dataDir, ['--demo']);
  const opKey = srv.opKey, opSecret = srv.opSecret;
  await stopServer(srv);
  srv = await startServer(dataDir, ['--cert-validity', TWENTY_DAYS]);
  const B = srv.base;
  const demo = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo.json'), 'utf8'));
  const tok = await token(B, demo.api_key, demo.api_secret);
  const tss20 = crypto.randomUUID(), client20 = crypto.randomUUID();
  await readyTss(B, tok, tss20, demo[PIN_KEY], client20, 'KASSE-20');
  /* an open transaction that will be past MAX_UPDATE_DELAY by the end */
  const openTx = await transaction(B, tok, demo.tss_id, demo.client_id, false);
  const openedAt = Date.now();

  const profile = fs.mkdtempSync(path.join(work, 'chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: FLAGS,
    acceptDownloads: true, ignoreHTTPSErrors: true, locale: 'en-GB', timezoneId: 'Europe/Berlin', viewport: { width: 1300, height: 1100 },
  });
  const errors = [];
  const watch = (p) => {
    p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    p.on('pageerror', (e) => errors.push(String(e)));
    p.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
    return p;
  };
  let op = null, nginx = null, tls = null;
  const page = watch(ctx.pages()[0] || await ctx.newPage());
  try {
    /* sign in */
    await page.goto(B + '/ui/');
    await page.selectOption('#lang', 'en');
    await page.fill('#api-key', demo.api_key);
    await page.fill('#api-secret', demo.api_secret);
    await page.click('#signin-btn');
    const demoRow = `#tss-table tr[data-tss="${demo.tss_id}"]`;
    await page.waitForSelector(demoRow);
    assert.strictEqual(await page.inputValue('#api-secret'), '', 'the secret field is cleared after sign-in');
    assert.strictEqual(await page.textContent(`${demoRow} .state`), 'INITIALIZED');
    /* the demo is a TEST system, and says so */
    assert(await page.$eval(`${demoRow} .env`, (e) => e.classList.contains('env-test')), 'the TEST mark');
    assert.strictEqual(await page.textContent(`${demoRow} .env`), 'TEST – not for production');
    await page.screenshot({ path: path.join(shots, '01-signed-in.png'), fullPage: true });

    /* counters move with transactions (2 signatures and 1 number each) */
    const before = Number(await page.textContent(`${demoRow} .sig`));
    const txBefore = Number(await page.textContent(`${demoRow} .txc`));
    for (let i = 0; i < 3; i++) await transaction(B, tok, demo.tss_id, demo.client_id, true);
    const info = await call(B, 'GET', `/api/v2/tss/${demo.tss_id}`, tok);
    await until('the signature counter to move', async () =>
      Number(await page.textContent(`${demoRow} .sig`)) === info.signature_counter);
    assert.strictEqual(info.signature_counter, before + 6);
    assert.strictEqual(Number(await page.textContent(`${demoRow} .txc`)), txBefore + 3);
    await until('the chart to show signatures per second', async () =>
      Number(await page.getAttribute('#chart', 'data-rate')) > 0 || (await transaction(B, tok, demo.tss_id, demo.client_id, true), false));
    assert.strictEqual(await page.textContent('#chart-note'), '');

    /* the 20-day TSS is flagged; the demo TSS is not */
    const row20 = `#tss-table tr[data-tss="${tss20}"]`;
    await page.waitForSelector(row20);
    const days = Number(await page.getAttribute(`${row20} .eou`, 'data-days'));
    assert(days === 19 || days === 20, `days left ${days}`);
    assert(await page.$eval(`${row20} .eou`, (e) => e.classList.contains('flag-bad')), '20 days is flagged');
    assert.match(await page.getAttribute(`${row20} .eou`, 'title'), /CERTIFICATE_EXPIRES_SOON: the TSS certificate ends at/);
    assert(!(await page.$eval(`${demoRow} .eou`, (e) => e.classList.contains('flag-bad') || e.classList.contains('flag-warn'))));
    await page.click(row20);
    await until('the warning in the detail', async () =>
      /CERTIFICATE_EXPIRES_SOON.*warning from 30 days/.test(await page.textContent('#d-warnings')));
    /* times in the browser's zone, UTC on hover */
    const title = await page.getAttribute(`${row20} .eou time`, 'title');
    assert.match(title, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(UTC\)$/);
    await page.screenshot({ path: path.join(shots, '02-certificate-20-days.png'), fullPage: true });

    /* register a client: the admin PIN is asked for and not kept */
    await page.click(demoRow);
    await until('the demo detail', async () => (await page.getAttribute('#detail', 'data-tss')) === demo.tss_id &&
      (await page.textContent('#d-id')) === demo.tss_id);
    await page.fill('#client-serial', 'KASSE-UI');
    await page.click('#client-form button[type=submit]');
    await page.waitForSelector('#pin-dialog[open]');
    await page.fill('#pin-input', demo[PIN_KEY]);
    await page.click('#pin-ok');
    await until('the new client', async () => (await page.$$eval('#clients-table .serial', (c) => c.map((x) => x.textContent))).includes('KASSE-UI'));
    assert.strictEqual(await page.inputValue('#pin-input'), '', 'the PIN is not kept in the page');
    /* the TSE's own time, as the API gives it */
    const seTime = (await call(B, 'GET', `/api/v2/tss/${demo.tss_id}`, tok)).se_time;
    assert.strictEqual(seTime.set, true);
    assert(await page.$('#d-info time'), 'times in the detail');
    assert.match(await page.textContent('#d-info'), /TSE time/);
    assert.strictEqual(await page.$('#d-info .time-not-set'), null, 'the demo TSE has its time');
    const clients = await call(B, 'GET', `/api/v2/tss/${demo.tss_id}/client`, tok);
    assert(clients.data.some((c) => c.serial_number === 'KASSE-UI' && c.state === 'REGISTERED'));

    /* export: start, progress to COMPLETED, download, verify */
    await page.click('#export-start');
    const exportRow = '#export-table tbody tr';
    await until('the export to complete', async () => (await page.textContent(`${exportRow} .state`)).startsWith('COMPLETED'), 30000);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`${exportRow} button.download`)]);
    const tar = path.join(OUT, 'console-export.tar');
    await dl.saveAs(tar);
    assert(fs.statSync(tar).size > 1024, 'the archive has content');
    const verified = execFileSync(CLI, ['verify', tar], { encoding: 'utf8' });
    assert.match(verified, /\d+ logs?/i, verified);
    /* the server's own check of the archive shows beside it, the same verdict as opentse verify's exit 0 */
    await until('the export\'s verification', async () =>
      (await page.$eval(`${exportRow} .verdict`, (e) => e.dataset.verdict).catch(() => null)) === '0', 30000);
    assert.strictEqual(await page.textContent(`${exportRow} .verdict`), 'intact and complete');
    await page.screenshot({ path: path.join(shots, '03-export.png'), fullPage: true });

    /* the open transaction, flagged once past 45 s */
    const openRow = `#open-table tr[data-tx="${openTx}"]`;
    await page.waitForSelector(openRow);
    await sleep(Math.max(0, 47000 - (Date.now() - openedAt)));
    await until('the overdue flag', async () => page.$eval(openRow, (e) => e.classList.contains('overdue')));
    assert(Number((await page.textContent(`${openRow} .age`)).replace(/\D/g, '')) > 45);
    await until('the overdue count in the list', async () => /past 45 s/.test(await page.textContent(`${demoRow} .open`)));
    await page.screenshot({ path: path.join(shots, '04-open-transaction-overdue.png'), fullPage: true });

    /* a successor for the 20-day TSS in one step: the old one is retired */
    await page.click(row20);
    await until('the 20-day detail', async () => (await page.textContent('#d-id')) === tss20);
    await page.click('#successor-btn');
    await page.waitForSelector('#pin-dialog[open]');
    await page.fill('#pin-input', demo[PIN_KEY]);
    await page.click('#pin-ok');
    await until('the successor', async () => page.getAttribute('#successor-result', 'data-successor'));
    const next = await page.getAttribute('#successor-result', 'data-successor');
    assert.match(await page.textContent('#successor-result'), /PUK: \d{10}.*exported \(\d+ logs, export [0-9a-f-]{36}, verified\) and disabled/);
    await page.waitForSelector(`#tss-table tr[data-tss="${next}"]`);
    await until('the old TSS disabled', async () => (await page.textContent(`${row20} .state`)) === 'DISABLED');
    const succ = await call(B, 'GET', `/api/v2/tss/${next}`, tok);
    assert.strictEqual(succ.predecessor, tss20);
    assert.strictEqual(succ.state, 'INITIALIZED');
    assert.strictEqual(succ.number_registered_clients, 1);
    assert.strictEqual((await call(B, 'GET', `/api/v2/tss/${tss20}`, tok)).successor, next);
    await page.screenshot({ path: path.join(shots, '05-successor.png'), fullPage: true });

    /* German */
    await page.selectOption('#lang', 'de');
    await until('German texts', async () => (await page.textContent('#tss-table thead')).includes('Signaturen'));
    await until('the German days left', async () => /noch (19|20) Tage/.test(await page.textContent(`${row20} .eou`)));
    assert.strictEqual(await page.getAttribute('html', 'lang'), 'de');
    await page.screenshot({ path: path.join(shots, '06-deutsch.png'), fullPage: true });

    /* the operator sees organizations and API keys */
    op = watch(await ctx.newPage());
    await op.goto(B + '/ui/');
    await op.selectOption('#lang', 'en');
    await op.fill('#api-key', opKey);
    await op.fill('#api-secret', opSecret);
    await op.click('#signin-btn');
    await op.waitForSelector('#org-table tr[data-org]');
    assert.match(await op.textContent('#org-table tbody'), /demo/);
    assert(await op.isHidden('#org-view'));
    await op.click('#org-table tr[data-org] button');
    await op.waitForSelector('#key-table tbody tr');
    await op.screenshot({ path: path.join(shots, '07-operator.png'), fullPage: true });

    /* behind nginx under a path prefix */
    nginx = await startNginx(path.join(work, 'nginx'), B);
    const viaProxy = watch(await ctx.newPage());
    await signInAndSee(viaProxy, nginx.base, demo.api_key, demo.api_secret, demo.tss_id);
    assert.strictEqual(new URL(viaProxy.url()).pathname, '/tse/ui/');
    await viaProxy.screenshot({ path: path.join(shots, '08-behind-nginx.png'), fullPage: true });

    /* on opentsed's own TLS listener */
    const tlsDir = path.join(work, 'tls');
    fs.mkdirSync(tlsDir, { recursive: true });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', path.join(tlsDir, 'key.pem'), '-out', path.join(tlsDir, 'cert.pem'), '-days', '2',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    tls = await startServer(path.join(tlsDir, 'data'), ['--demo', '--tls-cert', path.join(tlsDir, 'cert.pem'),
      '--tls-key', path.join(tlsDir, 'key.pem')]);
    assert.match(tls.base, /^https:/);
    const tlsDemo = JSON.parse(fs.readFileSync(path.join(tlsDir, 'data', 'demo.json'), 'utf8'));
    const viaTls = watch(await ctx.newPage());
    await signInAndSee(viaTls, tls.base + '/ui/', tlsDemo.api_key, tlsDemo.api_secret, tlsDemo.tss_id);
    await viaTls.screenshot({ path: path.join(shots, '09-tls.png'), fullPage: true });

    assert.deepStrictEqual(errors, [], 'no console errors');
    console.log(`ok: console test passed; screenshots in ${shots}`);
  } catch (e) {
    await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    if (op) await op.screenshot({ path: path.join(shots, 'failure-operator.png'), fullPage: true }).catch(() => {});
    console.error('console errors:', errors);
    throw e;
  } finally {
    await ctx.close();
    if (nginx) nginx.proc.kill('SIGTERM');
    if (tls) await stopServer(tls);
    await stopServer(srv);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
