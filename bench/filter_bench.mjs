#!/usr/bin/env node
// Benchmarks leakscope.wasm as Envoy runs it (Proxy-WASM in V8, here Node's V8 through the test
// host tests/filter/proxy_wasm_host.mjs) against the native engine (`leakscope bench`), in one
// run, on the same generated API-like JSON responses:
//   1. wasm throughput: whole transactions (request headers, response headers, body in 16 KiB
//      chunks, complete()) per iteration, MB/s over >= BENCH_SECONDS (in BENCH_ROUNDS rounds
//      that alternate with 3a and 3, medians reported) after a warm-up; each size
//      has several bodies (seeds 42, 43, ...; 4 MiB in all, at most 64), sent in turn, as
//      engine_bench.cc does: the filter remembers clean texts across transactions, and one small
//      body sent over and over would be a best case real traffic does not give;
//   2. added latency per request: per-transaction wall time in the wasm filter, p50 and p99;
//   3. native throughput: `leakscope bench` on the same bodies, and the wasm/native ratio;
//   3b. the same filter built natively (BM_FilterTransaction in build/leakscope_bench, optional):
//      the module's code outside V8, and module/native filter;
//   3a. the module's own time: a second VM whose host times its callbacks and its own imports
//      (ProxyWasmHost timeGuest); per transaction, callbacks minus host calls: MB/s and p50/p99
//      of the filter's code in V8 without this JavaScript host's work;
//   4. memory per VM: the guest's linear memory after configure, after the 1 MiB runs, and
//      before/after streaming a 64 MiB body through one stream.
// Prints a Markdown table for BENCHMARKS.md. Plain Node >= 20, no packages. See bench/README.md.
//
//   node bench/filter_bench.mjs
//   BENCH_SECONDS=5 LEAKSCOPE_WASM=build/leakscope.wasm LEAKSCOPE_CLI=build/leakscope node bench/filter_bench.mjs
//   node bench/filter_bench.mjs --dump-json 16384 [SEED] > body.json   # a generated body (seed 42)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { ProxyWasmHost } from '../tests/filter/proxy_wasm_host.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [1 * KiB, 16 * KiB, 1 * MiB];
const MIN_SAMPLES = new Map([[1 * KiB, 500], [16 * KiB, 500], [1 * MiB, 50]]);
const WARM_UP_SECONDS = 1;  // per size and VM, before the measured rounds
const CHUNK = 16 * KiB; // Envoy hands body data to filters in buffers of about this size
const STREAM_BYTES = 64 * MiB;
const AUTHORITY = 'api.example.com';
const API_PATH = '/api/customers';

// A path from the environment: as given (relative to the working directory), else relative to
// the repository (as tests/filter/support.mjs resolves them).
function locate(envValue, fallback) {
  if (!envValue) return fallback;
  if (path.isAbsolute(envValue)) return envValue;
  const fromCwd = path.resolve(process.cwd(), envValue);
  return fs.existsSync(fromCwd) ? fromCwd : path.resolve(REPO, envValue);
}

// ---------------------------------------------------------------------------------------------
// Deterministic data: a port of bench/bench_data.cc's generator (SplitMix64, same tables, same
// draw order), so GenerateCustomersJson(size, 42) here is byte-identical to BM_Json's input.
// Where C++ leaves the evaluation order of `a + f() + g()` and of call arguments unspecified, the
// order is the one g++ 12 (the project's compiler) uses, which is right to left: the draws below
// are taken last-to-first within each such expression (`rtl`).

const M64 = (1n << 64n) - 1n;

