// Tests of the test host itself (proxy_wasm_host.mjs) against a scripted module built from
// fixtures/scripted_filter.c with clang-14 and wasi-libc at test time. Skipped without clang-14.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import {
  ProxyWasmHost, WasmResult, WasmTrapError, VmFailedError, serializePairs, deserializePairs,
} from './proxy_wasm_host.mjs';
import { HERE, haveCommand, mulberry32 } from './support.mjs';

const CLANG = process.env.CLANG ?? 'clang-14';
const haveToolchain = haveCommand(CLANG) && fs.existsSync('/usr/include/wasm32-wasi/stdio.h');
const skip = haveToolchain ? false : `${CLANG} with wasi-libc is not installed`;

let tmp;
const built = {};

function build(name, extra = []) {
  const out = path.join(tmp, `${name}.wasm`);
  execFileSync(CLANG, ['--target=wasm32-wasi', '-O1', '-mexec-model=reactor', '-Wl,--export=malloc', ...extra,
    '-o', out, path.join(HERE, 'fixtures/scripted_filter.c')], { stdio: 'pipe' });
  return out;
}

function buildRaw(name, source) {
  const src = path.join(tmp, `${name}.c`);
  const out = path.join(tmp, `${name}.wasm`);
  fs.writeFileSync(src, source);
  execFileSync(CLANG, ['--target=wasm32-wasi', '-O1', '-nostdlib', '-Wl,--no-entry', '-Wl,--export-all',
    '-Wl,--allow-undefined', '-o', out, src], { stdio: 'pipe' });
  return out;
}

async function start(config, options = {}) {
  const host = await ProxyWasmHost.load(built.fixture, { pluginConfig: config, vmConfig: 'VMCFG', ...options });
  assert.equal(host.startVm(), true);
  assert.equal(host.configure(), true, JSON.stringify(host.logs));
  return host;
}

const messages = (host) => host.logs.map((l) => l.message);
const has = (host, text) => messages(host).some((m) => m === text);
const REQ = [[':method', 'POST'], [':scheme', 'https'], [':authority', 'api.example.com'], [':path', '/a?b=1']];

