// Service identification: the policy's local_service_name / peer_service_name become the
// local_service / peer_service labels of the filter's stats.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { ProxyWasmHost } from './proxy_wasm_host.mjs';
import { SSN_POLICY, WASM_PATH, wasmSkipReason } from './support.mjs';

const POLICY = (identification) => SSN_POLICY + identification;

async function run(identification, properties) {
  const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: JSON.stringify({ local_policy: POLICY(identification) }) });
  assert.equal(host.startVm(), true);
  assert.equal(host.configure(), true, host.logs.map((l) => l.message).join('\n'));
  const s = host.newHttpStream({ properties });
  s.requestHeaders([[':method', 'GET'], [':authority', 'api.example.com'], [':path', '/people']], true);
  s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
  s.responseBody(Buffer.from('ssn 123-45-6789 and 987-65-4321'), true);
  s.complete();
  return [...host.metrics.keys()].filter((k) => k.endsWith('.matches'));
}

describe('service identification', { skip: wasmSkipReason() }, () => {
  test('Istio defaults read the SPIFFE identities of the connection', async () => {
    const names = await run('', {
      'connection.uri_san_local_certificate': 'spiffe://cluster.local/ns/shop/sa/orders',
      'connection.uri_san_peer_certificate': 'spiffe://cluster.local/ns/web/sa/frontend',
    });
    assert.deepEqual(names, [
      'leakscope.category.ssn.direction.response.part.body.endpoint.**.local_service.shop/orders.peer_service.web/frontend.matches',
    ]);
  });

  test('raw, attribute and default sources', async () => {
    const names = await run(`local_service_name:
  ns: !raw payments
  sa: !attrs node.metadata.SERVICE
peer_service_name:
  ns: none
  sa: {default: {from: !attrs request.headers.x-caller, to: !raw anonymous}}
`, { 'node.metadata.SERVICE': 'billing' });
    assert.deepEqual(names, [
      'leakscope.category.ssn.direction.response.part.body.endpoint.**.local_service.payments/billing.peer_service.anonymous.matches',
    ]);
  });

  // The VM remembers what it parsed (ServiceCache in filter.cc): each stream must still get the
  // identities of its own connection, and a stream without certificates none (labelled 'none').
  test('each stream gets its own connection\'s identities', async () => {
    const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: JSON.stringify({ local_policy: POLICY('') }) });
    assert.equal(host.startVm(), true);
    assert.equal(host.configure(), true, host.logs.map((l) => l.message).join('\n'));
    const peers = [
      'spiffe://cluster.local/ns/web/sa/frontend',
      'spiffe://cluster.local/ns/web/sa/frontend',
      'spiffe://cluster.local/ns/batch/sa/reports',
      undefined,
      'spiffe://cluster.local/ns/web/sa/frontend',
    ];
    const seen = [];
    for (const peer of peers) {
      const properties = { 'connection.uri_san_local_certificate': 'spiffe://cluster.local/ns/shop/sa/orders' };
      if (peer) properties['connection.uri_san_peer_certificate'] = peer;
      const s = host.newHttpStream({ properties });
      const before = new Map([...host.metrics].map(([k, m]) => [k, m.value]));
      s.requestHeaders([[':method', 'GET'], [':authority', 'api.example.com'], [':path', '/people']], true);
      s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
      s.responseBody(Buffer.from('ssn 123-45-6789'), true);
      s.complete();
      const grown = [...host.metrics].filter(([k, m]) => k.endsWith('.matches') && m.value !== (before.get(k) ?? 0));
      assert.equal(grown.length, 1, JSON.stringify(grown));
      seen.push(grown[0][0].match(/peer_service\.(.*)\.matches$/)[1]);
    }
    assert.deepEqual(seen, ['web/frontend', 'web/frontend', 'batch/reports', 'none', 'web/frontend']);
  });

  // Streams hold the resolution made for them: one resolved later, for another connection,
  // must not relabel a stream still open.
  test('streams that overlap keep the identities resolved for them', async () => {
    const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: JSON.stringify({ local_policy: POLICY('') }) });
    assert.equal(host.startVm(), true);
    assert.equal(host.configure(), true, host.logs.map((l) => l.message).join('\n'));
    const peers = ['web/frontend', 'batch/reports', 'web/admin'];
    const streams = peers.map((peer) => {
      const [ns, sa] = peer.split('/');
      const s = host.newHttpStream({ properties: {
        'connection.uri_san_local_certificate': 'spiffe://cluster.local/ns/shop/sa/orders',
        'connection.uri_san_peer_certificate': `spiffe://cluster.local/ns/${ns}/sa/${sa}`,
      } });
      s.requestHeaders([[':method', 'GET'], [':authority', 'api.example.com'], [':path', '/people']], true);
      return s;
    });
    for (const k of [2, 0, 1]) {
      const before = new Map([...host.metrics].map(([name, m]) => [name, m.value]));
      const s = streams[k];
      s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
      s.responseBody(Buffer.from('ssn 123-45-6789'), true);
      s.complete();
      const grown = [...host.metrics].filter(([name, m]) => name.endsWith('.matches') && m.value !== (before.get(name) ?? 0));
      assert.equal(grown.length, 1, JSON.stringify(grown));
      assert.equal(grown[0][0].match(/local_service\.(.*)\.matches$/)[1], `shop/orders.peer_service.${peers[k]}`);
    }
  });

  // The VM also keeps a whole resolution while nothing it read changes (ServiceCache::Resolve).
  test('a resolution is kept only while its inputs hold: per-request attributes, a new policy', async () => {
    const identification = (ns) => `local_service_name:
  ns: !raw ${ns}
  sa: none
peer_service_name:
  ns: none
  sa: {default: {from: !attrs request.headers.x-caller, to: !raw anonymous}}
`;
    const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: JSON.stringify({ local_policy: POLICY(identification('alpha')) }) });
    assert.equal(host.startVm(), true);
    assert.equal(host.configure(), true, host.logs.map((l) => l.message).join('\n'));
    const labels = () => {
      const before = new Map([...host.metrics].map(([k, m]) => [k, m.value]));
      return (caller) => {
        const s = host.newHttpStream();
        const request = [[':method', 'GET'], [':authority', 'api.example.com'], [':path', '/people']];
        if (caller) request.push(['x-caller', caller]);
        s.requestHeaders(request, true);
        s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
        s.responseBody(Buffer.from('ssn 123-45-6789'), true);
        s.complete();
        const grown = [...host.metrics].filter(([k, m]) => k.endsWith('.matches') && m.value !== (before.get(k) ?? 0));
        for (const [k, m] of host.metrics) before.set(k, m.value);
        assert.equal(grown.length, 1, JSON.stringify(grown));
        return grown[0][0].match(/local_service\.(.*)\.matches$/)[1];
      };
    };
    const stream = labels();
    assert.deepEqual(['checkout', 'checkout', undefined, 'billing'].map(stream), [
      'alpha.peer_service.checkout', 'alpha.peer_service.checkout', 'alpha.peer_service.anonymous',
      'alpha.peer_service.billing']);
    // A new policy names the local service otherwise from its first stream on.
    host.pluginConfig = Buffer.from(JSON.stringify({ local_policy: POLICY(identification('beta')) }));
    assert.equal(host.configure(), true, host.logs.map((l) => l.message).join('\n'));
    assert.deepEqual(['checkout'].map(labels()), ['beta.peer_service.checkout']);
  });
});