class Rng {
  constructor(seed) { this.state = BigInt(seed) & M64; }
  next() {
    this.state = (this.state + 0x9E3779B97F4A7C15n) & M64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & M64;
    return z ^ (z >> 31n);
  }
  below(n) { return Number(this.next() % BigInt(n)); }
  chance(percent) { return this.below(100) < percent; }
  pick(items) { return items[this.below(items.length)]; }
  #chars(n, alphabet) {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.below(alphabet.length)];
    return s;
  }
  digits(n) { return this.#chars(n, '0123456789'); }
  hex(n) { return this.#chars(n, '0123456789abcdef'); }
  upper(n) { return this.#chars(n, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'); }
}

// Evaluates the thunks last to first (g++'s order for one expression), returns them in order.
function rtl(...thunks) {
  const out = new Array(thunks.length);
  for (let i = thunks.length - 1; i >= 0; i--) out[i] = thunks[i]();
  return out;
}

const FIRST_NAMES = ['Maria', 'James', 'Wei', 'Aisha', 'Olga', 'Carlos', 'Priya', 'John', 'Fatima', 'Liam',
  'Sofia', 'Kenji', 'Amara', 'Lucas', 'Elena', 'Noah'];
const LAST_NAMES = ['Garcia', 'Smith', 'Chen', 'Khan', 'Ivanova', 'Silva', 'Patel', 'Johnson', 'Haddad',
  'Murphy', 'Rossi', 'Tanaka', 'Okafor', 'Martin', 'Novak', 'Brown'];
const STREET_NAMES = ['Oak', 'Maple', 'Main', 'Cedar', 'Elm', 'Washington', 'Lake', 'Hill', 'Park', 'Pine'];
const STREET_TYPES = ['Street', 'Avenue', 'Road', 'Lane', 'Drive', 'Blvd'];
const CITIES = ['Springfield', 'Portland', 'Austin', 'Denver', 'Columbus', 'Madison', 'Raleigh', 'Boise'];
const STATES = ['IL', 'OR', 'TX', 'CO', 'OH', 'WI', 'NC', 'ID'];
const DOMAINS = ['gmail.com', 'yahoo.com', 'outlook.com', 'example.net', 'fastmail.fm', 'acme-corp.com'];
const TAGS = ['vip', 'newsletter', 'wholesale', 'beta', 'churn-risk', 'referral', 'enterprise', 'trial'];
const LANGUAGES = ['en-US', 'es-MX', 'fr-FR', 'de-DE', 'ja-JP', 'pt-BR'];
const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'BRL', 'CAD'];
const PLAIN_NOTES = [
  'Prefers contact by email. Renewal due next quarter.',
  'Requested invoice copies for the last three months; sent via portal.',
  'Shipping delayed by carrier, customer informed and offered a discount code.',
  'Upgraded to the annual plan after the trial period ended.',
  'Asked about bulk pricing for 250 units, forwarded to sales.',
  'Account merged with duplicate created during the 2022 migration.',
  'No issues reported. Satisfaction survey score 9 of 10.',
  'Returned item #4471 (wrong size); refund processed to original payment method.',
];

const pad = (n, w) => String(n).padStart(w, '0');

function email(rng) {
  let s = rng.pick(FIRST_NAMES);
  s += '.';
  s += rng.pick(LAST_NAMES);
  s += String(rng.below(100));
  s += '@';
  s += rng.pick(DOMAINS);
  return s.toLowerCase();
}

function phone(rng) {
  const area = String(200 + rng.below(800));
  const mid = String(200 + rng.below(800));
  const last = rng.digits(4);
  switch (rng.below(3)) {
    case 0: return `+1 ${area}-${mid}-${last}`;
    case 1: return `(${area}) ${mid}-${last}`;
    default: return `${area}.${mid}.${last}`;
  }
}

function ssn(rng) {
  const [a, b, c] = rtl(() => 100 + rng.below(565), () => 10 + rng.below(90), () => 1000 + rng.below(9000));
  return `${a}-${b}-${c}`;
}

// Luhn-valid, like the C++ generator.
function cardNumber(rng) {
  let digits = rng.pick(['4', '51', '55', '6011', '4111']);
  while (digits.length < 15) digits += String(rng.below(10));
  let sum = 0;
  for (let i = 14, pos = 0; i >= 0; --i, ++pos) {
    let d = digits.charCodeAt(i) - 48;
    if (pos % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  digits += String((10 - (sum % 10)) % 10);
  if (rng.chance(50)) return digits;
  const sep = rng.chance(50) ? ' ' : '-';
  return [digits.slice(0, 4), digits.slice(4, 8), digits.slice(8, 12), digits.slice(12, 16)].join(sep);
}

function timestamp(rng) {
  const [mo, d, h, mi, s, ms] = rtl(() => 1 + rng.below(12), () => 1 + rng.below(28), () => rng.below(24),
    () => rng.below(60), () => rng.below(60), () => rng.below(1000));
  return `2024-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(ms, 3)}Z`;
}

function note(rng) {
  switch (rng.below(20)) {
    case 0: return `Customer asked to update phone to ${phone(rng)} and confirm by SMS.`;
    case 1: return `Secondary contact: ${email(rng)} (spouse).`;
    case 2: return `Verbal verification done, last digits of SSN ${ssn(rng)} matched.`;
    case 3: return `Paid over the phone with card ${cardNumber(rng)}, receipt sent.`;
    case 4: {
      const [n, street, type] = rtl(() => 10 + rng.below(9990), () => rng.pick(STREET_NAMES), () => rng.pick(STREET_TYPES));
      return `Moved to ${n} ${street} ${type}, new billing address pending.`;
    }
    default: return rng.pick(PLAIN_NOTES);
  }
}

function customerJson(rng, id) {
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  let o = `{"id":${id}`;
  const u = rtl(() => rng.hex(8), () => rng.hex(4), () => rng.hex(3), () => rng.hex(3), () => rng.hex(12));
  o += `,"uuid":"${u[0]}-${u[1]}-4${u[2]}-a${u[3]}-${u[4]}"`;
  o += `,"first_name":"${first}","last_name":"${last}"`;
  o += `,"email":"${email(rng)}"`;
  if (rng.chance(70)) o += `,"phone":"${phone(rng)}"`;
  const a = rtl(() => 1 + rng.below(9999), () => rng.pick(STREET_NAMES), () => rng.pick(STREET_TYPES),
    () => rng.pick(CITIES), () => rng.pick(STATES), () => rng.digits(5));
  o += `,"address":{"street":"${a[0]} ${a[1]} ${a[2]}","city":"${a[3]}","state":"${a[4]}","zip":"${a[5]}","country":"US"}`;
  o += ',"payment":{"brand":"visa"';
  if (rng.chance(15)) o += `,"card_number":"${cardNumber(rng)}"`;
  else o += `,"last4":"${rng.digits(4)}"`;
  const e = rtl(() => 1 + rng.below(12), () => 25 + rng.below(6), () => rng.chance(80));
  o += `,"exp":"${e[0]}/${e[1]}","default":${e[2] ? 'true' : 'false'}}`;
  if (rng.chance(8)) o += `,"ssn":"${ssn(rng)}"`;
  if (rng.chance(30)) {
    const b = rtl(() => 1950 + rng.below(55), () => 1 + rng.below(9), () => rng.below(10));
    o += `,"date_of_birth":"${b[0]}-0${b[1]}-1${b[2]}"`;
  }
  const t = rtl(() => timestamp(rng), () => timestamp(rng));
  o += `,"created_at":"${t[0]}","updated_at":"${t[1]}"`;
  o += ',"is_active":';
  o += rng.chance(90) ? 'true' : 'false';
  o += ',"email_verified":';
  o += rng.chance(75) ? 'true' : 'false';
  const bal = rtl(() => rng.below(100000), () => rng.digits(2));
  o += `,"balance":${bal[0]}.${bal[1]}`;
  o += `,"loyalty_points":${rng.below(20000)}`;
  const tg = rtl(() => rng.pick(TAGS), () => rng.pick(TAGS));
  o += `,"tags":["${tg[0]}","${tg[1]}"]`;
  const p = rtl(() => rng.pick(LANGUAGES), () => rng.pick(CURRENCIES), () => rng.chance(40), () => rng.chance(50));
  o += `,"preferences":{"language":"${p[0]}","currency":"${p[1]}","marketing_opt_in":${p[2] ? 'true' : 'false'},"theme":"${p[3] ? 'dark' : 'light'}"}`;
  const od = rtl(() => rng.below(200), () => rng.digits(8), () => rng.below(50000), () => rng.digits(2));
  o += `,"orders":{"count":${od[0]},"last_order_id":"ORD-${od[1]}","total_spent":${od[2]}.${od[3]}}`;
  o += `,"notes":"${note(rng)}"`;
  o += ',"metadata":null}';
  return o;
}

// A JSON array of customers padded with spaces to exactly `target` bytes (all ASCII).
function generateCustomersJson(target, seed) {
  const rng = new Rng(seed);
  let out = '[';
  let id = 100000;
  let first = true;
  for (;;) {
    const obj = customerJson(rng, id++);
    const needed = out.length + (first ? 0 : 1) + obj.length + 1;
    if (needed > target && !first) break;
    if (!first) out += ',';
    out += obj;
    first = false;
    if (needed > target) break;
  }
  if (out.length + 1 < target) out += ' '.repeat(target - out.length - 1);
  out += ']';
  return Buffer.from(out, 'latin1');
}

// BM_StreamMemory/json_array's body: "[", whole records each followed by ',' cycled from a
// ~4 MiB buffer (seed 17), then a closing record; `total` bytes rounded down to a record boundary.
function streamBody(total) {
  const rng = new Rng(17);
  const records = [];
  const ends = [];
  let size = 0;
  for (let id = 1; size < 4 * MiB; id++) {
    const r = customerJson(rng, id) + ',';
    records.push(r);
    size += r.length;
    ends.push(size);
  }
  const prefix = Buffer.from('[');
  const suffix = Buffer.from('{"id":0,"end":true}]');
  const cycle = Buffer.from(records.join(''), 'latin1');
  const middle = total - Math.min(total, prefix.length + suffix.length);
  const rest = middle % cycle.length;
  let lastEnd = 0;
  for (const e of ends) if (e <= rest) lastEnd = e; else break;
  const cycled = middle - rest + lastEnd;
  // The cycle followed by its own first chunk, so every chunk window is contiguous.
  const ring = Buffer.concat([cycle, cycle.subarray(0, Math.min(CHUNK, cycle.length))]);
  return { prefix, suffix, cycle, ring, cycled, total: prefix.length + cycled + suffix.length };
}

// ---------------------------------------------------------------------------------------------
// Helpers

const fmtSize = (n) => (n >= MiB ? `${+(n / MiB).toFixed(1)} MiB` : `${+(n / KiB).toFixed(1)} KiB`);
const fmtMiB = (n) => `${(n / MiB).toFixed(2)} MiB`;
const mbps = (bytes, ns) => (bytes / 1e6) / (Number(ns) / 1e9);
const fmt1 = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function percentile(sortedNs, p) {
  const i = Math.min(sortedNs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedNs.length) - 1));
  return Number(sortedNs[i]) / 1e3; // µs
}

function compilerRunning() {
  const r = spawnSync('ps', ['-e', '-o', 'comm='], { encoding: 'utf8' });
  return r.status === 0 && /^(cc1plus|cc1|ld|clang.*|wasm-ld)$/m.test(r.stdout);
}

// ---------------------------------------------------------------------------------------------
// The wasm filter

const REQUEST = [[':method', 'GET'], [':scheme', 'https'], [':authority', AUTHORITY], [':path', API_PATH],
  ['user-agent', 'filter-bench'], ['accept', 'application/json']];

function responseHeaders(length) {
  return [[':status', '200'], ['content-type', 'application/json'], ['content-length', String(length)]];
}

// One whole transaction, as Envoy drives it; returns the stream.
function transaction(host, body) {
  const s = host.newHttpStream();
  s.requestHeaders(REQUEST, true);
  s.responseHeaders(responseHeaders(body.length), false);
  for (let p = 0; p < body.length; p += CHUNK) {
    const end = Math.min(body.length, p + CHUNK);
    s.responseBody(body.subarray(p, end), end === body.length);
  }
  s.complete();
  return s;
}

// max_analyzed_bytes is raised from its 16 MiB default so the 64 MiB stream is analysed whole
// (it changes nothing for the smaller bodies).
async function startVm(wasm, policyText, logReports, timeGuest = false) {
  const host = await ProxyWasmHost.load(wasm, {
    pluginConfig: JSON.stringify({ local_policy: policyText, log_reports: logReports, max_analyzed_bytes: 2 * STREAM_BYTES }),
    timeGuest,
  });
  if (!host.startVm()) throw new Error('proxy_on_vm_start failed');
  if (!host.configure()) {
    throw new Error(`proxy_on_configure failed:\n${host.logs.map((l) => `${l.level}: ${l.message}`).join('\n')}`);
  }
  return host;
}

// Matches the filter reports for one response (a separate VM with log_reports, so the timed VM
// runs as deployed, without per-transaction logging); also checks the body passed unchanged.
function wasmMatches(host, body) {
  const from = host.logs.length;
  const s = transaction(host, body);
  if (!s.forwardedResponseBody.equals(body)) throw new Error('the filter did not forward the body unchanged');
  const prefix = 'leakscope report ';
  const reports = host.logs.slice(from).filter((l) => l.message.startsWith(prefix))
    .map((l) => JSON.parse(l.message.slice(prefix.length)));
  const resp = reports.find((r) => r.direction === 'response');
  if (!resp) return null;
  return Object.values(resp.categories ?? {}).reduce((a, c) => a + Number(c.count), 0);
}

// Timed transactions (over `bodies` in turn) until both `seconds` and `minSamples` are reached,
// after a warm-up. `clock` (ns) is wall time, or, on a VM started with timeGuest, the time spent
// in the module's own code (host.guestNs: callbacks minus host calls).
function measureWasm(host, bodies, seconds, minSamples, clock = () => process.hrtime.bigint()) {
  const warmNs = BigInt(Math.round(Math.min(0.5, seconds / 4) * 1e9));
  const w0 = process.hrtime.bigint();
  let next = 0;
  const body = () => { const b = bodies[next]; next = (next + 1) % bodies.length; return b; };
  for (let i = 0; i < 3 || process.hrtime.bigint() - w0 < warmNs; i++) transaction(host, body());
  if (host.trapped) throw new Error(`the VM trapped: ${host.trapped.error.message}`);

  const samples = [];
  const limitNs = BigInt(Math.round(seconds * 1e9));
  let total = 0n;
  let bytes = 0;
  while (total < limitNs || samples.length < minSamples) {
    const b = body();
    const t0 = clock();
    transaction(host, b);
    const dt = clock() - t0;
    samples.push(dt);
    total += dt;
    bytes += b.length;
    host.logs.length = 0; // nothing is logged per transaction without log_reports; keep it so
  }
  if (host.trapped) throw new Error(`the VM trapped: ${host.trapped.error.message}`);
  samples.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    iterations: samples.length,
    seconds: Number(total) / 1e9,
    mbps: mbps(bytes, total),
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
  };
}

