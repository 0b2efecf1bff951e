// A Proxy-WASM (ABI 0.2.1) host for tests: runs a real .wasm module in Node's V8 and behaves as
// Envoy (with proxy-wasm-cpp-host) does toward the module. Test fixture, not a product.
//
// The reference is ../../../shared/proxy-wasm-abi.md; where it is silent, Envoy's
// source/extensions/common/wasm/context.cc and proxy-wasm-cpp-host (src/exports.cc,
// src/context.cc) are mirrored. README.md in this directory lists the mapping and the choices.

import fs from 'node:fs';
import { randomFillSync } from 'node:crypto';

// ---------------------------------------------------------------------------------------------
// ABI constants

export const WasmResult = Object.freeze({
  Ok: 0, NotFound: 1, BadArgument: 2, SerializationFailure: 3, ParseFailure: 4, BadExpression: 5,
  InvalidMemoryAccess: 6, Empty: 7, CasMismatch: 8, ResultMismatch: 9, InternalFailure: 10,
  BrokenConnection: 11, Unimplemented: 12,
});
export const LogLevel = Object.freeze({ trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 });
export const LOG_LEVEL_NAMES = Object.freeze(['trace', 'debug', 'info', 'warn', 'error', 'critical']);
export const HeaderMapType = Object.freeze({
  RequestHeaders: 0, RequestTrailers: 1, ResponseHeaders: 2, ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4, GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6, HttpCallResponseTrailers: 7,
});
export const BufferType = Object.freeze({
  HttpRequestBody: 0, HttpResponseBody: 1, NetworkDownstreamData: 2, NetworkUpstreamData: 3,
  HttpCallResponseBody: 4, GrpcReceiveBuffer: 5, VmConfiguration: 6, PluginConfiguration: 7, CallData: 8,
});
export const FilterHeadersStatus = Object.freeze({
  Continue: 0, StopIteration: 1, ContinueAndEndStream: 2, StopAllIterationAndBuffer: 3,
  StopAllIterationAndWatermark: 4,
});
export const FilterDataStatus = Object.freeze({
  Continue: 0, StopIterationAndBuffer: 1, StopIterationAndWatermark: 2, StopIterationNoBuffer: 3,
});
export const FilterTrailersStatus = Object.freeze({ Continue: 0, StopIteration: 1 });
export const MetricType = Object.freeze({ Counter: 0, Gauge: 1, Histogram: 2 });
export const StreamType = Object.freeze({ Request: 0, Response: 1, Downstream: 2, Upstream: 3 });

// The import surface Envoy provides under ABI 0.2.1 (../shared/proxy-wasm-abi.md). The tests parse
// the md file; the host keeps its own copy because it must provide exactly these functions.
export const ENV_IMPORTS = Object.freeze([
  'proxy_log', 'proxy_get_log_level', 'proxy_get_status', 'proxy_set_property', 'proxy_get_property',
  'proxy_send_local_response', 'proxy_get_shared_data', 'proxy_set_shared_data',
  'proxy_register_shared_queue', 'proxy_resolve_shared_queue', 'proxy_dequeue_shared_queue',
  'proxy_enqueue_shared_queue', 'proxy_get_header_map_value', 'proxy_add_header_map_value',
  'proxy_replace_header_map_value', 'proxy_remove_header_map_value', 'proxy_get_header_map_pairs',
  'proxy_set_header_map_pairs', 'proxy_get_header_map_size', 'proxy_get_buffer_status',
  'proxy_get_buffer_bytes', 'proxy_set_buffer_bytes', 'proxy_http_call', 'proxy_grpc_call',
  'proxy_grpc_stream', 'proxy_grpc_close', 'proxy_grpc_cancel', 'proxy_grpc_send',
  'proxy_set_tick_period_milliseconds', 'proxy_get_current_time_nanoseconds', 'proxy_define_metric',
  'proxy_increment_metric', 'proxy_record_metric', 'proxy_get_metric', 'proxy_set_effective_context',
  'proxy_done', 'proxy_call_foreign_function', 'proxy_continue_stream', 'proxy_close_stream',
]);
export const WASI_IMPORTS = Object.freeze([
  'fd_write', 'fd_read', 'fd_seek', 'fd_close', 'fd_fdstat_get', 'environ_get', 'environ_sizes_get',
  'args_get', 'args_sizes_get', 'clock_time_get', 'random_get', 'proc_exit', 'path_open',
  'fd_prestat_get', 'fd_prestat_dir_name',
]);

// Host calls V8/Envoy allow while `_initialize` runs static constructors (the ABI doc: "Logging is
// allowed"); any other proxy_* call there traps and the plugin fails to load.
const ALLOWED_DURING_INITIALIZE = new Set(['proxy_log', 'proxy_get_log_level']);

const WASI_ESUCCESS = 0;
const WASI_EBADF = 8;
const WASI_EFAULT = 21;
const WASI_EINVAL = 28;
const WASI_ENOENT = 44;
const WASI_ENOSYS = 52;
const WASI_ENOTSUP = 58;
const RANDOM_GET_MAX = 64 * 1024;

const EMPTY = Buffer.alloc(0);
const MONO_START = process.hrtime.bigint();

// ---------------------------------------------------------------------------------------------
// Errors

export class WasmTrapError extends Error {
  constructor(callback, cause) {
    super(`wasm trap in ${callback}: ${cause && cause.message ? cause.message : cause}`);
    this.name = 'WasmTrapError';
    this.callback = callback;
    this.cause = cause;
  }
}

export class VmFailedError extends Error {
  constructor(trap) {
    super(`the VM failed earlier (${trap.error.message}); Envoy makes no further calls into it`);
    this.name = 'VmFailedError';
    this.trap = trap;
  }
}

// A host call the host refuses by trapping (as V8/Envoy do for restricted calls).
class HostRestriction extends Error {
  constructor(message) {
    super(message);
    this.name = 'HostRestriction';
  }
}

class ProcExit extends Error {
  constructor(code) {
    super(`proc_exit(${code})`);
    this.name = 'ProcExit';
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

export function toBytes(x) {
  if (x === undefined || x === null) return EMPTY;
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof Uint8Array) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  return Buffer.from(String(x), 'utf8');
}

// Envoy's pair serialisation: u32 count, (u32 key_len, u32 value_len) per pair, then key\0 value\0.
export function serializePairs(pairs) {
  const enc = pairs.map(([k, v]) => [toBytes(k), toBytes(v)]);
  let size = 4 + 8 * enc.length;
  for (const [k, v] of enc) size += k.length + v.length + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(enc.length, 0);
  let p = 4;
  for (const [k, v] of enc) {
    out.writeUInt32LE(k.length, p);
    out.writeUInt32LE(v.length, p + 4);
    p += 8;
  }
  for (const [k, v] of enc) {
    k.copy(out, p); p += k.length; out[p++] = 0;
    v.copy(out, p); p += v.length; out[p++] = 0;
  }
  return out;
}

// Returns {pairs, ok}. Like proxy-wasm-cpp-host's toPairs, an input shorter than 4 bytes is an
// empty list; a malformed one yields no pairs (ok=false lets the host record a warning).
export function deserializePairs(buf) {
  if (buf.length < 4) return { pairs: [], ok: buf.length === 0 };
  const n = buf.readUInt32LE(0);
  if (4 + n * 8 > buf.length) return { pairs: [], ok: false };
  const lens = [];
  let p = 4;
  for (let i = 0; i < n; i++, p += 8) lens.push([buf.readUInt32LE(p), buf.readUInt32LE(p + 4)]);
  const pairs = [];
  for (const [kl, vl] of lens) {
    if (p + kl + 1 + vl + 1 > buf.length) return { pairs: [], ok: false };
    const k = buf.toString('utf8', p, p + kl); p += kl + 1;
    const v = buf.toString('utf8', p, p + vl); p += vl + 1;
    pairs.push([k, v]);
  }
  return { pairs, ok: true };
}

// Accepts [[k, v], ...] or {k: v | [v1, v2]}; keys are lower-cased as Envoy's header maps do.
export function normalizeHeaders(h) {
  if (!h) return [];
  const out = [];
  const entries = Array.isArray(h) ? h : Object.entries(h);
  for (const [k, v] of entries) {
    if (Array.isArray(v)) for (const x of v) out.push([String(k).toLowerCase(), String(x)]);
    else out.push([String(k).toLowerCase(), String(v)]);
  }
  return out;
}

function headerGet(map, key) {
  const k = key.toLowerCase();
  for (const [hk, hv] of map) if (hk === k) return hv;
  return undefined;
}

function levelNumber(level) {
  if (typeof level === 'number') return level;
  const n = LogLevel[String(level).toLowerCase()];
  if (n === undefined) throw new Error(`unknown log level ${level}`);
  return n;
}

function encodeProperty(v) {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || Buffer.isBuffer(v) || v instanceof Uint8Array) return toBytes(v);
  if (typeof v === 'boolean') return Buffer.from([v ? 1 : 0]);
  if (typeof v === 'bigint') {
    const b = Buffer.alloc(8);
    if (v < 0n) b.writeBigInt64LE(v); else b.writeBigUInt64LE(v);
    return b;
  }
  if (typeof v === 'number') {
    const b = Buffer.alloc(8);
    if (Number.isInteger(v)) b.writeBigInt64LE(BigInt(v)); else b.writeDoubleLE(v);
    return b;
  }
  if (Array.isArray(v)) return serializePairs(v);
  if (typeof v === 'object') return serializePairs(Object.entries(v));
  return toBytes(String(v));
}

