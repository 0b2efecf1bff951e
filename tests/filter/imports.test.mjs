// The built leakscope.wasm may import only what Envoy provides (../shared/proxy-wasm-abi.md,
// "Imports the module may use"): one import more and Envoy refuses to load the plugin. It must
// also export what the host looks for.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { ENV_IMPORTS, WASI_IMPORTS } from './proxy_wasm_host.mjs';
import { SHARED, WASM_PATH, allowedImportsFromSpec, wasmSkipReason } from './support.mjs';

const SPEC = path.join(SHARED, 'proxy-wasm-abi.md');

function allowedImports() {
  if (fs.existsSync(SPEC)) {
    const parsed = allowedImportsFromSpec(fs.readFileSync(SPEC, 'utf8'));
    return { ...parsed, source: SPEC };
  }
  // Fallback only when ../shared is not checked out next to the repository: the host's copy of
  // the same lists (proxy_wasm_host.mjs), taken from proxy-wasm-abi.md.
  return { env: new Set(ENV_IMPORTS), wasi: new Set(WASI_IMPORTS), forbidden: new Set(), source: 'proxy_wasm_host.mjs (fallback)' };
}

// The entries of a target_features section: a count, then per feature a prefix ('+' used, '-'
// disallowed, '=' required) and a name, counts and lengths as unsigned LEB128.
function targetFeatures(bytes) {
  let i = 0;
  const leb = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[i++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  const out = [];
  for (let n = leb(); n > 0; n--) {
    const prefix = String.fromCharCode(bytes[i++]);
    const length = leb();
    out.push(prefix + Buffer.from(bytes.subarray(i, i + length)).toString('latin1'));
    i += length;
  }
  return out;
}

const CALLBACKS = [
  'proxy_on_context_create', 'proxy_on_vm_start', 'proxy_on_configure', 'proxy_on_tick',
  'proxy_on_request_headers', 'proxy_on_request_body', 'proxy_on_request_trailers',
  'proxy_on_response_headers', 'proxy_on_response_body', 'proxy_on_response_trailers',
  'proxy_on_http_call_response', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete',
];

describe('leakscope.wasm imports and exports', { skip: wasmSkipReason() }, () => {
  const module = () => new WebAssembly.Module(fs.readFileSync(WASM_PATH));

  test('the spec lists parse as expected', () => {
    const a = allowedImports();
    assert.ok(a.env.size >= 30, `${a.source}: only ${a.env.size} env imports parsed`);
    assert.ok(a.wasi.size >= 10, `${a.source}: only ${a.wasi.size} WASI imports parsed`);
    for (const n of ['proxy_get_configuration', 'proxy_continue_request', 'fd_fdstat_set_flags', 'poll_oneoff', 'sched_yield']) {
      assert.ok(!a.env.has(n) && !a.wasi.has(n), `${n} must not be allowed`);
    }
  });

  test('imports only what Envoy provides under ABI 0.2.1', () => {
    const a = allowedImports();
    const bad = WebAssembly.Module.imports(module()).filter((i) => {
      if (i.kind !== 'function') return true;
      if (i.module === 'env') return !a.env.has(i.name);
      if (i.module === 'wasi_snapshot_preview1') return !a.wasi.has(i.name);
      return true;
    });
    assert.deepEqual(bad.map((i) => `${i.module}.${i.name} (${i.kind})`), [],
      `imports not provided by Envoy (allowed list from ${a.source})`);
  });

  // leakscope.wasm uses SIMD128; leakscope-baseline.wasm (LEAKSCOPE_WASM_BASELINE=1) must not,
  // for runtimes without it. The linker lists the features the code uses in target_features.
  test(process.env.LEAKSCOPE_WASM_BASELINE === '1' ? 'the baseline module uses no SIMD128' : 'the module uses SIMD128', () => {
    const sections = WebAssembly.Module.customSections(module(), 'target_features');
    assert.equal(sections.length, 1, 'a target_features section (wasm-ld writes it)');
    const features = targetFeatures(new Uint8Array(sections[0]));
    assert.ok(features.length > 0, 'features parse');
    if (process.env.LEAKSCOPE_WASM_BASELINE === '1') {
      assert.ok(!features.includes('+simd128'), `baseline module features: ${features.join(' ')}`);
    } else {
      assert.ok(features.includes('+simd128'), `module features: ${features.join(' ')}`);
    }
  });

  test('exports the ABI marker, memory, an allocator, _initialize and the callbacks', () => {
    const exports = new Map(WebAssembly.Module.exports(module()).map((e) => [e.name, e.kind]));
    assert.equal(exports.get('proxy_abi_version_0_2_1'), 'function');
    assert.equal(exports.get('memory'), 'memory');
    assert.equal(exports.get('_initialize'), 'function', 'build as a reactor (-mexec-model=reactor)');
    assert.ok(!exports.has('_start'), 'a command module runs main and destroys its statics before the first callback');
    assert.ok(exports.get('proxy_on_memory_allocate') === 'function' || exports.get('malloc') === 'function',
      'export proxy_on_memory_allocate or malloc');
    const missing = CALLBACKS.filter((c) => exports.get(c) !== 'function');
    assert.deepEqual(missing, [], 'callbacks the host looks for');
  });
});
