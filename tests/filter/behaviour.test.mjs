// Envoy behaviours leakscope.wasm must honour, checked in the Envoy-like test host
// (proxy_wasm_host.mjs): configuration errors, hostile inputs, streaming without buffering,
// chunk-boundary independence, block and redact actions, metrics.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';

import { FilterDataStatus, ProxyWasmHost } from './proxy_wasm_host.mjs';
import { WASM_PATH, categoriesView, cliScan, feed, mulberry32, reportsSince, wasmSkipReason } from './support.mjs';

const MiB = 1024 * 1024;

const ALERT_POLICY = `categories:
  ssn:
    - regex: "\\\\b\\\\d{3}-\\\\d{2}-\\\\d{4}\\\\b"
  email:
    - regex: "[a-z.]+@[a-z]+\\\\.[a-z]{2,}"
endpoints:
  - matches: "**"
    config:
      ssn: {}
      email: {}
`;
const BLOCK_POLICY = ALERT_POLICY.replace('      ssn: {}', '      ssn:\n        action: block');
const REDACT_POLICY = ALERT_POLICY.replace('      ssn: {}', '      ssn:\n        action: !redact "XXX-XX-XXXX"');

function config(policy, extra = {}) {
  return JSON.stringify({ local_policy: policy, log_reports: true, ...extra });
}

async function start(pluginConfig, options = {}) {
  const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig, ...options });
  assert.equal(host.startVm(), true);
  assert.equal(host.configure(), true, host.logs.map((l) => `${l.level}: ${l.message}`).join('\n'));
  return host;
}

const REQUEST = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'api.example.com'], [':path', '/v1/people']];

// One transaction: a bodiless GET, then a response body in the given chunks.
function respond(host, chunks, { contentType = 'text/plain', contentLength = true, extraHeaders = [] } = {}) {
  const from = host.logs.length;
  const s = host.newHttpStream();
  s.requestHeaders(REQUEST, true);
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const headers = [[':status', '200'], ['content-type', contentType], ...extraHeaders];
  if (contentLength) headers.push(['content-length', String(total)]);
  s.responseHeaders(headers, false);
  feed((c, eos) => s.responseBody(c, eos), chunks);
  s.complete();
  const reports = reportsSince(host, from);
  return { stream: s, report: reports.find((r) => r.direction === 'response'), reports };
}

const bodyActions = (s) => s.actions.filter((a) => a.phase.endsWith('_body')).map((a) => a.action);
const splitEvery = (buf, n) => Array.from({ length: Math.ceil(buf.length / n) }, (_, k) => buf.subarray(k * n, (k + 1) * n));
const oneByte = (buf) => splitEvery(buf, 1);

// Protobuf wire format and gRPC framing for test bodies.
function varint(n) {
  const out = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return Buffer.from(out);
}
const pbBytes = (field, payload) => Buffer.concat([varint(field * 8 + 2), varint(Buffer.byteLength(payload)), Buffer.from(payload)]);
const pbVarint = (field, n) => Buffer.concat([varint(field * 8), varint(n)]);
function grpcFrame(message, flags = 0) {
  const prefix = Buffer.alloc(5);
  prefix[0] = flags;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}
// Two gRPC messages: a person record (nested strings, a varint) and a note; UTF-8 throughout.
const GRPC_PEOPLE = Buffer.concat([
  grpcFrame(pbBytes(1, Buffer.concat([pbBytes(1, 'Zoë Ångström ☃'), pbVarint(2, 300), pbBytes(3, 'ann@corp.io'),
    pbBytes(4, 'ssn 987-65-4321 😀')]))),
  grpcFrame(pbBytes(5, 'note: 123-45-6780 é')),
]);

function randomSplit(buf, seed, max = 17) {
  const rnd = mulberry32(seed);
  const out = [];
  for (let p = 0; p < buf.length;) {
    const n = Math.min(buf.length - p, 1 + Math.floor(rnd() * max));
    out.push(buf.subarray(p, p + n));
    p += n;
  }
  return out;
}