// Property paths travel as NUL-separated segments ("request\0path"); keys given to the host as
// dotted strings ("request.path") are stored in that form.
function propertyKey(dotted) {
  return dotted.split('.').join('\0');
}

function propertyMap(obj) {
  const m = new Map();
  for (const [k, v] of Object.entries(obj || {})) m.set(propertyKey(k), v);
  return m;
}

// ---------------------------------------------------------------------------------------------
// The host

export class ProxyWasmHost {
  static #modules = new Map();

  // Compiles (and caches by path and mtime) a module.
  static async compile(wasmPath) {
    const st = fs.statSync(wasmPath);
    const key = `${wasmPath}:${st.mtimeMs}:${st.size}`;
    let m = ProxyWasmHost.#modules.get(key);
    if (!m) {
      m = await WebAssembly.compile(fs.readFileSync(wasmPath));
      ProxyWasmHost.#modules.set(key, m);
    }
    return m;
  }

  /**
   * Options: pluginConfig, vmConfig (string|Buffer), logLevel ('info'), now (() => BigInt ns),
   * clusters (names proxy_http_call may target; '*' for any), bufferLimit (per-stream buffer
   * limit, 1 MiB), allowOnHeadersStopIteration (Envoy's PluginConfig field, default false),
   * properties (root-level properties, dotted keys), streamProperties (defaults for every
   * stream), env (WASI environment), sharedData / sharedQueues (to share between hosts, like VMs
   * of one Envoy), vmId, rootId, echoLogs (print guest logs to stderr; also env PROXY_WASM_HOST_ECHO=1).
   */
  static async load(wasmPath, options = {}) {
    const module = wasmPath instanceof WebAssembly.Module ? wasmPath : await ProxyWasmHost.compile(wasmPath);
    const host = new ProxyWasmHost(module, options);
    host.#instantiate();
    return host;
  }

  constructor(module, {
    pluginConfig = '', vmConfig = '', logLevel = 'info', now = () => BigInt(Date.now()) * 1000000n,
    clusters = [], bufferLimit = 1024 * 1024, allowOnHeadersStopIteration = false,
    properties = {}, streamProperties = {}, env = {}, sharedData, sharedQueues,
    vmId = '', rootId = '', echoLogs = process.env.PROXY_WASM_HOST_ECHO === '1', timeGuest = false,
  } = {}) {
    this.module = module;
    this.pluginConfig = toBytes(pluginConfig);
    this.vmConfig = toBytes(vmConfig);
    this.logLevel = levelNumber(logLevel);
    this.now = now;
    this.clusters = clusters === '*' ? '*' : new Set(clusters);
    this.bufferLimit = bufferLimit;
    this.allowOnHeadersStopIteration = allowOnHeadersStopIteration;
    this.vmId = vmId;
    this.rootIdName = rootId;
    this.properties = propertyMap({
      plugin_name: 'leakscope', plugin_root_id: rootId, plugin_vm_id: vmId,
      'node.id': 'test-node', 'node.cluster': 'test-cluster', ...properties,
    });
    this.streamPropertyDefaults = {
      'source.address': '192.0.2.10:40000', 'source.port': 40000,
      'destination.address': '192.0.2.20:8080', 'destination.port': 8080,
      'request.protocol': 'HTTP/1.1', 'connection.mtls': false, ...streamProperties,
    };
    this.env = Object.entries(env).map(([k, v]) => Buffer.from(`${k}=${v}\0`, 'utf8'));
    this.echoLogs = echoLogs;
    // timeGuest: account wall time in callbacks (guestNs: outermost callbacks, minus the time
    // spent in this host's imports during them) so that benchmarks can tell the module's own
    // cost from this JavaScript host's, which Envoy's C++ host does not have.
    this.timeGuest = timeGuest;
    this.callbackNs = 0n;
    this.importNs = 0n;

    this.sharedData = sharedData ?? { map: new Map(), cas: 0 };
    this.sharedQueues = sharedQueues ?? { byName: new Map(), byToken: new Map(), next: 1 };

    this.rootId = 1;
    this.nextContextId = 2;
    this.streams = new Map();
    this.logs = [];
    this.metrics = new Map();
    this.metricIds = new Map();
    this.nextMetricIndex = 1;
    this.httpCalls = [];
    this.nextHttpCallToken = 1;
    this.httpCallLog = [];
    this.tickPeriodMs = 0;
    this.status = { code: 0, message: '' };
    this.trapped = null;
    this.warnings = [];
    this.hostCalls = new Map();
    this.rootPendingDone = false;
    this.rootDeleted = false;

    this._stack = [];
    this._afterCall = [];
    this._initializing = false;
    this._servingVmConfig = false;
    this._servingPluginConfig = false;
    this._httpCallResponse = null;
  }

  // ---- module set-up ----

  #instantiate() {
    const imports = WebAssembly.Module.imports(this.module);
    const bad = imports.filter((i) => !(i.kind === 'function' && (
      (i.module === 'env' && ENV_IMPORTS.includes(i.name)) ||
      (i.module === 'wasi_snapshot_preview1' && WASI_IMPORTS.includes(i.name)))));
    if (bad.length) {
      throw new Error('the module imports what Envoy does not provide (it would fail to load): ' +
        bad.map((i) => `${i.module}.${i.name} (${i.kind})`).join(', '));
    }
    const exportNames = new Set(WebAssembly.Module.exports(this.module).map((e) => e.name));
    if (!exportNames.has('proxy_abi_version_0_2_1')) {
      throw new Error('the module does not export proxy_abi_version_0_2_1: Envoy cannot select ABI 0.2.1');
    }
    if (!exportNames.has('memory')) throw new Error('the module does not export its memory');
    if (!exportNames.has('malloc') && !exportNames.has('proxy_on_memory_allocate')) {
      throw new Error('Wasm module is missing malloc function (export malloc or proxy_on_memory_allocate)');
    }

    const instance = new WebAssembly.Instance(this.module, {
      env: this.#timedImports(this.#envImports()),
      wasi_snapshot_preview1: this.#timedImports(this.#wasiImports()),
    });
    this.instance = instance;
    this.exports = instance.exports;
    this.memory = instance.exports.memory;
    // proxy-wasm-cpp-host prefers malloc and falls back to proxy_on_memory_allocate.
    this._malloc = instance.exports.malloc ?? instance.exports.proxy_on_memory_allocate;