// One stream carrying `b` with `cycled` bytes of its cycle in the middle (analysed whole: the VM
// is configured with a larger max_analyzed_bytes); returns MB/s and the guest memory before, at
// checkpoints while streaming, before complete() and after it.
function streamThrough(host, b, cycled) {
  const total = b.prefix.length + cycled + b.suffix.length;
  const before = host.memoryBytes;
  const checkpoints = [];
  const marks = [1, 4, 16, 32, 48].map((m) => m * MiB);
  const s = host.newHttpStream();
  const t0 = process.hrtime.bigint();
  s.requestHeaders(REQUEST, true);
  s.responseHeaders([[':status', '200'], ['content-type', 'application/json']], false); // no content-length: streamed
  s.responseBody(b.prefix, false);
  let sent = b.prefix.length;
  let remaining = cycled;
  let pos = 0;
  while (remaining > 0) {
    const n = Math.min(CHUNK, remaining);
    s.responseBody(b.ring.subarray(pos, pos + n), false);
    s.response.forwardedChunks.length = 0; // the test host keeps forwarded data; a proxy would not
    remaining -= n;
    sent += n;
    pos = (pos + n) % b.cycle.length;
    if (marks.length && sent >= marks[0]) checkpoints.push([marks.shift(), host.memoryBytes]);
  }
  s.responseBody(b.suffix, true);
  const forwarded = s.forwardedResponseBytes;
  const beforeComplete = host.memoryBytes;
  checkpoints.push([total, beforeComplete]);
  s.complete();
  const ns = process.hrtime.bigint() - t0;
  if (host.trapped) throw new Error(`the VM trapped: ${host.trapped.error.message}`);
  if (forwarded !== total) throw new Error(`forwarded ${forwarded} of ${total} bytes`);
  return { bytes: total, mbps: mbps(total, ns), seconds: Number(ns) / 1e9, before, checkpoints,
    beforeComplete, after: host.memoryBytes };
}

