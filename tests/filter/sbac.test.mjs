// SBAC (service based access control): policy rules that block a stream from a stage on, when
// their filter matches — checked in the Envoy-like host with the real module.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { ProxyWasmHost } from './proxy_wasm_host.mjs';
import { SSN_POLICY, WASM_PATH, wasmSkipReason } from './support.mjs';

const POLICY = SSN_POLICY + `sbac:
  - name: no_admin
    stage: on_request_header_chunk
    filter:
      all:
        - endpoint: "*/admin/**"
        - not:
            request_headers:
              x-role: operator
  - name: ssn_bulk
    stage: on_response_body_chunk
    filter:
      response_matches:
        ssn: 3
`;

async function start() {
  const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: JSON.stringify({ local_policy: POLICY }) });
  assert.equal(host.startVm(), true);
  assert.equal(host.configure(), true, host.logs.map((l) => l.message).join('\n'));
  return host;
}

describe('SBAC', { skip: wasmSkipReason() }, () => {
  test('a request-stage rule answers with the local reply unless its exception applies', async () => {
    const host = await start();
    const s = host.newHttpStream();
    s.requestHeaders([[':method', 'GET'], [':authority', 'shop'], [':path', '/admin/users?x=1']], true);
    assert.equal(s.localReply?.status, 403);
    s.complete();
    const ok = host.newHttpStream();
    ok.requestHeaders([[':method', 'GET'], [':authority', 'shop'], [':path', '/admin/users'], ['x-role', 'operator']], true);
    assert.equal(ok.localReply, null);
    ok.complete();
    assert.equal(host.metric('leakscope.rule.no_admin.sbac_blocked')?.value, 1);
  });

  test('a response-body rule stops the stream once the count is reached', async () => {
    const host = await start();
    const s = host.newHttpStream();
    s.requestHeaders([[':method', 'GET'], [':authority', 'shop'], [':path', '/people']], true);
    s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
    s.responseBody(Buffer.from('a 111-22-3333 b 222-33-4444 '), false);
    s.responseBody(Buffer.from('c 333-44-5555 d 444-55-6666 '), false);
    s.responseBody(Buffer.from('tail'), true);
    s.complete();
    const forwarded = s.forwardedResponseBody.toString('utf8');
    assert.ok(!forwarded.includes('333-44-5555'), `the chunk that crossed the limit must not leave: ${forwarded}`);
    assert.ok(!forwarded.includes('tail'));
    assert.equal(host.metric('leakscope.rule.ssn_bulk.sbac_blocked')?.value, 1);
  });
});