    this._initializing = true;
    try {
      if (this.exports._initialize) {
        this.#invoke(0, '_initialize');
        if (typeof this.exports.main === 'function') {
          const r = this.#invoke(0, 'main', 0, 0);
          if (r !== 0) throw new Error(`main() returned ${r}: Envoy fails the VM`);
        }
      } else if (this.exports._start) {
        this.warnings.push('module has _start but no _initialize: it is a command, not a reactor');
        this.#invoke(0, '_start');
      }
    } finally {
      this._initializing = false;
    }
    this.#drainAfterCall();
  }

  get memoryBytes() { return this.memory.buffer.byteLength; }

  // ---- calls into the guest ----

  // Wall time in the module's own code: outermost callbacks minus the host calls they make.
  get guestNs() { return this.callbackNs - this.importNs; }

  // With timeGuest, each import adds its wall time to importNs (a host call into the guest, such
  // as malloc for a returned buffer, counts as the host's).
  #timedImports(imports) {
    if (!this.timeGuest) return imports;
    const timed = {};
    for (const [name, fn] of Object.entries(imports)) {
      timed[name] = (...args) => {
        const t0 = process.hrtime.bigint();
        try {
          return fn(...args);
        } finally {
          this.importNs += process.hrtime.bigint() - t0;
        }
      };
    }
    return timed;
  }

  #invoke(contextId, name, ...args) {
    if (this.trapped) throw new VmFailedError(this.trapped);
    const fn = this.exports[name];
    if (typeof fn !== 'function') return undefined;
    const outermost = this.timeGuest && this._stack.length === 0;
    const t0 = outermost ? process.hrtime.bigint() : 0n;
    this._stack.push({ contextId, effective: 0 });
    try {
      return fn(...args);
    } catch (e) {
      if (!this.trapped) {
        // kind: 'wasm' (a trap in guest code), 'proc_exit', 'restricted' (a host call refused by
        // trapping), or 'host' (an exception from this file's own code: a bug in the fixture).
        const kind = e instanceof WebAssembly.RuntimeError ? 'wasm' : e instanceof ProcExit ? 'proc_exit'
          : e instanceof HostRestriction ? 'restricted' : e instanceof WasmTrapError || e instanceof VmFailedError ? 'wasm' : 'host';
        this.trapped = { error: e, callback: name, contextId, kind };
        this.logs.push({ level: 'critical', levelNumber: 5, message: `[host] wasm trap in ${name}: ${e.message}`, contextId, host: true });
      }
      throw e instanceof WasmTrapError ? e : new WasmTrapError(name, e);
    } finally {
      this._stack.pop();
      if (outermost) this.callbackNs += process.hrtime.bigint() - t0;
    }
  }

  // Context a host call acts on: proxy_set_effective_context's choice, else the callback's.
  #ctxId() {
    const top = this._stack[this._stack.length - 1];
    if (!top) return this.rootId;
    return top.effective || top.contextId;
  }

  #stream() {
    return this.streams.get(this.#ctxId()) ?? null;
  }

  #count(name) {
    this.hostCalls.set(name, (this.hostCalls.get(name) ?? 0) + 1);
    if (this._initializing && name.startsWith('proxy_') && !ALLOWED_DURING_INITIALIZE.has(name)) {
      throw new HostRestriction(`${name} called from _initialize (a static constructor): V8 traps restricted host calls there`);
    }
  }

  // ---- guest memory ----

  #u8() { return new Uint8Array(this.memory.buffer); }

  #read(ptr, len) {
    ptr >>>= 0; len >>>= 0;
    const m = this.#u8();
    if (ptr + len > m.length) return null;
    return Buffer.from(m.subarray(ptr, ptr + len)); // copies
  }

  #writeU32(ptr, v) {
    ptr >>>= 0;
    if (ptr + 4 > this.memory.buffer.byteLength) return false;
    new DataView(this.memory.buffer).setUint32(ptr, v >>> 0, true);
    return true;
  }

  #writeU64(ptr, v) {
    ptr >>>= 0;
    if (ptr + 8 > this.memory.buffer.byteLength) return false;
    new DataView(this.memory.buffer).setBigUint64(ptr, BigInt.asUintN(64, BigInt(v)), true);
    return true;
  }

  #writeBytes(ptr, bytes) {
    ptr >>>= 0;
    const m = this.#u8();
    if (ptr + bytes.length > m.length) return false;
    m.set(bytes, ptr);
    return true;
  }

  // Allocates in the guest (malloc or proxy_on_memory_allocate); 0 on failure.
  #alloc(size) {
    return this._malloc(size) >>> 0;
  }

  // proxy-wasm-cpp-host's copyToPointerSize: empty data writes (0, 0) without allocating.
  #copyOut(bytes, ptrPtr, sizePtr) {
    let p = 0;
    if (bytes.length > 0) {
      p = this.#alloc(bytes.length);
      if (p === 0) return false;
      if (!this.#writeBytes(p, bytes)) return false;
    }
    return this.#writeU32(ptrPtr, p) && this.#writeU32(sizePtr, bytes.length);
  }

  // ---- logging ----

  #log(level, message, contextId) {
    if (level < this.logLevel) return;
    const entry = { level: LOG_LEVEL_NAMES[level], levelNumber: level, message, contextId };
    this.logs.push(entry);
    if (this.echoLogs) process.stderr.write(`[wasm ${entry.level}] ${message}\n`);
  }

  // ---- after-VM-call actions (Envoy defers local replies, continue and close until the VM call
  // returns) ----

  #defer(action) { this._afterCall.push(action); }

  #takeAfterCall() {
    const a = this._afterCall;
    this._afterCall = [];
    return a;
  }

  #drainAfterCall() {
    while (this._afterCall.length) this.#apply(this._afterCall.shift());
  }

  #apply(a) {
    switch (a.kind) {
      case 'localReply': a.stream._sendLocalReply(a.reply); break;
      case 'close': a.stream._reset(`wasm_close_stream (${a.dir})`, true); break;
      case 'continue': a.stream._release(a.dir === 'request' ? a.stream._req : a.stream._resp); break;
      case 'queueReady':
        if (!this.rootDeleted && this.exports.proxy_on_queue_ready) {
          this.#invoke(this.rootId, 'proxy_on_queue_ready', this.rootId, a.token);
        }
        break;
      case 'rootDelete':
        if (!this.rootDeleted) {
          this.rootDeleted = true;
          this.#invoke(this.rootId, 'proxy_on_delete', this.rootId);
        }
        break;
      default: throw new Error(`unknown action ${a.kind}`);
    }
  }

  // Runs a stream callback the way Envoy's filter manager sees it: after-call actions that end
  // the stream (local reply, close) apply before the returned status, continue_stream after it.
  _streamCallback(stream, name, args, applyStatus) {
    const r = this.#invoke(stream.id, name, ...args);
    const actions = this.#takeAfterCall();
    const later = [];
    for (const a of actions) (a.kind === 'continue' ? later : this._afterCall).push(a);
    this.#drainAfterCall();
    applyStatus(r === undefined ? 0 : r >>> 0);
    for (const a of later) this.#apply(a);
    this.#drainAfterCall();
    return r === undefined ? 0 : r >>> 0;
  }

  _invokeForStream(stream, name, ...args) {
    const r = this.#invoke(stream.id, name, ...args);
    this.#drainAfterCall();
    return r;
  }

  // ---- root context lifecycle ----

  // proxy_on_context_create(root, 0) then proxy_on_vm_start(root, vm_config_size).
  startVm() {
    this.#invoke(this.rootId, 'proxy_on_context_create', this.rootId, 0);
    this.#drainAfterCall();
    return this.#rootCallServing('_servingVmConfig', 'proxy_on_vm_start', this.vmConfig.length);
  }

  configure() {
    return this.#rootCallServing('_servingPluginConfig', 'proxy_on_configure', this.pluginConfig.length);
  }

  // Calls the root context's `fn` while `flag` is set (the configuration buffer it may read is
  // served only during the call, as in Envoy); true unless it returned 0.
  #rootCallServing(flag, fn, size) {
    this[flag] = true;
    let r;
    try {
      r = this.#invoke(this.rootId, fn, this.rootId, size);
    } finally {
      this[flag] = false;
    }
    this.#drainAfterCall();
    return r === undefined ? true : r !== 0;
  }

  // Calls proxy_on_tick if the module set a tick period; returns whether it did.
  tick() {
    if (this.trapped) throw new VmFailedError(this.trapped);
    if (!(this.tickPeriodMs > 0)) return false;
    this.#invoke(this.rootId, 'proxy_on_tick', this.rootId);
    this.#drainAfterCall();
    return true;
  }

  // VM shutdown: proxy_on_done(root); when it returns false Envoy waits for proxy_done().
  shutdown() {
    const r = this.#invoke(this.rootId, 'proxy_on_done', this.rootId);
    this.#drainAfterCall();
    if (r === 0) { this.rootPendingDone = true; return false; }
    this.#apply({ kind: 'rootDelete' });
    return true;
  }

  // properties: per-stream properties (dotted keys) that override what the host derives;
  // bufferLimit: this stream's buffer limit (default: the host's).
  newHttpStream({ properties = {}, bufferLimit = this.bufferLimit } = {}) {
    const id = this.nextContextId++;
    const s = new HttpStream(this, id, properties, bufferLimit);
    this.streams.set(id, s);
    this.#invoke(id, 'proxy_on_context_create', id, this.rootId);
    this.#drainAfterCall();
    return s;
  }

  // ---- HTTP callouts ----

  respondToHttpCall(token, { headers = [[':status', '200']], body = '', trailers = [] } = {}) {
    const i = this.httpCalls.findIndex((c) => c.token === token);
    if (i < 0) throw new Error(`no pending http call with token ${token}`);
    this.httpCalls.splice(i, 1);
    const h = normalizeHeaders(headers);
    const b = toBytes(body);
    const t = normalizeHeaders(trailers);
    this._httpCallResponse = { headers: h, body: b, trailers: t };
    try {
      this.#invoke(this.rootId, 'proxy_on_http_call_response', this.rootId, token, h.length, b.length, t.length);
    } finally {
      this._httpCallResponse = null;
    }
    this.#drainAfterCall();
  }

  // Unreachable cluster / reset: Envoy sets the status to BrokenConnection "reset" and calls back
  // with no headers, body or trailers.
  failHttpCall(token) {
    const i = this.httpCalls.findIndex((c) => c.token === token);
    if (i < 0) throw new Error(`no pending http call with token ${token}`);
    this.httpCalls.splice(i, 1);
    this.status = { code: WasmResult.BrokenConnection, message: 'reset' };
    this.#invoke(this.rootId, 'proxy_on_http_call_response', this.rootId, token, 0, 0, 0);
    this.#drainAfterCall();
  }

  // ---- introspection helpers for tests ----

  logsAtLeast(level) {
    const n = levelNumber(level);
    return this.logs.filter((l) => l.levelNumber >= n);
  }

  metric(name) { return this.metrics.get(name); }

  // ---- header maps and buffers as the current context sees them ----

  // Read access (Envoy's getConstMap). Returns an array of pairs or null when not available.
  #constMap(type) {
    const s = this.#stream();
    switch (type) {
      case HeaderMapType.RequestHeaders:
      case HeaderMapType.RequestTrailers:
      case HeaderMapType.ResponseHeaders:
      case HeaderMapType.ResponseTrailers: {
        if (!s) return null;
        const dir = type < 2 ? s._req : s._resp;
        const trailers = type === 1 || type === 3;
        if (s._logPhase) {
          if (type === HeaderMapType.RequestTrailers) return null;
          return trailers ? (dir.forwardedTrailers ?? dir.trailers) : (dir.forwardedHeaders ?? dir.headers);
        }
        return trailers ? (dir.trailersLive ? dir.trailers : null) : (dir.headersLive ? dir.headers : null);
      }
      case HeaderMapType.HttpCallResponseHeaders: return this._httpCallResponse?.headers ?? null;
      case HeaderMapType.HttpCallResponseTrailers: return this._httpCallResponse?.trailers ?? null;
      default: return null;
    }
  }

  // Write access (Envoy's getMap): only a live request/response map of the current stream.
  #mutMap(type) {
    const s = this.#stream();
    if (!s || type > HeaderMapType.ResponseTrailers) return null;
    const dir = type < 2 ? s._req : s._resp;
    if (type === HeaderMapType.RequestHeaders || type === HeaderMapType.ResponseHeaders) {
      return dir.headersLive ? dir.headers : null;
    }
    if (dir.trailersLive) return dir.trailers;
    // Envoy adds trailers when asked for them in the last body callback of a stream without any.
    if (dir.cur && dir.curEndOfStream && !dir.trailers && !s._logPhase) {
      dir.trailers = [];
      dir.trailersLive = true;
      dir.trailersAddedByFilter = true;
      return dir.trailers;
    }
    return null;
  }

  // Envoy's getBuffer: null (NotFound), or {data, mutable, ref}.
  #buffer(type) {
    switch (type) {
      case BufferType.HttpRequestBody:
      case BufferType.HttpResponseBody: {
        const s = this.#stream();
        if (!s) return { data: EMPTY, mutable: false };
        const dir = type === 0 ? s._req : s._resp;
        if (dir.cur) return { data: dir.cur.data, mutable: true, ref: dir.cur };
        if (dir.filterBuffering) return { data: dir.held.data, mutable: true, ref: dir.held };
        return { data: EMPTY, mutable: false };
      }
      case BufferType.NetworkDownstreamData:
      case BufferType.NetworkUpstreamData:
      case BufferType.GrpcReceiveBuffer:
        return { data: EMPTY, mutable: false };
      case BufferType.HttpCallResponseBody:
        return this._httpCallResponse ? { data: this._httpCallResponse.body, mutable: false } : null;
      case BufferType.VmConfiguration:
        return this._servingVmConfig ? { data: this.vmConfig, mutable: false } : null;
      case BufferType.PluginConfiguration:
        return this._servingPluginConfig ? { data: this.pluginConfig, mutable: false } : null;
      default:
        return null;
    }
  }

  // ---- properties ----

  #getProperty(key) {
    const s = this.#stream();
    if (s) {
      const v = s._property(key);
      if (v !== undefined) return encodeProperty(v);
    }
    if (this.properties.has(key)) return encodeProperty(this.properties.get(key));
    return undefined;
  }

  // ---- metrics ----

  #metricById(id) { return this.metricIds.get(id >>> 0); }

  // ---------------------------------------------------------------------------------------------
  // env.proxy_* imports

  #envImports() {
    const R = WasmResult;
    const h = this;
    const imports = {
      proxy_log(level, ptr, size) {
        h.#count('proxy_log');
        if (level >>> 0 > 5) return R.BadArgument;
        const msg = h.#read(ptr, size);
        if (!msg) return R.InvalidMemoryAccess;
        h.#log(level >>> 0, msg.toString('utf8'), h.#ctxId());
        return R.Ok;
      },
      proxy_get_log_level(retPtr) {
        h.#count('proxy_get_log_level');
        return h.#writeU32(retPtr, h.logLevel) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_get_status(codePtr, msgPtrPtr, msgSizePtr) {
        h.#count('proxy_get_status');
        if (!h.#writeU32(codePtr, h.status.code)) return R.InvalidMemoryAccess;
        return h.#copyOut(toBytes(h.status.message), msgPtrPtr, msgSizePtr) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_set_property(pathPtr, pathSize, valPtr, valSize) {
        h.#count('proxy_set_property');
        const path = h.#read(pathPtr, pathSize);
        const value = h.#read(valPtr, valSize);
        if (!path || !value) return R.InvalidMemoryAccess;
        const s = h.#stream();
        if (!s) return R.NotFound; // no stream info on a root context
        s.setProperties.set(path.toString('utf8'), value);
        return R.Ok;
      },
      proxy_get_property(pathPtr, pathSize, retPtrPtr, retSizePtr) {
        h.#count('proxy_get_property');
        const path = h.#read(pathPtr, pathSize);
        if (!path) return R.InvalidMemoryAccess;
        let key = path.toString('utf8');
        if (key.endsWith('\0')) key = key.slice(0, -1);
        const v = h.#getProperty(key);
        if (v === undefined) return R.NotFound;
        return h.#copyOut(v, retPtrPtr, retSizePtr) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_send_local_response(status, detPtr, detSize, bodyPtr, bodySize, hdrPtr, hdrSize, grpcStatus) {
        h.#count('proxy_send_local_response');
        const details = h.#read(detPtr, detSize);
        const body = h.#read(bodyPtr, bodySize);
        const hdrs = h.#read(hdrPtr, hdrSize);
        if (!details || !body || !hdrs) return R.InvalidMemoryAccess;
        const { pairs, ok } = deserializePairs(hdrs);
        if (!ok) h.warnings.push('proxy_send_local_response: malformed header pairs (Envoy adds none)');
        const s = h.#stream();
        if (s) {
          s._nextIterationStopped = true;
          h.#defer({
            kind: 'localReply', stream: s,
            reply: {
              status: status >>> 0, details: details.toString('utf8'), body: body.toString('utf8'), bodyBytes: body,
              headers: normalizeHeaders(pairs), grpcStatus: grpcStatus | 0,
            },
          });
        } else {
          h.warnings.push('proxy_send_local_response outside an HTTP stream context: ignored (no decoder callbacks)');
        }
        return R.Ok;
      },
      proxy_get_shared_data(keyPtr, keySize, valPtrPtr, valSizePtr, casPtr) {
        h.#count('proxy_get_shared_data');
        const key = h.#read(keyPtr, keySize);
        if (!key) return R.InvalidMemoryAccess;
        const e = h.sharedData.map.get(`${h.vmId}\0${key.toString('utf8')}`);
        if (!e) return R.NotFound;
        if (!h.#copyOut(e.value, valPtrPtr, valSizePtr)) return R.InvalidMemoryAccess;
        return h.#writeU32(casPtr, e.cas) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_set_shared_data(keyPtr, keySize, valPtr, valSize, cas) {
        h.#count('proxy_set_shared_data');
        const key = h.#read(keyPtr, keySize);
        const value = h.#read(valPtr, valSize);
        if (!key || !value) return R.InvalidMemoryAccess;
        const k = `${h.vmId}\0${key.toString('utf8')}`;
        const e = h.sharedData.map.get(k);
        cas >>>= 0;
        if (e && cas !== 0 && cas !== e.cas) return R.CasMismatch;
        h.sharedData.cas = (h.sharedData.cas + 1) >>> 0 || 1;
        h.sharedData.map.set(k, { value, cas: h.sharedData.cas });
        return R.Ok;
      },
      proxy_register_shared_queue(namePtr, nameSize, tokenPtr) {
        h.#count('proxy_register_shared_queue');
        const name = h.#read(namePtr, nameSize);
        if (!name) return R.InvalidMemoryAccess;
        const k = `${h.vmId}\0${name.toString('utf8')}`;
        let q = h.sharedQueues.byName.get(k);
        if (!q) {
          q = { token: h.sharedQueues.next++, items: [], host: h };
          h.sharedQueues.byName.set(k, q);
          h.sharedQueues.byToken.set(q.token, q);
        }
        q.host = h; // on_queue_ready goes to the registering VM's root context
        return h.#writeU32(tokenPtr, q.token) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_resolve_shared_queue(vmPtr, vmSize, namePtr, nameSize, tokenPtr) {
        h.#count('proxy_resolve_shared_queue');
        const vm = h.#read(vmPtr, vmSize);
        const name = h.#read(namePtr, nameSize);
        if (!vm || !name) return R.InvalidMemoryAccess;
        const vmId = vm.length ? vm.toString('utf8') : h.vmId;
        const q = h.sharedQueues.byName.get(`${vmId}\0${name.toString('utf8')}`);
        if (!q) return R.NotFound;
        return h.#writeU32(tokenPtr, q.token) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_dequeue_shared_queue(token, dataPtrPtr, dataSizePtr) {
        h.#count('proxy_dequeue_shared_queue');
        const q = h.sharedQueues.byToken.get(token >>> 0);
        if (!q) return R.NotFound;
        if (!q.items.length) return R.Empty;
        const item = q.items.shift();
        return h.#copyOut(item, dataPtrPtr, dataSizePtr) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_enqueue_shared_queue(token, dataPtr, dataSize) {
        h.#count('proxy_enqueue_shared_queue');
        const data = h.#read(dataPtr, dataSize);
        if (!data) return R.InvalidMemoryAccess;
        const q = h.sharedQueues.byToken.get(token >>> 0);
        if (!q) return R.NotFound;
        q.items.push(data);
        q.host.#defer({ kind: 'queueReady', token: q.token });
        return R.Ok;
      },
      proxy_get_header_map_value(type, keyPtr, keySize, valPtrPtr, valSizePtr) {
        h.#count('proxy_get_header_map_value');
        if (type >>> 0 > 7) return R.BadArgument;
        const key = h.#read(keyPtr, keySize);
        if (!key) return R.InvalidMemoryAccess;
        const map = h.#constMap(type >>> 0);
        if (!map) return h.#stream()?._logPhase ? R.NotFound : R.BadArgument;
        const v = headerGet(map, key.toString('utf8'));
        if (v === undefined) return R.NotFound;
        return h.#copyOut(toBytes(v), valPtrPtr, valSizePtr) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_add_header_map_value(type, keyPtr, keySize, valPtr, valSize) {
        h.#count('proxy_add_header_map_value');
        if (type >>> 0 > 7) return R.BadArgument;
        const key = h.#read(keyPtr, keySize);
        const value = h.#read(valPtr, valSize);
        if (!key || !value) return R.InvalidMemoryAccess;
        const map = h.#mutMap(type >>> 0);
        if (!map) return R.BadArgument;
        map.push([key.toString('utf8').toLowerCase(), value.toString('utf8')]);
        return R.Ok;
      },
      proxy_replace_header_map_value(type, keyPtr, keySize, valPtr, valSize) {
        h.#count('proxy_replace_header_map_value');
        if (type >>> 0 > 7) return R.BadArgument;
        const key = h.#read(keyPtr, keySize);
        const value = h.#read(valPtr, valSize);
        if (!key || !value) return R.InvalidMemoryAccess;
        const map = h.#mutMap(type >>> 0);
        if (!map) return R.BadArgument;
        const k = key.toString('utf8').toLowerCase();
        const first = map.findIndex(([mk]) => mk === k);
        if (first < 0) {
          map.push([k, value.toString('utf8')]);
        } else {
          map[first] = [k, value.toString('utf8')];
          for (let i = map.length - 1; i > first; i--) if (map[i][0] === k) map.splice(i, 1);
        }
        return R.Ok;
      },
      proxy_remove_header_map_value(type, keyPtr, keySize) {
        h.#count('proxy_remove_header_map_value');
        if (type >>> 0 > 7) return R.BadArgument;
        const key = h.#read(keyPtr, keySize);
        if (!key) return R.InvalidMemoryAccess;
        const map = h.#mutMap(type >>> 0);
        if (!map) return R.BadArgument;
        const k = key.toString('utf8').toLowerCase();
        for (let i = map.length - 1; i >= 0; i--) if (map[i][0] === k) map.splice(i, 1);
        return R.Ok;
      },
      proxy_get_header_map_pairs(type, ptrPtr, sizePtr) {
        h.#count('proxy_get_header_map_pairs');
        if (type >>> 0 > 7) return R.BadArgument;
        // Envoy answers an unavailable map with an empty list, not an error.
        const map = h.#constMap(type >>> 0) ?? [];
        const bytes = map.length ? serializePairs(map) : EMPTY;
        return h.#copyOut(bytes, ptrPtr, sizePtr) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_set_header_map_pairs(type, ptr, size) {
        h.#count('proxy_set_header_map_pairs');
        if (type >>> 0 > 7) return R.BadArgument;
        const data = h.#read(ptr, size);
        if (!data) return R.InvalidMemoryAccess;
        const map = h.#mutMap(type >>> 0);
        if (!map) return R.BadArgument;
        const { pairs, ok } = deserializePairs(data);
        if (!ok) h.warnings.push('proxy_set_header_map_pairs: malformed pairs; Envoy clears the map');
        map.splice(0, map.length, ...normalizeHeaders(pairs));
        return R.Ok;
      },
      proxy_get_header_map_size(type, sizePtr) {
        h.#count('proxy_get_header_map_size');
        if (type >>> 0 > 7) return R.BadArgument;
        const map = h.#mutMap(type >>> 0);
        if (!map) return R.BadArgument;
        // Envoy answers HeaderMap::byteSize(): the sum of key and value lengths.
        let size = 0;
        for (const [k, v] of map) size += Buffer.byteLength(k) + Buffer.byteLength(v);
        return h.#writeU32(sizePtr, size) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_get_buffer_status(type, lenPtr, flagsPtr) {
        h.#count('proxy_get_buffer_status');
        if (type >>> 0 > 8) return R.BadArgument;
        const b = h.#buffer(type >>> 0);
        if (!b) return R.NotFound;
        if (!h.#writeU32(lenPtr, b.data.length)) return R.InvalidMemoryAccess;
        return h.#writeU32(flagsPtr, 0) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_get_buffer_bytes(type, start, length, ptrPtr, sizePtr) {
        h.#count('proxy_get_buffer_bytes');
        if (type >>> 0 > 8) return R.BadArgument;
        const b = h.#buffer(type >>> 0);
        if (!b) return R.NotFound;
        start >>>= 0; length >>>= 0;
        if (start > b.data.length) return R.BadArgument;
        if (start + length > b.data.length) length = b.data.length - start;
        if (length === 0) return R.Ok; // Envoy writes nothing back for an empty range
        return h.#copyOut(b.data.subarray(start, start + length), ptrPtr, sizePtr) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_set_buffer_bytes(type, start, length, dataPtr, dataSize) {
        h.#count('proxy_set_buffer_bytes');
        if (type >>> 0 > 8) return R.BadArgument;
        const b = h.#buffer(type >>> 0);
        if (!b) return R.NotFound;
        const data = h.#read(dataPtr, dataSize);
        if (!data) return R.InvalidMemoryAccess;
        if (!b.mutable) return R.BadArgument;
        start >>>= 0; length >>>= 0;
        const cur = b.ref.data;
        if (start === 0) {
          // Envoy: drain `length` bytes, then prepend the data.
          b.ref.data = Buffer.concat([data, cur.subarray(Math.min(length, cur.length))]);
          return R.Ok;
        }
        if (start >= cur.length) {
          b.ref.data = Buffer.concat([cur, data]);
          return R.Ok;
        }
        return R.BadArgument;
      },
      proxy_http_call(uriPtr, uriSize, hdrPtr, hdrSize, bodyPtr, bodySize, trlPtr, trlSize, timeoutMs, tokenPtr) {
        h.#count('proxy_http_call');
        const uri = h.#read(uriPtr, uriSize);
        const body = h.#read(bodyPtr, bodySize);
        const hdrs = h.#read(hdrPtr, hdrSize);
        const trls = h.#read(trlPtr, trlSize);
        if (!uri || !body || !hdrs || !trls) return R.InvalidMemoryAccess;
        if (!h.#writeU32(tokenPtr, 0)) return R.InvalidMemoryAccess;
        const headers = normalizeHeaders(deserializePairs(hdrs).pairs);
        const trailers = normalizeHeaders(deserializePairs(trls).pairs);
        const upstream = uri.toString('utf8');
        const record = { upstream, headers, body, trailers, timeout: timeoutMs | 0, fromContextId: h.#ctxId() };
        let result = R.Ok;
        if ((timeoutMs | 0) < 0) result = R.BadArgument;
        else if (h.clusters !== '*' && !h.clusters.has(upstream)) result = R.BadArgument;
        else if (![':path', ':method', ':authority'].every((k) => headerGet(headers, k) !== undefined)) result = R.BadArgument;
        record.result = result;
        h.httpCallLog.push(record);
        if (result !== R.Ok) return result;
        record.token = h.nextHttpCallToken++;
        h.httpCalls.push(record);
        h.#writeU32(tokenPtr, record.token);
        return R.Ok;
      },
      proxy_grpc_call() { h.#count('proxy_grpc_call'); return R.Unimplemented; },
      proxy_grpc_stream() { h.#count('proxy_grpc_stream'); return R.Unimplemented; },
      proxy_grpc_close() { h.#count('proxy_grpc_close'); return R.Unimplemented; },
      proxy_grpc_cancel() { h.#count('proxy_grpc_cancel'); return R.Unimplemented; },
      proxy_grpc_send() { h.#count('proxy_grpc_send'); return R.Unimplemented; },
      proxy_set_tick_period_milliseconds(ms) {
        h.#count('proxy_set_tick_period_milliseconds');
        h.tickPeriodMs = ms >>> 0; // applies to the root context of the caller
        return R.Ok;
      },
      proxy_get_current_time_nanoseconds(ptr) {
        h.#count('proxy_get_current_time_nanoseconds');
        return h.#writeU64(ptr, h.now()) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_define_metric(type, namePtr, nameSize, idPtr) {
        h.#count('proxy_define_metric');
        const name = h.#read(namePtr, nameSize);
        if (!name) return R.InvalidMemoryAccess;
        type >>>= 0;
        if (type > 2) return R.BadArgument;
        const typeName = ['counter', 'gauge', 'histogram'][type];
        const n = name.toString('utf8');
        let m = h.metrics.get(n);
        if (m && m.type !== typeName) {
          h.warnings.push(`proxy_define_metric: ${n} redefined as ${typeName} (was ${m.type})`);
          return R.BadArgument;
        }
        if (!m) {
          m = type === 2 ? { type: typeName, value: null, values: [] } : { type: typeName, value: 0, values: undefined };
          h.metrics.set(n, m);
        }
        // Like Envoy: every definition gets a fresh id whose low two bits carry the type.
        const id = ((h.nextMetricIndex++) << 2 | type) >>> 0;
        h.metricIds.set(id, { name: n, metric: m, type });
        return h.#writeU32(idPtr, id) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_increment_metric(id, offset) {
        h.#count('proxy_increment_metric');
        const rec = h.#metricById(id);
        const type = (id >>> 0) & 3;
        if (type === 2 || type === 3) return R.BadArgument;
        if (!rec) return R.NotFound;
        const off = typeof offset === 'bigint' ? offset : BigInt(offset);
        if (type === 0) {
          if (off <= 0n) return R.BadArgument; // Envoy refuses offset <= 0 on counters
          rec.metric.value += Number(off);
        } else {
          rec.metric.value += Number(off);
        }
        return R.Ok;
      },
      proxy_record_metric(id, value) {
        h.#count('proxy_record_metric');
        const rec = h.#metricById(id);
        if (!rec) return R.NotFound;
        const v = Number(BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(value)));
        if (rec.type === 0) rec.metric.value += v;
        else if (rec.type === 1) rec.metric.value = v;
        else rec.metric.values.push(v);
        return R.Ok;
      },
      proxy_get_metric(id, ptr) {
        h.#count('proxy_get_metric');
        const type = (id >>> 0) & 3;
        if (type > 1) return R.BadArgument;
        const rec = h.#metricById(id);
        if (!rec) return R.NotFound;
        return h.#writeU64(ptr, BigInt(Math.trunc(rec.metric.value))) ? R.Ok : R.InvalidMemoryAccess;
      },
      proxy_set_effective_context(id) {
        h.#count('proxy_set_effective_context');
        id >>>= 0;
        if (id !== h.rootId && !h.streams.has(id)) return R.BadArgument;
        const top = h._stack[h._stack.length - 1];
        if (top) top.effective = id;
        return R.Ok;
      },
      proxy_done() {
        h.#count('proxy_done');
        if (h.#ctxId() !== h.rootId || !h.rootPendingDone) return R.NotFound;
        h.rootPendingDone = false;
        h.#defer({ kind: 'rootDelete' });
        return R.Ok;
      },
      proxy_call_foreign_function(namePtr, nameSize, argPtr, argSize) {
        h.#count('proxy_call_foreign_function');
        if (!h.#read(namePtr, nameSize) || !h.#read(argPtr, argSize)) return R.InvalidMemoryAccess;
        return R.NotFound;
      },
      proxy_continue_stream(type) {
        h.#count('proxy_continue_stream');
        type >>>= 0;
        if (type > 3) return R.BadArgument;
        if (type === StreamType.Upstream) return R.Unimplemented;
        if (type === StreamType.Downstream) return R.Ok;
        const s = h.#stream();
        if (!s) {
          h.warnings.push('proxy_continue_stream outside an HTTP stream context (set the effective context first): no effect');
          return R.Ok;
        }
        // Envoy drops its request map pointers at once (they are about to go upstream).
        if (type === StreamType.Request) {
          s._req.headersLive = false;
          s._req.trailersLive = false;
        }
        h.#defer({ kind: 'continue', stream: s, dir: type === 0 ? 'request' : 'response' });
        return R.Ok;
      },
      proxy_close_stream(type) {
        h.#count('proxy_close_stream');
        type >>>= 0;
        if (type > 3) return R.BadArgument;
        const s = h.#stream();
        if (type <= 1 && s) h.#defer({ kind: 'close', stream: s, dir: type === 0 ? 'request' : 'response' });
        return R.Ok;
      },
    };
    return imports;
  }

  // ---------------------------------------------------------------------------------------------
  // wasi_snapshot_preview1 imports, as proxy-wasm-cpp-host provides them

  #wasiImports() {
    const h = this;
    return {
      fd_write(fd, iovs, iovsLen, nwrittenPtr) {
        h.#count('fd_write');
        let level;
        if (fd === 1) level = LogLevel.info;
        else if (fd === 2) level = LogLevel.error;
        else return WASI_EBADF;
        const parts = [];
        for (let i = 0; i < iovsLen >>> 0; i++) {
          const iov = h.#read((iovs >>> 0) + i * 8, 8);
          if (!iov) return WASI_EFAULT;
          const len = iov.readUInt32LE(4);
          if (len) {
            const b = h.#read(iov.readUInt32LE(0), len);
            if (!b) return WASI_EFAULT;
            parts.push(b);
          }
        }
        const all = Buffer.concat(parts);
        if (all.length) {
          let s = all.toString('utf8');
          if (s.endsWith('\n')) s = s.slice(0, -1); // the host drops one trailing newline
          h.#log(level, s, h.#ctxId());
        }
        return h.#writeU32(nwrittenPtr, all.length) ? WASI_ESUCCESS : WASI_EFAULT;
      },
      fd_read() { h.#count('fd_read'); return WASI_ENOSYS; },
      fd_seek() { h.#count('fd_seek'); return WASI_ESUCCESS; },
      fd_close() { h.#count('fd_close'); return WASI_ESUCCESS; },
      fd_fdstat_get(fd, statPtr) {
        h.#count('fd_fdstat_get');
        if (fd !== 1 && fd !== 2) return WASI_EBADF;
        const stat = Buffer.alloc(24);
        stat.writeBigUInt64LE(64n, 8); // fs_rights_base = FD_WRITE
        h.#writeBytes(statPtr, stat);
        return WASI_ESUCCESS;
      },
      environ_get(environPtr, bufPtr) {
        h.#count('environ_get');
        let p = environPtr >>> 0;
        let b = bufPtr >>> 0;
        for (const e of h.env) {
          if (!h.#writeU32(p, b) || !h.#writeBytes(b, e)) return WASI_EFAULT;
          p += 4; b += e.length;
        }
        return WASI_ESUCCESS;
      },
      environ_sizes_get(countPtr, sizePtr) {
        h.#count('environ_sizes_get');
        const size = h.env.reduce((a, e) => a + e.length, 0);
        if (!h.#writeU32(countPtr, h.env.length) || !h.#writeU32(sizePtr, size)) return WASI_EFAULT;
        return WASI_ESUCCESS;
      },
      args_get() { h.#count('args_get'); return WASI_ESUCCESS; },
      args_sizes_get(argcPtr, bufSizePtr) {
        h.#count('args_sizes_get');
        if (!h.#writeU32(argcPtr, 0) || !h.#writeU32(bufSizePtr, 0)) return WASI_EFAULT;
        return WASI_ESUCCESS;
      },
      clock_time_get(clockId, _precision, timePtr) {
        h.#count('clock_time_get');
        let t;
        if (clockId === 0) t = h.now();
        else if (clockId === 1) t = process.hrtime.bigint() - MONO_START;
        else return WASI_ENOTSUP;
        return h.#writeU64(timePtr, t) ? WASI_ESUCCESS : WASI_EFAULT;
      },
      random_get(ptr, len) {
        h.#count('random_get');
        len >>>= 0;
        if (len > RANDOM_GET_MAX) return WASI_EINVAL;
        const b = Buffer.alloc(len);
        randomFillSync(b);
        return h.#writeBytes(ptr, b) ? WASI_ESUCCESS : WASI_EFAULT;
      },
      proc_exit(code) {
        h.#count('proc_exit');
        throw new ProcExit(code);
      },
      path_open() { h.#count('path_open'); return WASI_ENOENT; },
      fd_prestat_get() { h.#count('fd_prestat_get'); return WASI_EBADF; },
      fd_prestat_dir_name() { h.#count('fd_prestat_dir_name'); return WASI_ENOSYS; },
    };
  }
}

// ---------------------------------------------------------------------------------------------
// An HTTP stream: the filter's view of one request/response exchange, as Envoy's filter manager
// drives it. Inputs come from the test (requestHeaders, requestBody, ...); what leaves the filter
// is recorded in forwarded* fields.

class Direction {
  constructor(name) {
    this.name = name;
    this.headers = null;          // live header map (array of [k, v]) once received
    this.headersLive = false;     // the filter may read/modify it (Envoy: until forwarded)
    this.headersPaused = false;   // StopIteration honoured (allowOnHeadersStopIteration)
    this.headersForwarded = false;
    this.forwardedHeaders = null;
    this.stopAll = null;          // 'buffer' | 'watermark' after StopAllIteration*
    this.held = { data: EMPTY };  // data Envoy holds for this filter
    this.filterBuffering = null;  // 'buffer' | 'watermark' after StopIterationAndBuffer/Watermark
    this.iterationStopped = false;
    this.bodyReceived = false;
    this.ended = false;           // end of stream received from the peer
    this.endForwarded = false;
    this.trailers = null;
    this.trailersLive = false;
    this.trailersPending = false; // received during StopAll, not yet shown to the filter
    this.trailersForwarded = false;
    this.forwardedTrailers = null;
    this.forwardedChunks = [];
    this.forwardedBytes = 0;
    this.droppedBytes = 0;        // StopIterationNoBuffer
    this.cur = null;              // {data} during a body callback
    this.curEndOfStream = false;
    this.dead = false;
    this.watermarkExceeded = false;
    this.trailersAddedByFilter = false;
  }
}

export class HttpStream {
  constructor(host, id, properties, bufferLimit) {
    this.host = host;
    this.bufferLimit = bufferLimit;
    this.id = id;
    this.contextId = id;
    this.explicitProperties = propertyMap(properties);
    this.defaultProperties = propertyMap({ ...host.streamPropertyDefaults, 'connection.id': BigInt(id) });
    this.setProperties = new Map();
    this._req = new Direction('request');
    this._resp = new Direction('response');
    this.localReply = null;
    this.closed = false;
    this.reset = false;
    this.resetReason = null;
    this.completed = false;
    this.actions = [];
    this.ignoredInputs = [];
    this._logPhase = false;
    this._nextIterationStopped = false;
    this._responseCode = undefined;
  }

  // ---- what left the filter ----
  get forwardedRequestHeaders() { return this._req.forwardedHeaders; }
  get forwardedResponseHeaders() { return this._resp.forwardedHeaders; }
  get forwardedRequestTrailers() { return this._req.forwardedTrailers; }
  get forwardedResponseTrailers() { return this._resp.forwardedTrailers; }
  get forwardedRequestBody() { return Buffer.concat(this._req.forwardedChunks); }
  get forwardedResponseBody() { return Buffer.concat(this._resp.forwardedChunks); }
  get forwardedRequestBytes() { return this._req.forwardedBytes; }
  get forwardedResponseBytes() { return this._resp.forwardedBytes; }
  get requestEnded() { return this._req.endForwarded; }
  get responseEnded() { return this._resp.endForwarded; }
  // Data or end of stream the filter holds without a way forward (nobody will continue it).
  get stalled() {
    if (this.reset) return false;
    const stuck = (d) => !d.dead && d.ended && !d.endForwarded;
    return stuck(this._req) || (!this.localReply && stuck(this._resp));
  }
  get request() { return this._req; }
  get response() { return this._resp; }

  // ---- inputs ----

  requestHeaders(pairs, endOfStream = false) { return this.#input(this._req, 'headers', () => this._deliverHeaders(this._req, pairs, endOfStream)); }
  requestBody(bytes, endOfStream = false) { return this.#input(this._req, 'body', () => this._deliverBody(this._req, toBytes(bytes), endOfStream)); }
  requestTrailers(pairs) { return this.#input(this._req, 'trailers', () => this._deliverTrailers(this._req, pairs)); }
  responseHeaders(pairs, endOfStream = false) { return this.#input(this._resp, 'headers', () => this._deliverHeaders(this._resp, pairs, endOfStream)); }
  responseBody(bytes, endOfStream = false) { return this.#input(this._resp, 'body', () => this._deliverBody(this._resp, toBytes(bytes), endOfStream)); }
  responseTrailers(pairs) { return this.#input(this._resp, 'trailers', () => this._deliverTrailers(this._resp, pairs)); }

  // proxy_on_log (header maps readable, read-only), proxy_on_done, proxy_on_delete.
  complete() {
    if (this.completed) return;
    this._logPhase = true;
    try {
      this.host._invokeForStream(this, 'proxy_on_log', this.id);
    } finally {
      this._logPhase = false;
    }
    this.completed = true;
    this.host._invokeForStream(this, 'proxy_on_done', this.id);
    this.host._invokeForStream(this, 'proxy_on_delete', this.id);
    this.host.streams.delete(this.id);
  }

  #input(dir, what, fn) {
    if (this.completed) throw new Error(`stream ${this.id} is complete`);
    // After a local reply or a reset, Envoy stops feeding this stream through the filter.
    if (this.reset || this.localReply || dir.dead) {
      this.ignoredInputs.push(`${dir.name} ${what}`);
      return null;
    }
    if (what !== 'headers' && !dir.headers) throw new Error(`${dir.name} ${what} before ${dir.name} headers`);
    if (what === 'headers' && dir.headers) throw new Error(`${dir.name} headers twice`);
    if (what !== 'headers' && dir.ended) throw new Error(`${dir.name} ${what} after end of stream`);
    return fn();
  }

  #record(phase, action) { this.actions.push({ phase, action }); }

  #dead(dir) { return this.reset || this.completed || dir.dead; }

  // ---- filter manager ----

  _deliverHeaders(dir, pairs, endOfStream) {
    dir.headers = normalizeHeaders(pairs);
    dir.headersLive = true;
    dir.ended = !!endOfStream;
    if (dir === this._resp) {
      const st = headerGet(dir.headers, ':status');
      if (st !== undefined) this._responseCode = Number(st);
    }
    this._nextIterationStopped = false;
    const name = dir === this._req ? 'proxy_on_request_headers' : 'proxy_on_response_headers';
    return this.host._streamCallback(this, name, [this.id, dir.headers.length, endOfStream ? 1 : 0], (r) => {
      this.#record(`${dir.name}_headers`, r);
      if (this.#dead(dir)) return;
      let status = r;
      if (this._nextIterationStopped || r > 4) status = FilterHeadersStatus.StopAllIterationAndWatermark;
      if (status === FilterHeadersStatus.StopIteration && !this.host.allowOnHeadersStopIteration) {
        // proxy-wasm-cpp-host turns StopIteration into StopAllIterationAndWatermark: the body is
        // not shown to the filter until it continues the stream.
        status = FilterHeadersStatus.StopAllIterationAndWatermark;
      }
      switch (status) {
        case FilterHeadersStatus.Continue:
        case FilterHeadersStatus.ContinueAndEndStream: // Envoy maps it to Continue
          this.#forwardHeaders(dir);
          break;
        case FilterHeadersStatus.StopIteration:
          dir.headersPaused = true;
          break;
        case FilterHeadersStatus.StopAllIterationAndBuffer:
          dir.stopAll = 'buffer';
          break;
        default:
          dir.stopAll = 'watermark';
      }
    });
  }

  _deliverBody(dir, chunk, endOfStream) {
    dir.bodyReceived = true;
    if (endOfStream) dir.ended = true;
    if (dir.stopAll) {
      dir.held = { data: Buffer.concat([dir.held.data, chunk]) };
      if (dir.held.data.length > this.bufferLimit) {
        if (dir.stopAll === 'buffer') { this.#overflow(dir); return null; }
        dir.watermarkExceeded = true;
      }
      return null;
    }
    let buf;
    if (dir.filterBuffering) {
      dir.held.data = Buffer.concat([dir.held.data, chunk]);
      if (dir.filterBuffering === 'buffer' && dir.held.data.length > this.bufferLimit) {
        this.#overflow(dir);
        return null;
      }
      if (dir.held.data.length > this.bufferLimit) dir.watermarkExceeded = true;
      buf = dir.held;
    } else {
      buf = { data: Buffer.from(chunk) };
    }
    return this.#bodyCallback(dir, buf, endOfStream);
  }

  #bodyCallback(dir, buf, endOfStream) {
    dir.cur = buf;
    dir.curEndOfStream = !!endOfStream;
    this._nextIterationStopped = false;
    const name = dir === this._req ? 'proxy_on_request_body' : 'proxy_on_response_body';
    try {
      return this.host._streamCallback(this, name, [this.id, buf.data.length, endOfStream ? 1 : 0], (r) => {
        dir.cur = null;
        this.#record(`${dir.name}_body`, r);
        if (this.#dead(dir)) return;
        let status = r;
        if (this._nextIterationStopped || r > 3) status = FilterDataStatus.StopIterationNoBuffer;
        switch (status) {
          case FilterDataStatus.Continue:
            dir.filterBuffering = null;
            dir.held = { data: EMPTY };
            dir.iterationStopped = false;
            this.#forwardBody(dir, buf.data);
            if (dir.trailersAddedByFilter) this.#forwardTrailers(dir);
            else if (dir.ended && !dir.trailers) this.#forwardEnd(dir);
            break;
          case FilterDataStatus.StopIterationAndBuffer:
          case FilterDataStatus.StopIterationAndWatermark:
            dir.filterBuffering = status === 1 ? 'buffer' : 'watermark';
            dir.held = buf;
            dir.iterationStopped = true;
            break;
          default: // StopIterationNoBuffer: this chunk goes nowhere
            dir.filterBuffering = null;
            dir.held = { data: EMPTY };
            dir.droppedBytes += buf.data.length;
            dir.iterationStopped = true;
        }
      });
    } finally {
      dir.cur = null;
    }
  }

  _deliverTrailers(dir, pairs) {
    dir.ended = true;
    dir.trailers = normalizeHeaders(pairs);
    if (dir.stopAll) { dir.trailersPending = true; return null; }
    return this.#trailersCallback(dir);
  }

  #trailersCallback(dir) {
    dir.trailersLive = true;
    dir.trailersPending = false;
    this._nextIterationStopped = false;
    const name = dir === this._req ? 'proxy_on_request_trailers' : 'proxy_on_response_trailers';
    return this.host._streamCallback(this, name, [this.id, dir.trailers.length], (r) => {
      this.#record(`${dir.name}_trailers`, r);
      if (this.#dead(dir)) return;
      if (r === FilterTrailersStatus.Continue && !this._nextIterationStopped) this._release(dir);
      else dir.iterationStopped = true;
    });
  }

  // The filter lets the direction go on: proxy_continue_stream, or Continue from trailers.
  _release(dir) {
    if (this.#dead(dir)) return;
    if (dir.stopAll) {
      dir.stopAll = null;
      this.#forwardHeaders(dir);
      // Envoy hands the data it held to this filter's body callback before moving on.
      const held = dir.held.data;
      dir.held = { data: EMPTY };
      if (held.length || (dir.bodyReceived && dir.ended && !dir.trailers)) {
        this.#bodyCallback(dir, { data: Buffer.from(held) }, dir.ended && !dir.trailers);
      }
      if (!this.#dead(dir) && dir.trailersPending && !dir.iterationStopped) this.#trailersCallback(dir);
      return;
    }
    dir.headersPaused = false;
    this.#forwardHeaders(dir);
    if (dir.held.data.length) this.#forwardBody(dir, dir.held.data);
    dir.held = { data: EMPTY };
    dir.filterBuffering = null;
    dir.iterationStopped = false;
    if (dir.trailers && dir.trailersLive) this.#forwardTrailers(dir);
    else if (dir.ended && !dir.trailers) this.#forwardEnd(dir);
  }

  #forwardHeaders(dir) {
    if (dir.headersForwarded) return;
    dir.headersForwarded = true;
    dir.headersLive = false;
    dir.headersPaused = false;
    dir.forwardedHeaders = dir.headers.map(([k, v]) => [k, v]);
    if (dir.ended && !dir.bodyReceived && !dir.trailers) dir.endForwarded = true;
  }

  #forwardBody(dir, data) {
    this.#forwardHeaders(dir);
    if (data.length) {
      dir.forwardedChunks.push(Buffer.from(data));
      dir.forwardedBytes += data.length;
    }
  }

  #forwardTrailers(dir) {
    dir.trailersLive = false;
    dir.trailersForwarded = true;
    dir.forwardedTrailers = dir.trailers.map(([k, v]) => [k, v]);
    dir.endForwarded = true;
  }

  #forwardEnd(dir) { dir.endForwarded = true; }

  // Buffer limit exceeded while buffering for the filter: 413 for a request; 500 for a response
  // (or a reset when its headers already left), like Envoy's filter manager.
  #overflow(dir) {
    if (dir === this._req) {
      this._sendLocalReply({
        status: 413, body: 'Payload Too Large', bodyBytes: Buffer.from('Payload Too Large'), headers: [],
        grpcStatus: -1, details: 'request_payload_too_large', fromHost: true,
      });
    } else {
      this._sendLocalReply({
        status: 500, body: 'Internal Server Error', bodyBytes: Buffer.from('Internal Server Error'), headers: [],
        grpcStatus: -1, details: 'response_payload_too_large', fromHost: true,
      });
    }
  }

  _sendLocalReply(reply) {
    if (this.completed || this.reset) return;
    if (this.localReply) {
      // A second local reply while the first one is in flight: Envoy resets the stream.
      this._reset('second local reply', false);
      return;
    }
    const body = reply.bodyBytes ?? toBytes(reply.body);
    const headers = [[':status', String(reply.status)], ...normalizeHeaders(reply.headers)];
    if (body.length) headers.push(['content-length', String(body.length)], ['content-type', 'text/plain']);
    this.localReply = { ...reply, bodyBytes: body, headers, delivered: false, path: null };
    this._req.dead = true; // nothing more goes upstream
    this._req.headersLive = false;
    this._req.trailersLive = false;
    const resp = this._resp;
    if (!resp.headers) {
      // The response has not started: the reply runs through the filter chain, this filter's
      // response callbacks included.
      this.localReply.path = 'filter_chain';
      this.localReply.delivered = true;
      this._responseCode = reply.status;
      this._deliverHeaders(resp, headers, body.length === 0);
      if (body.length && !this.#dead(resp)) this._deliverBody(resp, body, true);
    } else if (!resp.headersForwarded) {
      // Response headers exist but have not left: the reply goes straight to the client.
      this.localReply.path = 'direct';
      this.localReply.delivered = true;
      this._responseCode = reply.status;
      resp.headersLive = false;
      resp.trailersLive = false;
      resp.headersForwarded = true;
      resp.forwardedHeaders = headers;
      resp.forwardedChunks = body.length ? [Buffer.from(body)] : [];
      resp.forwardedBytes = body.length;
      resp.endForwarded = true;
      resp.dead = true;
    } else {
      // Headers already sent downstream: all Envoy can do is reset the stream.
      this.localReply.path = 'reset';
      this._reset(`local reply ${reply.status} after response headers were sent`, false);
    }
  }

  _reset(reason, byClose) {
    if (this.completed || this.reset) return;
    this.reset = true;
    this.resetReason = reason;
    if (byClose) this.closed = true;
    for (const d of [this._req, this._resp]) {
      d.dead = true;
      d.headersLive = false;
      d.trailersLive = false;
    }
  }

  // ---- properties ----

  // Request/response attributes Envoy derives from header maps are only there while the map is:
  // in its own callbacks (until forwarded) and in on_log.
  _property(key) {
    if (this.explicitProperties.has(key)) return this.explicitProperties.get(key);
    if (this.setProperties.has(key)) return this.setProperties.get(key);
    const parts = key.split('\0');
    if (parts[0] === 'request' && parts.length >= 2) {
      const map = this._logPhase ? (this._req.forwardedHeaders ?? this._req.headers) : (this._req.headersLive ? this._req.headers : null);
      const derived = ['path', 'url_path', 'host', 'method', 'scheme', 'query', 'id', 'referer', 'useragent', 'headers'];
      if (derived.includes(parts[1])) {
        if (!map) return undefined;
        const path = headerGet(map, ':path');
        switch (parts[1]) {
          case 'path': return path;
          case 'url_path': return path === undefined ? undefined : path.split('?')[0];
          case 'query': return path === undefined ? undefined : (path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
          case 'host': return headerGet(map, ':authority');
          case 'method': return headerGet(map, ':method');
          case 'scheme': return headerGet(map, ':scheme');
          case 'id': return headerGet(map, 'x-request-id');
          case 'referer': return headerGet(map, 'referer');
          case 'useragent': return headerGet(map, 'user-agent');
          case 'headers': return parts.length === 2 ? map : headerGet(map, parts.slice(2).join('.'));
          default: return undefined;
        }
      }
    }
    if (parts[0] === 'response' && parts.length >= 2) {
      if (parts[1] === 'code') return this._responseCode;
      if (parts[1] === 'headers') {
        const map = this._logPhase ? (this._resp.forwardedHeaders ?? this._resp.headers) : (this._resp.headersLive ? this._resp.headers : null);
        if (!map) return undefined;
        return parts.length === 2 ? map : headerGet(map, parts.slice(2).join('.'));
      }
    }
    if (this.defaultProperties.has(key)) return this.defaultProperties.get(key);
    return undefined;
  }
}
