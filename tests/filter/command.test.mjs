// Command mode of leakscope.wasm against docs/protocol.md (version 1), in the Envoy-like host:
// policy and block-list pull, batched report upload, and a Command that is down or answers garbage.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { ProxyWasmHost } from './proxy_wasm_host.mjs';
import { SSN_POLICY, WASM_PATH, wasmSkipReason } from './support.mjs';

const POLICY_V1 = SSN_POLICY;
const POLICY_V2 = POLICY_V1.replace('ssn: {}', 'ssn: {report_style: sha256}');

function header(headers, name) {
  const h = headers.find(([k]) => k === name);
  return h ? h[1] : undefined;
}

class Clock {
  ms = 1_764_200_000_000;
  now = () => BigInt(this.ms) * 1_000_000n;
  advance(ms) { this.ms += ms; }
}

async function startCommandMode(extra = {}) {
  const clock = new Clock();
  const pluginConfig = JSON.stringify({
    upstream_cluster: 'leakscope-command', api_key: 'k3y', deployment_name: 'prod',
    upload_interval_ms: 1000, policy_pull_interval_ms: 10000, ...extra,
  });
  const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig, clusters: ['leakscope-command'], now: clock.now });
  assert.equal(host.startVm(), true);
  assert.equal(host.configure(), true, host.logs.map((l) => l.message).join('\n'));
  return { host, clock };
}

function policyResponse(policy, id, extra = {}) {
  return { headers: [[':status', '200']], body: JSON.stringify({ protocol: 1, policy_id: id, policy, blocked_ips: [], blocked_tokens: [], ...extra }) };
}

// Answers the pending policy pull with `response`.
function answerPull(host, response) {
  const pull = host.httpCalls.find((c) => header(c.headers, ':method') === 'GET');
  assert.ok(pull, 'a policy pull is pending');
  host.respondToHttpCall(pull.token, response);
  return pull;
}

function transaction(host, { path = '/v1/people/7?q=secret', body = 'ssn 123-45-6789\n', properties = {} } = {}) {
  const s = host.newHttpStream({ properties });
  s.requestHeaders([[':method', 'GET'], [':authority', 'api.example.com'], [':path', path]], true);
  if (!s.localReply) {
    s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
    s.responseBody(Buffer.from(body), true);
  }
  s.complete();
  return s;
}

const TOKEN_POLICY = POLICY_V1 + `    token_extractor:
      location: request
      header: authorization
      extractor:
        - regex: "Bearer (.+)"
        - hash
`;

