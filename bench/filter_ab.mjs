#!/usr/bin/env node
// Compares two builds of leakscope.wasm on the module's own time per request (ProxyWasmHost
// timeGuest), in many short rounds that alternate between them in one process, so that both
// see the same machine: on a shared VM, speed drifts by tens of percent within minutes, which
// separate runs (filter_bench.mjs) cannot tell from a 10 % change. Prints, per module, the
// per-round microseconds per request (min, p10, median) and the paired ratio B/A over rounds.
//
//   node bench/filter_ab.mjs A.wasm B.wasm                  # 1 KiB bodies
//   SIZE=0 node bench/filter_ab.mjs A.wasm B.wasm           # an empty body: the fixed cost
//   SIZE=16384 ROUNDS=100 REQUESTS=50 node bench/filter_ab.mjs A.wasm B.wasm
//
// Bodies are filter_bench.mjs's generated customer records (the same seeds); the policy is the
// shared reference policy, else examples/policies/default.yaml. Plain Node >= 20.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ProxyWasmHost } from '../tests/filter/proxy_wasm_host.mjs';
import { bodyVariants, generateCustomersJson, transaction } from './filter_bench.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [a, b] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node bench/filter_ab.mjs A.wasm B.wasm');
  process.exit(2);
}
const size = Number(process.env.SIZE ?? 1024);
const rounds = Number(process.env.ROUNDS ?? 200);
const requests = Number(process.env.REQUESTS ?? (size === 0 ? 500 : Math.max(10, Math.round(200 * 1024 / Math.max(size, 1024)))));

let policyFile = path.resolve(REPO, '../shared/conformance/reference-policy.yaml');
if (!fs.existsSync(policyFile)) policyFile = path.join(REPO, 'examples/policies/default.yaml');
const policy = fs.readFileSync(policyFile, 'utf8');

// filter_bench.mjs's bodies (seeds 42, 43, ...), or one empty object for SIZE=0.
const bodies = size === 0 ? [Buffer.from('{}')]
  : Array.from({ length: bodyVariants(size) }, (_, i) => Buffer.from(generateCustomersJson(size, 42 + i)));

async function vm(wasm) {
  const host = await ProxyWasmHost.load(wasm, { pluginConfig: JSON.stringify({ local_policy: policy }), timeGuest: true });
  if (!host.startVm() || !host.configure()) throw new Error(`${wasm} did not start: ${host.logs.map((l) => l.message).join('; ')}`);
  return host;
}
function request(host, body) {
  transaction(host, body);
  host.logs.length = 0;
}

const hosts = [await vm(a), await vm(b)];
const next = [0, 0];
// Warm-up: V8 optimises the modules' hot functions in the background.
const warmUntil = Date.now() + 2000;
while (Date.now() < warmUntil) hosts.forEach((h, j) => request(h, bodies[next[j]++ % bodies.length]));
const perRound = [[], []];
for (let r = 0; r < rounds; r++) {
  hosts.forEach((h, j) => {
    const g0 = h.guestNs;
    for (let i = 0; i < requests; i++) request(h, bodies[next[j]++ % bodies.length]);
    perRound[j].push(Number(h.guestNs - g0) / 1e3 / requests);
  });
}
const quantile = (values, p) => { const s = [...values].sort((x, y) => x - y); return s[Math.floor(p * (s.length - 1))]; };
for (const [j, wasm] of [a, b].entries()) {
  const v = perRound[j];
  console.log(`${wasm}: µs per request ${size} B: min ${quantile(v, 0).toFixed(2)}, p10 ${quantile(v, 0.1).toFixed(2)}, ` +
    `median ${quantile(v, 0.5).toFixed(2)} (${rounds} rounds of ${requests})`);
}
const ratio = perRound[1].map((x, i) => x / perRound[0][i]);
console.log(`B/A per round: median ${quantile(ratio, 0.5).toFixed(3)} (p25 ${quantile(ratio, 0.25).toFixed(3)}, ` +
  `p75 ${quantile(ratio, 0.75).toFixed(3)})`);
