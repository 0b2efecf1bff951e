// The engine's fuzz corpus (tests/fuzz/corpus/body: seeds, and bodies that once broke the engine)
// through leakscope.wasm and through the CLI: hostile bodies — binary, deeply nested, cut off,
// compressed wrongly — give the module the report and the forwarded bytes the native engine
// gives, fed whole, one byte per callback and at random split points, and never trap it. (A
// blocked stream stops where the block is found: split, it reports what came before.)
//
// An input's first byte chooses the policy, content type and coding as tests/fuzz/fuzz_cases.cc
// does; inputs with an analysis limit (bit 0x40: a per-input option the filter takes from its
// configuration) are left to the native replay.

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { ProxyWasmHost } from './proxy_wasm_host.mjs';
import { REPO, SHARED, WASM_PATH, categoriesView, chunkings, cliScan, feed, reportsSince, wasmSkipReason } from './support.mjs';

const POLICIES = [
  path.join(SHARED, 'conformance/reference-policy.yaml'),
  path.join(REPO, 'examples/policies/default.yaml'),
  path.join(REPO, 'tests/fuzz/actions-policy.yaml'),
].filter((p) => fs.existsSync(p));
// As kCodings in tests/fuzz/fuzz_cases.cc.
const CODINGS = [
  ['application/json'], ['text/plain'], ['application/grpc'], ['application/grpc', 'grpc-encoding', 'gzip'],
  ['application/json', 'content-encoding', 'gzip'], ['text/plain', 'content-encoding', 'deflate, br'],
  ['application/json; charset=utf-8'], ['application/octet-stream'],
];
// The filter keeps 100 values per category (counts stay exact); the CLI keeps more.
const MAX_VALUES = 100;

function comparable(report) {
  const categories = categoriesView(report);
  for (const c of Object.values(categories)) c.values = c.values.slice(0, MAX_VALUES);
  return { categories, decision: report.decision, parse_error: report.parse_error ?? '', truncated: report.truncated };
}

const corpusDir = path.join(REPO, 'tests/fuzz/corpus/body');
const inputs = fs.readdirSync(corpusDir).sort()
  .map((name) => ({ name, data: fs.readFileSync(path.join(corpusDir, name)) }))
  .filter(({ data }) => data.length >= 3 && !(data[0] & 0x40));

const skip = wasmSkipReason();

describe('the fuzz corpus through leakscope.wasm and the CLI', { skip }, () => {
  const hosts = [];
  before(async () => {
    for (const p of POLICIES) {
      const host = await ProxyWasmHost.load(WASM_PATH, {
        pluginConfig: JSON.stringify({ local_policy: fs.readFileSync(p, 'utf8'), log_reports: true }),
      });
      assert.equal(host.startVm(), true);
      assert.equal(host.configure(), true, host.logs.map((l) => l.message).join('\n'));
      hosts.push(host);
    }
  });

  test('the corpus is there', () => assert.ok(inputs.length >= 10, `${inputs.length} inputs`));

  for (const { name, data } of inputs) {
    test(name, () => {
      const mode = data[0];
      const policy = (mode & 3) % POLICIES.length;
      const [contentType, codingHeader, coding] = CODINGS[(mode >> 2) & 7];
      const direction = mode & 0x20 ? 'request' : 'response';
      const body = data.subarray(3);
      const headers = [['content-type', contentType]];
      if (codingHeader) headers.push([codingHeader, coding]);
      const cli = cliScan({
        policyFile: POLICIES[policy], contentType, target: 'api.example.com/api/customers', direction, body,
        headers: codingHeader ? [[codingHeader, coding]] : [],
      });
      const host = hosts[policy];
      for (const chunking of chunkings([7])) {
        const from = host.logs.length;
        const s = host.newHttpStream();
        const target = [[':scheme', 'https'], [':authority', 'api.example.com'], [':path', '/api/customers']];
        if (direction === 'request') {
          s.requestHeaders([[':method', 'POST'], ...target, ...headers], false);
          feed((c, eos) => s.requestBody(c, eos), chunking.split(body));
          s.responseHeaders([[':status', '200']], true);
        } else {
          s.requestHeaders([[':method', 'GET'], ...target], true);
          s.responseHeaders([[':status', '200'], ...headers], false);
          feed((c, eos) => s.responseBody(c, eos), chunking.split(body));
        }
        s.complete();
        assert.equal(host.trapped, null, `${chunking.name}: the module trapped`);
        const mine = reportsSince(host, from).filter((r) => r.direction === direction);
        assert.equal(mine.length, 1, `${chunking.name}: one report`);
        const got = comparable(mine[0]);
        const want = comparable(cli.report);
        if (want.decision === 'block' && chunking.name !== 'whole') {
          // A blocked stream stops at the chunk that carries the blocked match: the filter reports
          // what it saw up to there (all of it analysed to the end), the CLI the whole body.
          assert.equal(got.decision, 'block', `${chunking.name}: blocked`);
          for (const [name, c] of Object.entries(got.categories)) {
            assert.ok(want.categories[name] && c.count <= want.categories[name].count, `${chunking.name}: ${name} within the CLI's`);
            assert.deepEqual(c.values, want.categories[name].values.slice(0, c.values.length), `${chunking.name}: ${name} values`);
          }
          continue;
        }
        assert.deepEqual(got, want, `${chunking.name}: report vs CLI`);
        if (mine[0].decision !== 'block') {
          const out = direction === 'request' ? s.forwardedRequestBody : s.forwardedResponseBody;
          assert.ok(out.equals(cli.body), `${chunking.name}: forwarded body vs CLI (${out.length} vs ${cli.body.length} bytes)`);
        }
      }
    });
  }
});