describe('Command mode', { skip: wasmSkipReason() }, () => {
  test('pulls the policy with the protocol headers and puts it in force', async () => {
    const { host } = await startCommandMode();
    assert.ok(host.tickPeriodMs > 0, 'a tick period is set');
    host.tick();
    const pull = answerPull(host, policyResponse(POLICY_V1, 'v1'));
    assert.equal(pull.upstream, 'leakscope-command');
    assert.equal(header(pull.headers, ':path'), '/api/v1/policy?deployment=prod');
    assert.equal(header(pull.headers, 'authorization'), 'Bearer k3y');
    assert.equal(header(pull.headers, 'x-leakscope-protocol'), '1');
    assert.equal(host.metric('leakscope.policy_updates')?.value, 1);
    assert.ok(host.logs.some((l) => /policy v1 from Command is in force/.test(l.message)));
  });

  test('uploads batched reports that follow the protocol', async () => {
    const { host, clock } = await startCommandMode();
    host.tick();
    answerPull(host, policyResponse(POLICY_V1, 'v1'));
    transaction(host);
    transaction(host, { body: 'nothing here' });
    clock.advance(1500);
    host.tick();
    const upload = host.httpCalls.find((c) => header(c.headers, ':method') === 'POST');
    assert.ok(upload, 'an upload is pending');
    assert.equal(header(upload.headers, ':path'), '/api/v1/reports');
    assert.equal(header(upload.headers, 'content-type'), 'application/json');
    const body = JSON.parse(upload.body.toString('utf8'));
    assert.equal(body.protocol, 1);
    assert.equal(body.deployment_name, 'prod');
    assert.equal(body.policy_id, 'v1');
    assert.equal(body.reports.length, 2);
    const [first, second] = body.reports;
    assert.equal(first.path, '/v1/people/7', 'the query string never leaves the proxy');
    assert.equal(first.authority, 'api.example.com');
    assert.equal(first.status, '200');
    assert.equal(first.response.categories.ssn.count, 1);
    assert.deepEqual(first.response.categories.ssn.values, ['123-45-6789']);
    assert.deepEqual(second.response.categories, {});
    host.respondToHttpCall(upload.token, { headers: [[':status', '200']], body: '{"accepted":2}' });
    assert.equal(host.metric('leakscope.command_uploads')?.value, 1);
  });

  test('interleaved streams each report their own request line, status, source and headers', async () => {
    // The filter keeps each stream's header maps as the host serialised them and reads these
    // fields from them: a later stream's maps must not show through an earlier stream's report.
    const { host, clock } = await startCommandMode();
    host.tick();
    answerPull(host, policyResponse(POLICY_V1, 'v1'));
    const streams = [0, 1, 2].map((k) => {
      const s = host.newHttpStream({ properties: { 'source.address': `198.51.100.${k}:5000${k}` } });
      s.requestHeaders([[':method', ['GET', 'POST', 'DELETE'][k]], [':authority', `svc-${k}.example.com`],
        [':path', `/v${k}/items`], ['accept', `application/x-${k}`]], true);
      return s;
    });
    for (const k of [2, 0, 1]) {
      streams[k].responseHeaders([[':status', String(200 + k)], ['content-type', 'text/plain'], ['server', `s${k}`]], false);
    }
    for (const k of [1, 2, 0]) {
      streams[k].responseBody(Buffer.from(`ssn 12${k}-45-6789\n`), true);
      streams[k].complete();
    }
    clock.advance(1500);
    host.tick();
    const upload = host.httpCalls.find((c) => header(c.headers, ':method') === 'POST');
    assert.ok(upload, 'an upload is pending');
    const reports = JSON.parse(upload.body.toString('utf8')).reports;
    assert.equal(reports.length, 3);
    for (const [i, k] of [1, 2, 0].entries()) {
      const r = reports[i];
      assert.equal(r.authority, `svc-${k}.example.com`);
      assert.equal(r.path, `/v${k}/items`);
      assert.equal(r.method, ['GET', 'POST', 'DELETE'][k]);
      assert.equal(r.status, String(200 + k));
      assert.equal(r.source_address, `198.51.100.${k}:5000${k}`);
      assert.deepEqual(r.request_headers.find((h) => h.name === 'accept'), { name: 'accept', value: `application/x-${k}` });
      assert.deepEqual(r.response_headers.find((h) => h.name === 'server'), { name: 'server', value: `s${k}` });
      assert.deepEqual(r.response.categories.ssn.values, [`12${k}-45-6789`]);
    }
  });

  test('a Command that is down: reports are dropped and counted, memory stays bounded, one log line', async () => {
    const { host, clock } = await startCommandMode({ max_queued_reports: 5, upload_batch_size: 3 });
    host.tick();
    answerPull(host, policyResponse(POLICY_V1, 'v1'));
    for (let round = 0; round < 4; ++round) {
      for (let i = 0; i < 10; ++i) transaction(host);
      clock.advance(1500);
      host.tick();
      const uploads = host.httpCalls.filter((c) => header(c.headers, ':method') === 'POST');
      assert.equal(uploads.length, 1, 'never more than one upload in flight');
      host.failHttpCall(uploads[0].token);
    }
    // Each round: the queue (bound 5) fills and the rest of the 10 reports are dropped; the upload
    // takes 3 and fails, so those 3 are dropped too; 2 stay queued for the next round.
    // 40 reports = 38 dropped + 2 still queued: nothing vanishes uncounted, nothing grows unbounded.
    const dropped = host.metric('leakscope.reports_dropped')?.value ?? 0;
    assert.equal(dropped, 38);
    const warnings = host.logs.filter((l) => /report upload failed/.test(l.message));
    assert.equal(warnings.length, 1, 'the failure is logged once, not per upload');
  });

  test('garbage and invalid policies from Command keep the last good policy', async () => {
    const { host, clock } = await startCommandMode();
    host.tick();
    answerPull(host, policyResponse(POLICY_V1, 'v1'));
    clock.advance(11000);
    host.tick();
    answerPull(host, { headers: [[':status', '200']], body: '<html>oops</html>' });
    clock.advance(11000);
    host.tick();
    answerPull(host, policyResponse('categories:\n  bad:\n    - regex: "("\n', 'v2'));
    assert.ok(host.logs.some((l) => /policy pull: policy response is not JSON/.test(l.message)));
    assert.ok(host.logs.some((l) => /policy v2 from Command is invalid.*categories\.bad\[0\]\.regex.*previous policy stays in force/.test(l.message)));
    const before = host.logs.length;
    transaction(host);
    clock.advance(1500);
    host.tick();
    const upload = host.httpCalls.find((c) => header(c.headers, ':method') === 'POST');
    const body = JSON.parse(upload.body.toString('utf8'));
    assert.equal(body.policy_id, 'v1');
    assert.equal(body.reports[0].response.categories.ssn.count, 1, 'v1 still analyses traffic');
    assert.ok(host.logs.length >= before);
    clock.advance(11000);
    host.tick();
    answerPull(host, policyResponse(POLICY_V2, 'v2'));
    assert.ok(host.logs.some((l) => /policy v2 from Command is in force/.test(l.message)));
  });

  test('a source IP on the block list gets the local reply', async () => {
    const { host } = await startCommandMode({ block_status: 451 });
    host.tick();
    answerPull(host, policyResponse(POLICY_V1, 'v1', { blocked_ips: ['203.0.113.9'] }));
    const blocked = transaction(host, { properties: { 'source.address': '203.0.113.9:5555' } });
    assert.equal(blocked.localReply?.status, 451);
    const allowed = transaction(host, { properties: { 'source.address': '198.51.100.1:5555' } });
    assert.equal(allowed.localReply, null);
    assert.equal(host.metric('leakscope.blocked_sources')?.value, 1);
  });

  test('tokens are extracted into reports and blocked tokens get the local reply', async () => {
    const crypto = await import('node:crypto');
    const hash = crypto.createHash('sha256').update('t0k3n').digest('hex').toUpperCase();
    const { host, clock } = await startCommandMode();
    host.tick();
    answerPull(host, policyResponse(TOKEN_POLICY, 'v1', { blocked_tokens: [crypto.createHash('sha256').update('bad').digest('hex').toUpperCase()] }));
    const s = host.newHttpStream();
    s.requestHeaders([[':method', 'GET'], [':authority', 'api.example.com'], [':path', '/x'], ['authorization', 'Bearer t0k3n']], true);
    s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
    s.responseBody(Buffer.from('ssn 123-45-6789'), true);
    s.complete();
    const blocked = host.newHttpStream();
    blocked.requestHeaders([[':method', 'GET'], [':authority', 'api.example.com'], [':path', '/x'], ['authorization', 'Bearer bad']], true);
    assert.equal(blocked.localReply?.status, 403);
    blocked.complete();
    clock.advance(1500);
    host.tick();
    const upload = host.httpCalls.find((c) => header(c.headers, ':method') === 'POST');
    const body = JSON.parse(upload.body.toString('utf8'));
    assert.equal(body.reports[0].token, hash);
    assert.equal(host.metric('leakscope.blocked_tokens')?.value, 1);
  });
});