describe('proxy_wasm_host', { skip }, () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-wasm-host-test-'));
    built.fixture = build('fixture');
    built.restricted = build('restricted', ['-DRESTRICTED_INIT']);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('pairs use Envoy\'s serialisation', () => {
    const b = serializePairs([['a', '1'], [':path', '/x']]);
    assert.equal(b.readUInt32LE(0), 2);
    assert.deepEqual([b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12), b.readUInt32LE(16)], [1, 1, 5, 2]);
    assert.equal(b.subarray(20).toString('latin1'), 'a\x001\x00:path\x00/x\x00');
    assert.deepEqual(deserializePairs(b), { pairs: [['a', '1'], [':path', '/x']], ok: true });
    assert.deepEqual(deserializePairs(Buffer.alloc(0)), { pairs: [], ok: true });
    assert.equal(deserializePairs(b.subarray(0, b.length - 3)).ok, false);
  });

  test('refuses a module importing what Envoy lacks, or without the ABI marker', () => {
    const oldAbi = buildRaw('old_abi', `
      __attribute__((import_module("env"), import_name("proxy_get_configuration"))) int proxy_get_configuration(char**, unsigned long*);
      void proxy_abi_version_0_2_1(void) {}
      void* proxy_on_memory_allocate(unsigned long n) { return 0; }
      int proxy_on_configure(int a, int b) { char* p; unsigned long n; return proxy_get_configuration(&p, &n); }`);
    return Promise.all([
      assert.rejects(ProxyWasmHost.load(oldAbi), /proxy_get_configuration/),
      assert.rejects(ProxyWasmHost.load(buildRaw('no_abi', 'void* proxy_on_memory_allocate(unsigned long n) { return 0; }')),
        /proxy_abi_version_0_2_1/),
    ]);
  });

  test('timeGuest splits callback time between the module and the host calls it makes', async () => {
    // The first tick spins in the module; the second makes host calls that each take >= 20 µs.
    const wasm = buildRaw('timed', `
      __attribute__((import_module("env"), import_name("proxy_set_tick_period_milliseconds"))) int set_tick(int);
      __attribute__((import_module("env"), import_name("proxy_get_current_time_nanoseconds"))) int now_ns(unsigned long long*);
      void proxy_abi_version_0_2_1(void) {}
      void* proxy_on_memory_allocate(unsigned long n) { return 0; }
      int proxy_on_configure(int a, int b) { return set_tick(1000) == 0; }
      static int ticks;
      volatile unsigned sink;
      void proxy_on_tick(int root) {
        if (ticks++ == 0) { for (unsigned i = 0; i < 20000000; ++i) sink += i; return; }
        unsigned long long t;
        for (int i = 0; i < 200; ++i) now_ns(&t);
      }`);
    const busyNow = () => {
      const until = process.hrtime.bigint() + 20000n;
      while (process.hrtime.bigint() < until) { /* a slow host call */ }
      return 1n;
    };
    const untimed = await ProxyWasmHost.load(wasm, { now: busyNow });
    untimed.startVm();
    assert.equal(untimed.configure(), true);
    untimed.tick();
    assert.equal(untimed.callbackNs, 0n);

    const host = await ProxyWasmHost.load(wasm, { now: busyNow, timeGuest: true });
    host.startVm();
    assert.equal(host.configure(), true);
    const before = { callback: host.callbackNs, imports: host.importNs };
    host.tick();
    const spin = { callback: host.callbackNs - before.callback, imports: host.importNs - before.imports };
    assert.ok(spin.callback > 1000000n, `the spinning tick took ${spin.callback} ns`);
    assert.ok(spin.imports * 100n < spin.callback, `host calls ${spin.imports} of ${spin.callback} ns while spinning`);
    const g0 = host.guestNs;
    const i0 = host.importNs;
    host.tick();
    const calls = host.importNs - i0;
    assert.ok(calls >= 200n * 20000n, `200 host calls of >= 20 µs took ${calls} ns`);
    assert.ok(host.guestNs - g0 < calls / 4n, `module time ${host.guestNs - g0} ns next to ${calls} ns of host calls`);
  });

  test('logging is allowed from static constructors; other host calls there trap', async () => {
    const host = await ProxyWasmHost.load(built.fixture, { logLevel: 'debug' });
    assert.ok(host.logs.some((l) => l.level === 'debug' && l.message === 'fixture static constructor'));
    await assert.rejects(ProxyWasmHost.load(built.restricted), (e) => e instanceof WasmTrapError && /proxy_define_metric/.test(e.message));
  });

  test('VM config only in on_vm_start, plugin config only in on_configure', async () => {
    const host = await start('vmconfig');
    assert.ok(has(host, 'vm_start config=VMCFG r=0'));
    assert.ok(has(host, `vm config in configure r=${WasmResult.NotFound}`));
  });

  test('configure() reports the module refusing its configuration', async () => {
    const host = await ProxyWasmHost.load(built.fixture, { pluginConfig: 'fail now' });
    host.startVm();
    assert.equal(host.configure(), false);
    assert.deepEqual(host.logsAtLeast('error').map((l) => l.message), ['configure: refusing configuration "fail now"']);
  });

  test('log level filter, proxy_get_log_level, stdout/stderr to the log', async () => {
    const host = await start('loglevel stdout', { logLevel: 'debug' });
    assert.ok(has(host, 'log level 1'));
    assert.ok(host.logs.some((l) => l.level === 'info' && l.message === 'to stdout'));
    assert.ok(host.logs.some((l) => l.level === 'error' && l.message === 'to stderr'));
    const quiet = await start('loglevel', { logLevel: 'warn' });
    assert.equal(quiet.logs.filter((l) => l.level === 'info').length, 0);
  });

  test('header pairs, header map size (byte size) and header edits before forwarding', async () => {
    const host = await start('loghdrs count addhdr');
    const s = host.newHttpStream();
    const action = s.requestHeaders([...REQ, ['X-Replace', 'old'], ['x-replace', 'older'], ['x-remove', 'gone']], true);
    assert.equal(action, 0);
    assert.ok(has(host, 'reqhdr :path=/a?b=1'));
    assert.ok(has(host, 'reqhdr x-replace=old'), 'keys are lower-cased');
    const size = [...REQ, ['x-replace', 'old'], ['x-replace', 'older'], ['x-remove', 'gone']].reduce((a, [k, v]) => a + k.length + v.length, 0);
    assert.ok(has(host, `headers n=7 eos=1 size=${size} r=0`), messages(host).join('\n'));
    assert.deepEqual(s.forwardedRequestHeaders, [...REQ, ['x-replace', 'new'], ['x-added', '1']]);
    assert.equal(s.requestEnded, true);
  });

  test('set_header_map_pairs replaces the map', async () => {
    const host = await start('sethdrs');
    const s = host.newHttpStream();
    s.requestHeaders(REQ, true);
    assert.deepEqual(s.forwardedRequestHeaders, [['a', '1'], ['b', '2']]);
  });

  test('10 000 headers', async () => {
    const host = await start('count');
    const s = host.newHttpStream();
    const many = [...REQ, ...Array.from({ length: 10000 }, (_, k) => [`x-h${k}`, `v${k}`])];
    s.requestHeaders(many, true);
    assert.ok(messages(host).some((m) => m.startsWith('headers n=10004 eos=1')));
    assert.equal(s.forwardedRequestHeaders.length, 10004);
  });

  test('body rewrite with set_buffer_bytes at offset 0, append at the end, others refused', async () => {
    const host = await start('upper append=!END badset');
    const s = host.newHttpStream();
    s.requestHeaders(REQ, true);
    s.responseHeaders([[':status', '200']], false);
    s.responseBody('hello ', false);
    s.responseBody('world', true);
    assert.equal(s.forwardedResponseBody.toString(), 'HELLO WORLD!END');
    assert.ok(has(host, `set mid r=${WasmResult.BadArgument}`));
    assert.equal(s.responseEnded, true);
  });

  test('keeping a tail back and re-inserting it at offset 0 of the next chunk reproduces the body', async () => {
    const body = Buffer.from('The quick brown fox jumps over the lazy dog; 0123456789 and more text to split.');
    for (let seed = 1; seed <= 5; seed++) {
      const host = await start('tail=7');
      const s = host.newHttpStream();
      s.requestHeaders(REQ, true);
      s.responseHeaders([[':status', '200']], false);
      const rnd = mulberry32(seed);
      let p = 0;
      while (p < body.length) {
        const n = Math.min(body.length - p, 1 + Math.floor(rnd() * 10));
        s.responseBody(body.subarray(p, p + n), p + n === body.length);
        p += n;
      }
      assert.equal(s.forwardedResponseBody.toString(), body.toString());
    }
  });

  test('StopIterationAndBuffer accumulates, Continue forwards all; headers left earlier', async () => {
    const host = await start('body=buffer_until_end bodystatus');
    const s = host.newHttpStream();
    assert.equal(s.requestHeaders(REQ, false), 0);
    assert.deepEqual(s.forwardedRequestHeaders, REQ);
    assert.equal(s.requestBody('abc', false), 1);
    assert.equal(s.requestBody('de', false), 1);
    assert.equal(s.forwardedRequestBody.length, 0);
    assert.equal(s.requestBody('f', true), 0);
    assert.deepEqual(messages(host).filter((m) => m.startsWith('body len=')),
      ['body len=3 status_len=3 r=0 eos=0', 'body len=5 status_len=5 r=0 eos=0', 'body len=6 status_len=6 r=0 eos=1']);
    assert.equal(s.forwardedRequestBody.toString(), 'abcdef');
    assert.equal(s.requestEnded, true);
    assert.deepEqual(s.actions.map((a) => a.action), [0, 1, 1, 0]);
  });

  test('buffer limit: 413 for a request (through the filter chain), 500 direct or reset for a response', async () => {
    let host = await start('body=buffer');
    let s = host.newHttpStream({ bufferLimit: 8 });
    s.requestHeaders(REQ, false);
    s.requestBody('12345', false);
    s.requestBody('67890', false);
    assert.equal(s.localReply.status, 413);
    assert.equal(s.localReply.details, 'request_payload_too_large');
    assert.equal(s.localReply.path, 'filter_chain');
    assert.equal(s.forwardedResponseHeaders[0][1], '413');
    assert.equal(s.forwardedResponseBody.length, 0, 'the filter buffers the reply body too, and it never ends');
    assert.equal(s.requestBody('more', true), null, 'input after a local reply is ignored');

    host = await start('resphdr=stopall');
    s = host.newHttpStream({ bufferLimit: 8 });
    s.requestHeaders(REQ, true);
    s.responseHeaders([[':status', '200']], false);
    s.responseBody('12345', false);
    s.responseBody('67890', false);
    assert.equal(s.localReply.status, 500);
    assert.equal(s.localReply.path, 'direct');
    assert.deepEqual(s.forwardedResponseHeaders.slice(0, 1), [[':status', '500']]);
    assert.equal(s.forwardedResponseBody.toString(), 'Internal Server Error');

    host = await start('body=buffer');
    s = host.newHttpStream({ bufferLimit: 8 });
    s.requestHeaders(REQ, true);
    s.responseHeaders([[':status', '200']], false);
    s.responseBody('12345', false);
    s.responseBody('67890', false);
    assert.equal(s.localReply.path, 'reset');
    assert.equal(s.reset, true);
  });

  test('StopIteration on headers pauses the whole stream (Envoy converts it to StopAllIterationAndWatermark)', async () => {
    const host = await start('reqhdr=stop bodystatus');
    const s = host.newHttpStream();
    assert.equal(s.requestHeaders(REQ, false), 1);
    assert.equal(s.requestBody('abc', false), null, 'the body is held, not shown to the filter');
    assert.equal(s.forwardedRequestHeaders, null);
    assert.equal(messages(host).filter((m) => m.startsWith('body len=')).length, 0);
    assert.equal(s.stalled, false);
    s.requestBody('def', true);
    assert.equal(s.stalled, true);
  });

  test('with allowOnHeadersStopIteration, body callbacks run and a body Continue releases the headers', async () => {
    const host = await start('reqhdr=stop', { allowOnHeadersStopIteration: true });
    const s = host.newHttpStream();
    s.requestHeaders(REQ, false);
    assert.equal(s.forwardedRequestHeaders, null);
    assert.equal(s.requestBody('abc', true), 0);
    assert.deepEqual(s.forwardedRequestHeaders, REQ);
    assert.equal(s.forwardedRequestBody.toString(), 'abc');
  });

  test('unknown header status values pause like StopAllIterationAndWatermark; unknown data values drop the chunk', async () => {
    let host = await start('reqhdr=bogus');
    let s = host.newHttpStream();
    s.requestHeaders(REQ, false);
    s.requestBody('x', true);
    assert.equal(s.forwardedRequestHeaders, null);
    host = await start('body=bogus');
    s = host.newHttpStream();
    s.requestHeaders(REQ, false);
    s.requestBody('xyz', false);
    assert.equal(s.forwardedRequestBody.length, 0);
    assert.equal(s.request.droppedBytes, 3);
  });

  test('http call: refused without :authority or to an unknown cluster; response on the root; continue via effective context', async () => {
    const host = await start('httpcall reqhdr=stop', { clusters: ['command'] });
    const s = host.newHttpStream();
    assert.equal(s.requestHeaders(REQ, false), 1);
    s.requestBody('held', true);
    assert.equal(host.httpCalls.length, 1);
    const call = host.httpCalls[0];
    assert.equal(call.upstream, 'command');
    assert.deepEqual(call.headers, [[':path', '/x'], [':method', 'POST'], [':authority', 'cmd']]);
    assert.equal(call.body.toString(), 'hi');
    assert.equal(call.timeout, 500);
    assert.equal(call.fromContextId, s.id);
    assert.ok(has(host, `http_call unknown cluster r=${WasmResult.BadArgument}`));
    assert.equal(s.forwardedRequestHeaders, null);

    host.respondToHttpCall(call.token, { headers: { ':status': '200', 'x-a': 'b' }, body: 'pong', trailers: [['t', '1']] });
    assert.ok(has(host, `http response ctx=${host.rootId} token=${call.token} headers=2 body=4 trailers=1`));
    assert.ok(has(host, 'callhdr x-a=b'));
    assert.ok(has(host, 'calltrl t=1'));
    assert.ok(has(host, 'call body r=0 pong'));
    assert.ok(has(host, 'effective r=0'));
    assert.deepEqual(s.forwardedRequestHeaders, REQ);
    assert.equal(s.forwardedRequestBody.toString(), 'held', 'held data went through the filter and on');
    assert.equal(s.requestEnded, true);
    assert.equal(host.httpCalls.length, 0);

    const bad = await start('httpcall_bad', { clusters: ['command'] });
    bad.newHttpStream().requestHeaders(REQ, true);
    assert.ok(has(bad, `http_call r=${WasmResult.BadArgument} token=0`));
  });

  test('a failed http call reports BrokenConnection "reset" with no headers or body', async () => {
    const host = await start('httpcall', { clusters: '*' });
    const s = host.newHttpStream();
    s.requestHeaders(REQ, true);
    host.failHttpCall(host.httpCalls[0].token);
    assert.ok(has(host, `http response ctx=${host.rootId} token=1 headers=0 body=0 trailers=0`));
    assert.ok(has(host, `status ${WasmResult.BrokenConnection} reset`));
  });

  test('local reply from a response body callback after the headers left resets the stream', async () => {
    const host = await start('block=SECRET');
    const s = host.newHttpStream();
    s.requestHeaders(REQ, true);
    s.responseHeaders([[':status', '200'], ['content-length', '30']], false);
    s.responseBody('public part, ', false);
    s.responseBody('SECRET inside', false);
    s.responseBody(' and after', true);
    assert.equal(s.localReply.status, 403);
    assert.equal(s.localReply.details, 'blocked by fixture');
    assert.equal(s.localReply.path, 'reset');
    assert.equal(s.reset, true);
    assert.equal(s.forwardedResponseBody.toString(), 'public part, ');
    assert.deepEqual(s.ignoredInputs, ['response body']);
  });

  test('local reply while the response headers are held replaces the response', async () => {
    const host = await start('resphdr=stop block=SECRET', { allowOnHeadersStopIteration: true });
    const s = host.newHttpStream();
    s.requestHeaders(REQ, true);
    s.responseHeaders([[':status', '200']], false);
    s.responseBody('has SECRET', true);
    assert.equal(s.localReply.path, 'direct');
    assert.deepEqual(s.forwardedResponseHeaders, [[':status', '403'], ['x-blocked', '1'], ['content-length', '6'], ['content-type', 'text/plain']]);
    assert.equal(s.forwardedResponseBody.toString(), 'denied');
  });

  test('proxy_close_stream resets the stream; nothing from that callback is forwarded', async () => {
    const host = await start('close=BAD');
    const s = host.newHttpStream();
    s.requestHeaders(REQ, true);
    s.responseHeaders([[':status', '200']], false);
    s.responseBody('ok ', false);
    s.responseBody('BAD', false);
    assert.equal(s.closed, true);
    assert.equal(s.forwardedResponseBody.toString(), 'ok ');
    assert.equal(s.responseBody('x', true), null);
  });

  test('header maps are scoped to their phase; on_log reads both, read-only', async () => {
    const host = await start('reqinresp reqinbody rmcl');
    const s = host.newHttpStream();
    s.requestHeaders(REQ, false);
    s.requestBody('b', true);
    s.responseHeaders([[':status', '200'], ['content-length', '1']], false);
    s.responseBody('c', true);
    s.complete();
    assert.ok(has(host, `reqhdr-in-body :path error ${WasmResult.BadArgument}`));
    assert.ok(has(host, `reqhdr-in-resp :path error ${WasmResult.BadArgument}`));
    assert.ok(has(host, 'log reqhdr :path=/a?b=1'));
    assert.ok(has(host, 'log resphdr :status=200'));
    assert.ok(has(host, `log mutate r=${WasmResult.BadArgument}`));
    assert.deepEqual(s.forwardedResponseHeaders, [[':status', '200']]);
    const order = messages(host).filter((m) => m.startsWith('on_'));
    assert.deepEqual(order, [`on_log ${s.id}`, `on_delete ${s.id}`]);
  });

  test('properties: request.* while the request headers are live and in on_log; root properties anywhere', async () => {
    const host = await start('props setprop');
    assert.ok(has(host, 'plugin_name=leakscope'));
    const s = host.newHttpStream();
    s.requestHeaders(REQ, true);
    s.responseHeaders([[':status', '200']], true);
    s.complete();
    const lines = messages(host);
    assert.ok(lines.includes('request.path=/a?b=1'));
    assert.ok(lines.includes(`request.path error ${WasmResult.NotFound}`), 'not in the response phase');
    assert.ok(lines.includes('log request.path=/a?b=1'));
    assert.ok(lines.includes('setprop r=0') && lines.includes('my.prop=val'));
  });

  test('metrics: counters refuse offsets <= 0, gauges move both ways, histograms keep values', async () => {
    const host = await start('metrics');
    host.newHttpStream().requestHeaders(REQ, true);
    assert.deepEqual(host.metrics.get('fx.requests'), { type: 'counter', value: 1, values: undefined });
    assert.equal(host.metrics.get('fx.gauge').value, 3);
    assert.deepEqual(host.metrics.get('fx.hist').values, [7, 9]);
    assert.ok(has(host, `inc negative r=${WasmResult.BadArgument}`));
    assert.ok(has(host, `inc zero r=${WasmResult.BadArgument}`));
    assert.ok(has(host, 'get counter r=0 v=1'));
    assert.ok(has(host, `get hist r=${WasmResult.BadArgument}`));
    assert.ok(has(host, `define bad type r=${WasmResult.BadArgument}`));
  });

  test('shared data with CAS, shared queues with on_queue_ready', async () => {
    const host = await start('shared queue');
    for (const line of [`get missing r=${WasmResult.NotFound}`, 'set r=0', 'get r=0 v=v1', `set stale cas r=${WasmResult.CasMismatch}`,
      'set right cas r=0', 'get r=0 v=v3', 'register r=0', 'resolve r=0 same=1', `resolve missing r=${WasmResult.NotFound}`,
      'enqueue r=0', 'queue ready r=0 data=item', `dequeue again r=${WasmResult.Empty}`]) {
      assert.ok(has(host, line), `${line}\n${messages(host).join('\n')}`);
    }
  });

  test('ticks, time, foreign functions, gRPC, proxy_done', async () => {
    const host = await start('tick=100 time foreign grpc done', { now: () => 1234567890123456789n });
    assert.equal(host.tickPeriodMs, 100);
    assert.ok(host.tick());
    assert.ok(has(host, 'tick'));
    assert.ok(messages(host).includes('time ns=1234567890123456789 clock=1234567890'));
    assert.ok(has(host, `foreign r=${WasmResult.NotFound}`));
    assert.ok(has(host, `grpc r=${WasmResult.Unimplemented}`));
    assert.ok(has(host, `done r=${WasmResult.NotFound}`), 'proxy_done before shutdown');
    assert.equal(host.shutdown(), false, 'on_done returned false: the VM waits for proxy_done');
    host.tick();
    assert.ok(has(host, 'done r=0'));
    assert.ok(has(host, `on_delete ${host.rootId}`));
    const idle = await start('');
    assert.equal(idle.tick(), false);
  });

  test('trailers reach the filter and leave after Continue', async () => {
    const host = await start('loghdrs');
    const s = host.newHttpStream();
    s.requestHeaders(REQ, false);
    s.requestBody('abc', false);
    s.requestTrailers({ 'grpc-status': '0' });
    assert.ok(has(host, 'reqtrl grpc-status=0'));
    assert.deepEqual(s.forwardedRequestTrailers, [['grpc-status', '0']]);
    assert.equal(s.requestEnded, true);
  });

  test('a trap fails the VM: the call throws and every later call too', async () => {
    const host = await start('trap');
    const s = host.newHttpStream();
    assert.throws(() => s.requestHeaders(REQ, true), WasmTrapError);
    assert.equal(host.trapped.callback, 'proxy_on_request_headers');
    assert.throws(() => host.newHttpStream(), VmFailedError);
    assert.throws(() => host.tick(), VmFailedError);
  });
});