// ---------------------------------------------------------------------------------------------
// The native engine: `leakscope bench` (whole body per OnBody call, fresh Transaction each time)

function nativeBench(cli, policyFile, bodyFiles, iterations) {
  const r = spawnSync(cli, ['bench', '--policy', policyFile, '--content-type', 'application/json',
    '--path', `${AUTHORITY}${API_PATH}`, '--iterations', String(iterations), ...bodyFiles], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`leakscope bench exited ${r.status}: ${r.stderr}${r.stdout}`);
  const m = /(\d+) iterations of (\d+) bytes in ([\d.]+) s: ([\d.]+) MB\/s, (\d+) matches per iteration; per transaction p50 ([\d.]+) us, p99 ([\d.]+) us/.exec(r.stdout);
  if (!m) throw new Error(`unexpected leakscope bench output: ${r.stdout}`);
  return { seconds: Number(m[3]), mbps: Number(m[4]), matches: Number(m[5]), p50: Number(m[6]), p99: Number(m[7]), iterations };
}

// The iteration count for a run of about `seconds`, from short calibration runs.
function nativeIterations(cli, policyFile, bodyFiles, size, seconds) {
  let n = Math.max(3, Math.round(2e6 / size));
  let r = nativeBench(cli, policyFile, bodyFiles, n);
  for (let tries = 0; r.seconds < seconds && tries < 4; tries++) {
    n = Math.max(n + 1, Math.ceil((n * seconds * 1.1) / Math.max(r.seconds, 1e-3)));
    r = nativeBench(cli, policyFile, bodyFiles, n);
  }
  return n;
}

