// Every case of ../shared/conformance/cases through leakscope.wasm in the Envoy-like test host,
// with each body fed whole, one byte per callback and at seeded random split points. Each run must
// give (a) the report the CLI gives for the same body (`leakscope scan`, as the conformance README
// describes), (b) the case's expected report, and (c) the expected body out of the filter.
//
// The filter's report is read from its log: with plugin configuration
// {"local_policy": <policy text>, "log_reports": true} it logs, at info, one
// `leakscope report <JSON>` line per direction per transaction.

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';

import { ProxyWasmHost } from './proxy_wasm_host.mjs';
import {
  WASM_PATH, caseTarget, categoriesView, chunkings, cliScan, conformanceCases, contentTypeOf, feed,
  reportsSince, wasmSkipReason,
} from './support.mjs';

const DIRECTIONS = ['request', 'response'];

function pluginConfig(policyText) {
  return JSON.stringify({ local_policy: policyText, log_reports: true });
}

function headerValue(headers, name) {
  const hit = (headers ?? []).find(([k]) => k === name);
  return hit ? hit[1] : undefined;
}

// Runs one transaction; returns the stream and the reports logged for it.
function runTransaction(host, doc, chunking) {
  const { authority, path } = caseTarget(doc);
  const req = doc.request ?? {};
  const resp = doc.response;
  const from = host.logs.length;
  const s = host.newHttpStream();
  const reqBody = req.body !== undefined && req.body !== null ? Buffer.from(req.body) : null;
  const reqHeaders = [[':method', reqBody ? 'POST' : 'GET'], [':scheme', 'https'], [':authority', authority], [':path', path],
    ...Object.entries(req.headers ?? {})];
  if (reqBody) reqHeaders.push(['content-length', String(reqBody.length)]);
  s.requestHeaders(reqHeaders, !reqBody);
  if (reqBody) feed((c, eos) => s.requestBody(c, eos), chunking.split(reqBody));
  const respBody = resp && resp.body !== undefined && resp.body !== null ? Buffer.from(resp.body) : null;
  const respHeaders = [[':status', '200'], ...Object.entries(resp?.headers ?? {})];
  if (respBody) respHeaders.push(['content-length', String(respBody.length)]);
  s.responseHeaders(respHeaders, !respBody);
  if (respBody) feed((c, eos) => s.responseBody(c, eos), chunking.split(respBody));
  s.complete();
  return { stream: s, reports: reportsSince(host, from), reqBody, respBody };
}

function checkCategories(got, want, label) {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${label}: categories with a match`);
  for (const [name, w] of Object.entries(want)) {
    if (w.count !== undefined) assert.equal(got[name].count, Number(w.count), `${label}: ${name} count`);
    if (w.values !== undefined) assert.deepEqual(got[name].values, w.values, `${label}: ${name} values`);
  }
}

const skip = wasmSkipReason();

describe('conformance cases through leakscope.wasm', { skip }, () => {
  for (const c of skip ? [] : conformanceCases()) {
    const { doc } = c;
    describe(c.name, () => {
      if (doc.expect?.error) {
        test('the policy fails to load: configure() is false with one error line naming the problem', async () => {
          const host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: pluginConfig(c.policyText) });
          assert.equal(host.startVm(), true);
          const from = host.logs.length;
          assert.equal(host.configure(), false);
          const errors = host.logs.slice(from).filter((l) => l.levelNumber >= 4);
          assert.equal(errors.length, 1, `exactly one error/critical line, got:\n${errors.map((l) => l.message).join('\n')}`);
          for (const s of doc.expect.error) assert.ok(errors[0].message.includes(s), `"${s}" in: ${errors[0].message}`);
        });
        return;
      }

      let host;
      const cli = {};
      before(async () => {
        host = await ProxyWasmHost.load(WASM_PATH, { pluginConfig: pluginConfig(c.policyText) });
        assert.equal(host.startVm(), true);
        assert.equal(host.configure(), true, host.logs.map((l) => `${l.level}: ${l.message}`).join('\n'));
        const { authority, path } = caseTarget(doc);
        for (const d of DIRECTIONS) {
          const dir = doc[d];
          if (!dir || dir.body === undefined || dir.body === null) continue;
          cli[d] = cliScan({
            policyText: c.policyText, policyFile: c.policyFile, contentType: contentTypeOf(dir.headers),
            target: authority + path, direction: d, body: Buffer.from(dir.body),
          });
        }
      });

      for (const chunking of chunkings()) {
        test(chunking.name, () => {
          const { stream, reports } = runTransaction(host, doc, chunking);
          assert.equal(host.trapped, null);
          for (const d of DIRECTIONS) {
            const mine = reports.filter((r) => r.direction === d);
            assert.ok(mine.length <= 1, `at most one ${d} report per transaction, got ${mine.length}`);
            if (!cli[d]) continue;
            assert.equal(mine.length, 1, `one "leakscope report" line for the ${d}`);
            const got = categoriesView(mine[0]);
            checkCategories(got, categoriesView(cli[d].report), `${d} vs CLI`);
            checkCategories(got, doc.expect?.[d] ?? {}, `${d} vs case`);

            const original = Buffer.from(doc[d].body);
            const wantBody = doc.expect?.[`${d}_body`] !== undefined ? Buffer.from(doc.expect[`${d}_body`]) : original;
            const out = d === 'request' ? stream.forwardedRequestBody : stream.forwardedResponseBody;
            assert.equal(out.toString(), wantBody.toString(), `${d} body out of the filter`);
            assert.equal(cli[d].body.toString(), wantBody.toString(), `${d} body out of the CLI`);
            const ended = d === 'request' ? stream.requestEnded : stream.responseEnded;
            assert.ok(ended, `the ${d} reached its end (nothing held back)`);
            const headers = d === 'request' ? stream.forwardedRequestHeaders : stream.forwardedResponseHeaders;
            const cl = headerValue(headers, 'content-length');
            if (cl !== undefined) assert.equal(Number(cl), out.length, `${d} content-length matches the body that leaves`);
          }
          assert.equal(stream.localReply, null);
          assert.equal(stream.reset, false);
        });
      }
    });
  }
});