describe('leakscope.wasm in Envoy', { skip: wasmSkipReason() }, () => {
  test('plugin configuration that is not YAML: configure() fails with one log line naming the problem', async () => {
    const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: '{"local_policy": "categories: {}", "log_reports": tr' });
    assert.equal(host.startVm(), true);
    assert.equal(host.configure(), false);
    const errors = host.logsAtLeast('error');
    assert.equal(errors.length, 1, errors.map((l) => l.message).join('\n'));
    assert.match(errors[0].message, /yaml|json|configuration/i);
  });

  test('a policy with a bad regex: configure() fails with one log line naming the category', async () => {
    const policy = ALERT_POLICY.replace('"\\\\b\\\\d{3}-\\\\d{2}-\\\\d{4}\\\\b"', '"(unclosed"');
    assert.ok(policy.includes('(unclosed'));
    const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: config(policy) });
    assert.equal(host.startVm(), true);
    assert.equal(host.configure(), false);
    const errors = host.logsAtLeast('error');
    assert.equal(errors.length, 1, errors.map((l) => l.message).join('\n'));
    assert.match(errors[0].message, /ssn/);
    assert.match(errors[0].message, /regex/i);
  });

  test('10 000 request headers do not trap', async () => {
    const host = await start(config(ALERT_POLICY));
    const s = host.newHttpStream();
    const headers = [...REQUEST, ...Array.from({ length: 10000 }, (_, k) => [`x-header-${k}`, `value ${k} ann@corp.io`])];
    const from = host.logs.length;
    s.requestHeaders(headers, true);
    s.responseHeaders([[':status', '204']], true);
    s.complete();
    assert.equal(host.trapped, null);
    assert.equal(s.forwardedRequestHeaders.length, headers.length);
    assert.ok(reportsSince(host, from).some((r) => r.direction === 'request'), 'a request report is still logged');
  });

  test('a 64 MiB body in 64 KiB chunks streams through without buffering and in bounded memory', { timeout: 600_000 }, async () => {
    const host = await start(config(ALERT_POLICY, { max_analyzed_bytes: 128 * MiB }));
    const baseline = host.memoryBytes;
    const chunk = Buffer.alloc(64 * 1024, 'lorem ipsum dolor sit amet, consectetur adipiscing elit. ');
    chunk.write(' ssn 123-45-6789 ', 30000);
    const chunks = Array.from({ length: 1024 }, () => chunk);
    const { stream, report } = respond(host, chunks);
    const actions = bodyActions(stream);
    assert.equal(actions.length, 1024);
    assert.ok(!actions.includes(FilterDataStatus.StopIterationAndBuffer), 'never StopIterationAndBuffer without redact/block');
    assert.ok(actions.every((a) => a === FilterDataStatus.Continue), `every chunk continues at once: ${[...new Set(actions)]}`);
    assert.equal(stream.forwardedResponseBytes, 64 * MiB);
    assert.equal(stream.responseEnded, true);
    const growth = host.memoryBytes - baseline;
    assert.ok(growth < 16 * MiB, `guest memory grew by ${(growth / MiB).toFixed(1)} MiB`);
    assert.equal(categoriesView(report).ssn?.count, 1024);
  });

  describe('chunk boundaries inside UTF-8 sequences and JSON escapes change nothing', () => {
    const json = Buffer.from('{"name":"Zoë Ångström ☃ 😀","email":"ann@corp.io","note":"ssn \\u0031\\u0032\\u0033-45-6789 said \\"hi\\" caf\\u00e9 \\ud83d\\ude00","ssn":"987-65-4321","emoji":"😀😀 123-45-6780 é"}');
    const text = Buffer.from('Zoë Ångström ☃😀 ssn 123-45-6789 ☃ mail zoë ann@corp.io é 987-65-4321 😀😀\n');
    for (const [name, body, contentType] of [['JSON', json, 'application/json'], ['text', text, 'text/plain'],
      ['gRPC', GRPC_PEOPLE, 'application/grpc']]) {
      test(name, async () => {
        const host = await start(config(ALERT_POLICY));
        const whole = respond(host, [body], { contentType });
        const want = categoriesView(whole.report);
        const cli = cliScan({ policyText: ALERT_POLICY, contentType, target: 'api.example.com/v1/people', direction: 'response', body });
        assert.deepEqual(want, categoriesView(cli.report), 'whole body: same report as the CLI');
        assert.ok((want.ssn?.count ?? 0) >= 2, `the body has SSNs to find: ${JSON.stringify(want)}`);
        const splits = [oneByte(body), randomSplit(body, 7), randomSplit(body, 8, 5)];
        for (let k = 1; k < body.length; k++) splits.push([body.subarray(0, k), body.subarray(k)]);
        for (const chunks of splits) {
          const run = respond(host, chunks, { contentType });
          const at = chunks.map((c) => c.length).join('+');
          assert.deepEqual(categoriesView(run.report), want, `split ${at}`);
          assert.ok(run.stream.forwardedResponseBody.equals(body), `body unchanged, split ${at}`);
          assert.ok(!bodyActions(run.stream).includes(FilterDataStatus.StopIterationAndBuffer));
        }
      });
    }
  });

  test('streams that interleave, or end mid-body, share the VM\'s pooled buffers without changing a report', async () => {
    // Each body holds matches in plain and in escaped strings (collected across chunks), so the
    // buffers a stream hands back held something.
    const bodies = [0, 1, 2, 3].map((k) => Buffer.from(JSON.stringify({
      id: k, note: `call ${k}23-45-6789 \u00e9`, people: [{ email: `ann${k}@corp.io`, ssn: `98${k}-65-4321` }],
      quote: 'she said "ssn 111-22-3333"', pad: 'x'.repeat(200 * k),
    })));
    // The whole report but for timings: paths, contexts, offsets, parse errors and warnings too.
    const view = (r) => ({ ...r, analysis_time_us: undefined });
    const host = await start(config(ALERT_POLICY));
    const want = bodies.map((b) => view(respond(host, [b], { contentType: 'application/json' }).report));
    for (const w of want) assert.ok((w.categories.ssn?.count ?? 0) >= 2, JSON.stringify(w));
    const open = (k) => {
      const s = host.newHttpStream();
      s.requestHeaders(REQUEST, true);
      s.responseHeaders([[':status', '200'], ['content-type', 'application/json']], false);
      return { s, chunks: splitEvery(bodies[k], 7 + k), k };
    };
    const finish = ({ s }) => {
      const from = host.logs.length;
      s.complete();
      return reportsSince(host, from).find((r) => r.direction === 'response');
    };
    for (let round = 0; round < 3; ++round) {
      const streams = [0, 1, 2, 3].map(open);
      const abandoned = open(1);  // reset part way: its buffers go back holding an open string
      for (let i = 0; streams.some((t) => i < t.chunks.length); ++i) {
        for (const t of streams) {
          if (i < t.chunks.length) t.s.responseBody(t.chunks[i], i === t.chunks.length - 1);
        }
        if (i < 3) abandoned.s.responseBody(abandoned.chunks[i], false);
        if (i === 3) finish(abandoned);
      }
      for (const t of [streams[2], streams[0], streams[3], streams[1]]) {
        assert.deepEqual(view(finish(t)), want[t.k], `round ${round}, body ${t.k}`);
      }
      for (const k of [3, 1]) {
        assert.deepEqual(view(respond(host, [bodies[k]], { contentType: 'application/json' }).report), want[k]);
      }
    }
  });

  test('compressed gRPC messages (grpc-encoding: gzip) are analysed as if sent plain', async () => {
    const host = await start(config(ALERT_POLICY));
    const plain = categoriesView(respond(host, [GRPC_PEOPLE], { contentType: 'application/grpc' }).report);
    assert.ok((plain.ssn?.count ?? 0) >= 2, JSON.stringify(plain));
    // The same two messages, each compressed, behind the compressed flag.
    const frames = [];
    for (let at = 0; at < GRPC_PEOPLE.length;) {
      const length = GRPC_PEOPLE.readUInt32BE(at + 1);
      frames.push(grpcFrame(gzipSync(GRPC_PEOPLE.subarray(at + 5, at + 5 + length)), 0x01));
      at += 5 + length;
    }
    const body = Buffer.concat(frames);
    for (const chunks of [[body], oneByte(body), randomSplit(body, 3)]) {
      const run = respond(host, chunks, { contentType: 'application/grpc', extraHeaders: [['grpc-encoding', 'gzip']] });
      assert.deepEqual(categoriesView(run.report), plain, `chunks ${chunks.length}`);
      assert.ok(run.stream.forwardedResponseBody.equals(body));
    }
    // Without the header they cannot be read, and the report says so.
    const unread = respond(host, [body], { contentType: 'application/grpc' }).report;
    assert.deepEqual(categoriesView(unread), {});
    assert.ok(unread.warnings.some((w) => w.includes('2 compressed gRPC message(s)')), JSON.stringify(unread.warnings));
  });

  describe('block action', () => {
    const cases = {
      'match inside one chunk': ['harmless prefix text, ', 'then ssn 123-45-6789 AFTER-ONE, ', 'AFTER-TWO and the end.\n'],
      'match across a chunk boundary': ['harmless prefix text, then ssn 123-4', '5-6789 AFTER-ONE, ', 'AFTER-TWO and the end.\n'],
    };
    for (const [name, parts] of Object.entries(cases)) {
      test(`response: ${name}`, async () => {
        const host = await start(config(BLOCK_POLICY));
        const body = Buffer.from(parts.join(''));
        for (const chunks of [parts.map((p) => Buffer.from(p)), oneByte(body), randomSplit(body, 3)]) {
          const { stream, report } = respond(host, chunks);
          assert.equal(host.trapped, null);
          assert.ok(stream.localReply || stream.closed || stream.reset, 'the response is stopped');
          const out = stream.forwardedResponseBody.toString();
          assert.ok(!out.includes('AFTER'), `bytes after the match reached the client: ${JSON.stringify(out)}`);
          assert.ok(!out.includes('123-45-6789'), 'the matched value reached the client');
          assert.equal(stream.responseEnded && !stream.localReply, false, 'the original response did not end normally');
          if (report) assert.equal(report.decision, 'block');
        }
      });
    }

    test('what came before the block is analysed to the end and reported', async () => {
      // A correlation still waiting for its window to pass when the blocked match arrives.
      const policy = BLOCK_POLICY.replace('endpoints:', `  near_phone:
    - regex: "\\\\b\\\\d{10}\\\\b"
    - correlate:
        interest: primary
        max_distance: 40
        matches:
          - raw: phone
endpoints:`).replace('      email: {}', '      email: {}\n      near_phone: {}');
      const host = await start(config(policy));
      // In one JSON string, which the block cuts off before it ends.
      const body = Buffer.from('{"note":"call phone 4155550134 then ssn 123-45-6789 and more text","after":1}');
      for (const chunks of [[body], oneByte(body), splitEvery(body, 7)]) {
        const { report } = respond(host, chunks, { contentType: 'application/json' });
        assert.equal(report.decision, 'block');
        assert.equal(report.categories.ssn?.count, 1);
        assert.equal(report.categories.near_phone?.count, 1, `near_phone in ${JSON.stringify(report.categories)}`);
      }
    });

    test('request: the body never reaches the upstream whole', async () => {
      const host = await start(config(BLOCK_POLICY));
      const parts = ['{"note":"harmless", ', '"ssn":"123-45-6789", "after":"AFTER-ONE", ', '"more":"AFTER-TWO"}'];
      const s = host.newHttpStream();
      s.requestHeaders([[':method', 'POST'], [':scheme', 'https'], [':authority', 'api.example.com'], [':path', '/v1/people'],
        ['content-type', 'application/json']], false);
      feed((c, eos) => s.requestBody(c, eos), parts.map((p) => Buffer.from(p)));
      assert.ok(s.localReply || s.closed || s.reset, 'the request is stopped');
      assert.equal(s.requestEnded, false, 'the upstream never sees the end of the request');
      const out = s.forwardedRequestBody.toString();
      assert.ok(!out.includes('AFTER') && !out.includes('123-45-6789'), JSON.stringify(out));
      if (s.localReply) assert.ok(s.localReply.status >= 400, `local reply status ${s.localReply.status}`);
      s.complete();
    });
  });

  test('redaction rewrites the forwarded body under any chunking and drops content-length in the response headers', async () => {
    const host = await start(config(REDACT_POLICY));
    const body = Buffer.from('id 7: ssn 123-45-6789, spouse 987-65-4321, mail ann@corp.io, end\n');
    const want = 'id 7: ssn XXX-XX-XXXX, spouse XXX-XX-XXXX, mail ann@corp.io, end\n';
    const cli = cliScan({ policyText: REDACT_POLICY, contentType: 'text/plain', target: 'api.example.com/v1/people', direction: 'response', body });
    assert.equal(cli.body.toString(), want, 'the CLI agrees on the redacted body');
    for (const chunks of [[body], oneByte(body), randomSplit(body, 1), randomSplit(body, 2), splitEvery(body, 13)]) {
      const { stream, report } = respond(host, chunks);
      assert.equal(stream.forwardedResponseBody.toString(), want, `chunks ${chunks.map((c) => c.length).join('+')}`);
      assert.ok(!stream.forwardedResponseHeaders.some(([k]) => k === 'content-length'),
        'content-length removed before the response headers leave');
      assert.equal(stream.responseEnded, true);
      assert.equal(categoriesView(report).ssn?.count, 2);
    }
    // gRPC: the mask keeps each match's length, so every protobuf length prefix stays true.
    const grpcWant = Buffer.from(GRPC_PEOPLE.toString('latin1').replace('987-65-4321', 'XXX-XX-XXXX')
      .replace('123-45-6780', 'XXX-XX-XXXX'), 'latin1');
    const grpcCli = cliScan({ policyText: REDACT_POLICY, contentType: 'application/grpc', target: 'api.example.com/v1/people', direction: 'response', body: GRPC_PEOPLE });
    assert.ok(grpcCli.body.equals(grpcWant), 'the CLI agrees on the redacted gRPC body');
    for (const chunks of [[GRPC_PEOPLE], oneByte(GRPC_PEOPLE), randomSplit(GRPC_PEOPLE, 3)]) {
      const { stream, report } = respond(host, chunks, { contentType: 'application/grpc' });
      assert.ok(stream.forwardedResponseBody.equals(grpcWant), `gRPC chunks ${chunks.map((c) => c.length).join('+')}`);
      assert.equal(categoriesView(report).ssn?.count, 2);
      assert.deepEqual(report.categories.ssn.matches.map((m) => m.path), ['1.4', '5']);
    }
  });

  test('metrics are named leakscope.* and a matched category\'s counter grows by the match count', async () => {
    const host = await start(config(ALERT_POLICY));
    const counters = () => new Map([...host.metrics].filter(([, m]) => m.type === 'counter').map(([n, m]) => [n, m.value]));
    const body = Buffer.from('two ssns: 123-45-6789 and 987-65-4321, no mail here\n');
    for (let round = 1; round <= 2; round++) {
      const before = counters();
      respond(host, [body]);
      const after = counters();
      const delta = (n) => after.get(n) - (before.get(n) ?? 0);
      const ssnCounters = [...after.keys()].filter((n) => /(^|\.)ssn(\.|$)/.test(n) && delta(n) !== 0);
      assert.ok(ssnCounters.some((n) => delta(n) === 2),
        `round ${round}: a counter naming ssn grows by 2; changed: ${ssnCounters.map((n) => `${n} +${delta(n)}`).join(', ')}`);
      assert.ok(![...after.keys()].some((n) => /(^|\.)email(\.|$)/.test(n) && delta(n) !== 0), 'no email counter moves');
    }
    assert.ok(host.metrics.size > 0);
    for (const name of host.metrics.keys()) assert.ok(name.startsWith('leakscope.'), `metric ${name}`);
  });

  // The filter caches the ids of a label set's stats (Metrics::LabelSetFor in filter.cc) and
  // starts over past 1024 label sets; the counts must not notice either.
  test('stats stay exact across more endpoints than the VM caches label sets for', async () => {
    const policy = ALERT_POLICY.replace('  - matches: "**"', '  - matches: "*/items/!*"\n    config:\n      ssn: {}\n  - matches: "**"');
    const host = await start(config(policy, { log_reports: false }));
    const send = (path) => {
      const s = host.newHttpStream();
      s.requestHeaders([[':method', 'GET'], [':authority', 'api.example.com'], [':path', path]], true);
      s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
      s.responseBody(Buffer.from('ssn 123-45-6789\n'), true);
      s.complete();
    };
    const items = 1100;
    for (let i = 0; i < items; i++) {
      send(`/items/${i}`);
      if (i % 10 === 0) send('/other');
      if (i % 3 === 0) send(`/items/${i % 7}`);
    }
    const count = (endpoint) => [...host.metrics]
      .filter(([n]) => n.startsWith('leakscope.category.ssn.direction.response.part.body.') && n.includes(`.endpoint.${endpoint}.`))
      .reduce((a, [, m]) => a + m.value, 0);
    assert.equal(count('**'), items / 10);
    for (const i of [0, 1, 6, 7, 500, items - 1]) {
      const repeats = [...Array(items).keys()].filter((k) => k % 3 === 0 && k % 7 === i).length;
      assert.equal(count(`*/items/${i}`), 1 + repeats, `*/items/${i}`);
    }
  });

  test('each direction keeps its own stats across transactions: transactions, header and body matches, histograms', async () => {
    const host = await start(config(ALERT_POLICY.replace('      ssn: {}', '      ssn:\n        search: all')));
    const value = (re) => [...host.metrics].filter(([n]) => re.test(n)).map(([, m]) => m);
    const body = Buffer.from('mail ann@corp.io\n');
    const rounds = 3;
    for (let i = 0; i < rounds; i++) {
      const s = host.newHttpStream();
      s.requestHeaders([...REQUEST, ['x-note', '123-45-6789']], true);
      s.responseHeaders([[':status', '200'], ['content-type', 'text/plain'], ['x-note', 'ok']], false);
      s.responseBody(Buffer.from('ssn 987-65-4321 ' + body), true);
      s.complete();
    }
    for (const dir of ['request', 'response']) {
      const tx = value(new RegExp(`^leakscope\\.direction\\.${dir}\\..*transactions$`));
      assert.equal(tx.length, 1, `one ${dir} transactions counter`);
      assert.equal(tx[0].value, rounds, `${dir} transactions`);
      const sizes = value(new RegExp(`^leakscope\\.direction\\.${dir}\\.body_bytes$`));
      assert.equal(sizes.length, 1, `one ${dir} body_bytes histogram`);
      assert.deepEqual(sizes[0].values, Array(rounds).fill(dir === 'request' ? 0 : body.length + 16));
    }
    const counted = [...host.metrics].filter(([n]) => /\.(ssn|email)\..*matches$/.test(n))
      .map(([n, m]) => `${/category\.(\w+)\.direction\.(\w+)\.part\.(\w+)/.exec(n).slice(1).join(' ')} ${m.value}`).sort();
    assert.deepEqual(counted, [`email response body ${rounds}`, `ssn request header ${rounds}`, `ssn response body ${rounds}`]);
  });
});