// The same filter built natively (bench/filter_host_bench.cc, BM_FilterTransaction): the module's
// own code and the engine inside it, run natively on the same bodies. Beside the engine alone,
// this isolates what running inside V8 costs: the module does the filter's work on top of the
// engine's (header maps, properties, services, stats), which `leakscope bench` does not.
function nativeFilterBench(benchBinary, size, seconds) {
  const chunk = size > CHUNK ? CHUNK : 0;  // one chunk is the whole body
  const r = spawnSync(benchBinary, [`--benchmark_filter=^BM_FilterTransaction/size:${size}/chunk:${chunk}$`,
    `--benchmark_min_time=${seconds}`, '--benchmark_format=json'], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${benchBinary} exited ${r.status}: ${r.stderr}`);
  const run = JSON.parse(r.stdout).benchmarks?.[0];
  if (!run || run.error_occurred) throw new Error(`BM_FilterTransaction size ${size}: ${run?.error_message ?? 'no result'}`);
  return { mbps: run.bytes_per_second / 1e6 };
}

// The median of `values` (numbers).
function median(values) {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

// One size measured in `rounds` rounds, each running the wasm VM, the timed VM and the native
// engine in turn for a share of `seconds`: this machine's speed drifts by tens of percent over
// minutes (a shared VM), and a ratio of two runs minutes apart measured the drift as much as the
// module. Each figure is the median over the rounds; each ratio the median of the rounds' own.
function measureSize(b, hosts, cli, benchBinary, policyFile, seconds, rounds, checkQuiet) {
  const share = seconds / rounds;
  const minSamples = Math.ceil(MIN_SAMPLES.get(b.size) / rounds);
  const iterations = nativeIterations(cli, policyFile, b.files, b.size, share);
  // V8 first runs the module's code from its baseline compiler and optimises hot functions in the
  // background: both VMs run this size's bodies for a while before any round counts.
  for (const host of [hosts.wall, hosts.guest]) measureWasm(host, b.variants, WARM_UP_SECONDS, 1);
  const per = [];
  for (let r = 0; r < rounds; r++) {
    const w = measureWasm(hosts.wall, b.variants, share, minSamples);
    // The timing wraps every host call, so this VM's wall times are not the ones above.
    const g = measureWasm(hosts.guest, b.variants, share / 2, minSamples, () => hosts.guest.guestNs);
    const n = nativeBench(cli, policyFile, b.files, iterations);
    const f = benchBinary ? nativeFilterBench(benchBinary, b.size, share) : null;
    per.push({ w, g, n, f });
  }
  checkQuiet(fmtSize(b.size));
  const of = (which) => ({
    mbps: median(per.map((x) => x[which].mbps)),
    p50: median(per.map((x) => x[which].p50)),
    p99: median(per.map((x) => x[which].p99)),
    iterations: per.reduce((t, x) => t + x[which].iterations, 0),
    seconds: per.reduce((t, x) => t + x[which].seconds, 0),
  });
  return {
    w: of('w'), g: of('g'), n: of('n'),
    wasmRatio: median(per.map((x) => x.w.mbps / x.n.mbps)),
    moduleRatio: median(per.map((x) => x.g.mbps / x.n.mbps)),
    filterMbps: benchBinary ? median(per.map((x) => x.f.mbps)) : null,
    moduleFilterRatio: benchBinary ? median(per.map((x) => x.g.mbps / x.f.mbps)) : null,
  };
}

// Bodies per size, as bench_data.cc's BodyVariants: 4 MiB in all, between 1 and 64.
const bodyVariants = (size) => Math.min(64, Math.max(1, Math.floor((4 * MiB) / size)));

// ---------------------------------------------------------------------------------------------

async function main() {
  const dump = process.argv.indexOf('--dump-json');
  if (dump >= 0) {
    const seed = process.argv[dump + 2] !== undefined ? Number(process.argv[dump + 2]) : 42;
    process.stdout.write(generateCustomersJson(Number(process.argv[dump + 1]), seed));
    return;
  }

  const wasm = locate(process.env.LEAKSCOPE_WASM, path.join(REPO, 'build/leakscope.wasm'));
  const cli = locate(process.env.LEAKSCOPE_CLI, path.join(REPO, 'build/leakscope'));
  // Optional: without the benchmark binary the native-filter columns say so.
  const benchBinary = locate(process.env.LEAKSCOPE_BENCH, path.join(REPO, 'build/leakscope_bench'));
  const haveBench = fs.existsSync(benchBinary);
  const seconds = Number(process.env.BENCH_SECONDS ?? 2);
  if (!(seconds > 0)) throw new Error(`BENCH_SECONDS must be a positive number, not ${process.env.BENCH_SECONDS}`);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error(`BENCH_ROUNDS must be a positive integer, not ${process.env.BENCH_ROUNDS}`);
  const shared = process.env.LEAKSCOPE_SHARED ? path.resolve(process.env.LEAKSCOPE_SHARED) : path.resolve(REPO, '../shared');
  let policyFile = path.join(shared, 'conformance/reference-policy.yaml');
  if (!fs.existsSync(policyFile)) policyFile = path.join(REPO, 'examples/policies/default.yaml');
  for (const [what, f] of [['wasm module (LEAKSCOPE_WASM)', wasm], ['CLI (LEAKSCOPE_CLI)', cli], ['policy', policyFile]]) {
    if (!fs.existsSync(f)) throw new Error(`${what} ${f} does not exist`);
  }
  const policyText = fs.readFileSync(policyFile, 'utf8');
  // Checked between phases too: a build that starts mid-run makes numbers noisy.
  const noisy = [];
  const checkQuiet = (phase) => { if (compilerRunning()) noisy.push(phase); };
  checkQuiet('start');
  if (noisy.length) console.error('warning: a compiler is running; numbers will be noisy');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'leakscope-filter-bench-'));
  try {
    const bodies = SIZES.map((size) => {
      const variants = [];
      const files = [];
      for (let i = 0; i < bodyVariants(size); i++) {
        variants.push(generateCustomersJson(size, 42 + i));
        files.push(path.join(tmp, `customers_${size}_${i}.json`));
        fs.writeFileSync(files[i], variants[i]);
      }
      return { size, variants, files };
    });

    // Sanity: the filter sees the same matches as the native engine (and forwards bodies intact):
    // the mean over the bodies of a size, which `leakscope bench` reports for one pass over them.
    const checkHost = await startVm(wasm, policyText, true);
    for (const b of bodies) {
      let sum = 0;
      for (const v of b.variants) sum += wasmMatches(checkHost, v) ?? NaN;
      b.wasmMatches = Math.floor(sum / b.variants.length);
      b.nativeMatches = nativeBench(cli, policyFile, b.files, b.files.length).matches;
    }

    const host = await startVm(wasm, policyText, false);
    const guestHost = await startVm(wasm, policyText, false, /*timeGuest=*/true);
    const memConfigured = host.memoryBytes;
    const rows = [];
    for (const b of bodies) {
      rows.push({ ...b, ...measureSize(b, { wall: host, guest: guestHost }, cli, haveBench ? benchBinary : null,
        policyFile, seconds, rounds, checkQuiet) });
    }
    const memAfter1MiB = host.memoryBytes;
    // As BM_StreamMemory does: one stream over one cycle of the data first, so the policy's
    // shared regex caches (RE2 DFA states, grown lazily up to their budget, once per VM) are not
    // mistaken for per-stream memory; then the 64 MiB stream.
    const sb = streamBody(STREAM_BYTES);
    const warm = streamThrough(host, sb, sb.cycle.length);
    const st = streamThrough(host, sb, sb.cycled);
    checkQuiet('64 MiB stream');

    const rel = (f) => path.relative(process.cwd(), f) || f;
    console.log(`LeakScope filter benchmark: policy ${rel(policyFile)}; wasm ${rel(wasm)} ` +
      `(${(fs.statSync(wasm).size / MiB).toFixed(1)} MiB) in Node ${process.version} (V8 ${process.versions.v8}) ` +
      `via tests/filter/proxy_wasm_host.mjs; native ${rel(cli)} bench.`);
    console.log(`Machine: ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} CPUs; load average ` +
      `${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ` +
      (noisy.length ? `NOT QUIET: a compiler was running after ${noisy.join(', ')}` : 'no compiler running at any phase') +
      `. BENCH_SECONDS=${seconds} per size, in BENCH_ROUNDS=${rounds} alternating rounds (wasm, module, native; ` +
      'figures and ratios are medians over the rounds); bodies: generated ' +
      'customer-record JSON (bench_data.cc generator; per size ' +
      bodies.map((b) => `${fmtSize(b.size)}: ${b.variants.length}`).join(', ') +
      ' bodies, seeds from 42, sent in turn), application/json, 16 KiB chunks (wasm).');
    console.log('');
    console.log('| size | native MB/s | native p50 / p99 µs | wasm MB/s | wasm/native | p50 µs | p99 µs | ' +
      'module MB/s | module/native | module p50 µs | module p99 µs | native filter MB/s | module/native filter |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(`| ${fmtSize(r.size)} | ${fmt1(r.n.mbps)} | ${r.n.p50.toFixed(0)} / ${r.n.p99.toFixed(0)} | ` +
        `${fmt1(r.w.mbps)} | ${r.wasmRatio.toFixed(2)} | ` +
        `${r.w.p50.toFixed(0)} | ${r.w.p99.toFixed(0)} | ${fmt1(r.g.mbps)} | ${r.moduleRatio.toFixed(2)} | ` +
        `${r.g.p50.toFixed(0)} | ${r.g.p99.toFixed(0)} | ` +
        (r.filterMbps === null ? 'n/a | n/a |' : `${fmt1(r.filterMbps)} | ${r.moduleFilterRatio.toFixed(2)} |`));
    }
    console.log('');
    console.log('wasm: whole transactions through the JavaScript test host. module: the time of the same ' +
      "transactions in the module's own code (callbacks minus host calls, on a second VM that times them). " +
      'native: the engine alone (`leakscope bench`). native filter: the same filter source built natively ' +
      '(BM_FilterTransaction), so module/native filter compares the same code inside V8 and out' +
      (haveBench ? '.' : `; not measured: ${path.relative(process.cwd(), benchBinary) || benchBinary} does not exist.`));
    console.log('');
    for (const r of rows) {
      const mm = r.wasmMatches === r.nativeMatches ? 'same as native' : `native ${r.nativeMatches}`;
      console.log(`- ${fmtSize(r.size)}: wasm ${r.w.iterations} transactions in ${r.w.seconds.toFixed(2)} s; ` +
        `native ${r.n.iterations} iterations in ${r.n.seconds.toFixed(2)} s; matches per response: ` +
        `${r.wasmMatches ?? '?'} on average (${mm})`);
    }
    console.log('');
    console.log(`Memory per VM (guest linear memory, memory.buffer.byteLength): after configure ${fmtMiB(memConfigured)}; ` +
      `after the 1 MiB runs ${fmtMiB(memAfter1MiB)}.`);
    console.log(`Warm-up stream over one ${fmtSize(sb.cycle.length)} cycle of the streamed data (fills the shared ` +
      `regex caches, once per VM): ${fmtMiB(warm.before)} → ${fmtMiB(warm.after)}.`);
    const grew = st.beforeComplete - st.before;
    const half = st.checkpoints.find(([at]) => at >= 32 * MiB)?.[1] ?? st.before;
    const lateGrowth = st.beforeComplete - half;
    const verdict = grew <= 0 ? 'did not grow while streaming: per-stream memory independent of body size.'
      : lateGrowth <= 0 ? `grew ${fmtMiB(grew)} early, then flat over the last 32 MiB: bounded, independent of body size.`
        : `grew ${fmtMiB(grew)}, ${fmtMiB(lateGrowth)} of it in the last 32 MiB: NOT bounded.`;
    console.log(`Streaming ${fmtMiB(st.bytes)} of JSON through one stream (all analysed, 16 KiB chunks, ` +
      `${fmt1(st.mbps)} MB/s, ${st.seconds.toFixed(1)} s): ${fmtMiB(st.before)} before; ` +
      st.checkpoints.map(([at, m]) => `${fmtSize(at)} in: ${fmtMiB(m)}`).join(', ') +
      `; after complete() ${fmtMiB(st.after)}. Linear memory ${verdict}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// Run as a script, not when imported (bench/filter_ab.mjs takes its bodies and transactions).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  });
}

export { bodyVariants, generateCustomersJson, transaction };
