// Shared helpers for the filter's end-to-end tests: paths, the conformance case reader (a small
// YAML subset parser), the ABI import list from ../shared/proxy-wasm-abi.md, the CLI runner and
// body chunkers.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const SHARED = process.env.LEAKSCOPE_SHARED ? path.resolve(process.env.LEAKSCOPE_SHARED) : path.resolve(REPO, '../shared');

// A path from the environment: as given (relative to the working directory), else relative to the
// repository, so both `node --test tests/filter/` from the repo and other working directories work.
function locate(envValue, fallback) {
  if (!envValue) return fallback;
  if (path.isAbsolute(envValue)) return envValue;
  const fromCwd = path.resolve(process.cwd(), envValue);
  if (fs.existsSync(fromCwd)) return fromCwd;
  return path.resolve(REPO, envValue);
}

export const WASM_PATH = locate(process.env.LEAKSCOPE_WASM, path.join(REPO, 'build/leakscope.wasm'));
export const CLI_PATH = locate(process.env.LEAKSCOPE_CLI, path.join(REPO, 'build/leakscope'));

// Without the module the suites skip, unless LEAKSCOPE_REQUIRE_WASM=1 (CI) makes that a failure.
// The smallest useful policy: one SSN category on every endpoint. Tests append what they need
// (sbac rules, service identification, token extraction) to it.
export const SSN_POLICY = `categories:
  ssn:
    - regex: "\\\\b\\\\d{3}-\\\\d{2}-\\\\d{4}\\\\b"
endpoints:
  - matches: "**"
    config:
      ssn: {}
`;

export function wasmSkipReason() {
  if (fs.existsSync(WASM_PATH)) return false;
  if (process.env.LEAKSCOPE_REQUIRE_WASM === '1') return false;
  return `${WASM_PATH} does not exist (build it, or set LEAKSCOPE_WASM)`;
}

// ---------------------------------------------------------------------------------------------
// YAML subset: block mappings and sequences by indentation, `|`/`>` block scalars, flow maps and
// lists, single/double-quoted and plain scalars, comments. Scalars stay strings (no typing),
// except flow/quoted structure. Enough for ../shared/conformance/cases/*.yaml.

export function parseYaml(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  const indentOf = (l) => l.length - l.trimStart().length;
  const isBlank = (l) => l.trim() === '' || l.trimStart().startsWith('#');
  const fail = (msg) => { throw new Error(`YAML line ${i + 1}: ${msg}: ${JSON.stringify(lines[i] ?? '')}`); };

  function skipBlank() { while (i < lines.length && isBlank(lines[i])) i++; }

  function parseNode(minIndent) {
    skipBlank();
    if (i >= lines.length) return null;
    const ind = indentOf(lines[i]);
    if (ind < minIndent) return null;
    const t = lines[i].slice(ind);
    if (t === '-' || t.startsWith('- ')) return parseSeq(ind);
    return parseMap(ind);
  }

  function splitKey(content) {
    let key, rest;
    if (content[0] === '"' || content[0] === "'") {
      const f = new Flow(content, 0);
      key = f.quoted();
      rest = content.slice(f.p).replace(/^\s*/, '');
      if (rest[0] !== ':') fail('expected ":" after a quoted key');
      rest = rest.slice(1);
    } else {
      const m = /^([^#]*?):(?:\s|$)/.exec(content);
      if (!m) fail('expected "key: value"');
      key = m[1].trim();
      rest = content.slice(m[0].length - (/\s$/.test(m[0]) ? 1 : 0));
    }
    return [key, rest];
  }

  function parseMap(ind) {
    const obj = {};
    for (;;) {
      skipBlank();
      if (i >= lines.length) break;
      const li = indentOf(lines[i]);
      if (li < ind) break;
      if (li > ind) fail('unexpected indentation');
      const content = lines[i].slice(ind);
      if (content.startsWith('- ')) break;
      const [key, rest] = splitKey(content);
      i++;
      obj[key] = parseValue(rest, ind, true);
    }
    return obj;
  }

  function parseSeq(ind) {
    const arr = [];
    for (;;) {
      skipBlank();
      if (i >= lines.length) break;
      const li = indentOf(lines[i]);
      if (li !== ind) break;
      const content = lines[i].slice(ind);
      if (!(content === '-' || content.startsWith('- '))) break;
      const after = content.slice(1).replace(/^ +/, '');
      const itemIndent = ind + (content.length - content.slice(1).replace(/^ +/, '').length);
      if (after === '' || after.startsWith('#')) {
        i++;
        arr.push(parseNode(ind + 1));
      } else if (/^[^"'{[][^#]*?:(\s|$)/.test(after) || /^["'][^"']*["']\s*:(\s|$)/.test(after)) {
        // "- key: value" starts a mapping whose keys sit at the item's indentation.
        lines[i] = ' '.repeat(itemIndent) + after;
        arr.push(parseMap(itemIndent));
      } else {
        i++;
        arr.push(parseValue(after, ind, false));
      }
    }
    return arr;
  }

  function parseValue(rest, ind, inMap) {
    const r = rest.trim();
    if (r === '' || r.startsWith('#')) {
      skipBlank();
      if (i < lines.length) {
        const li = indentOf(lines[i]);
        const t = lines[i].slice(li);
        if (li > ind) return parseNode(ind + 1);
        if (inMap && li === ind && (t === '-' || t.startsWith('- '))) return parseSeq(ind);
      }
      return null;
    }
    if (r[0] === '|' || r[0] === '>') return blockScalar(r, ind);
    const f = new Flow(r, 0);
    const v = f.value(false);
    f.ws();
    if (f.p < r.length && r[f.p] !== '#') fail(`trailing characters ${JSON.stringify(r.slice(f.p))}`);
    return v;
  }

  function blockScalar(header, ind) {
    const folded = header[0] === '>';
    const chomp = /-/.test(header) ? 'strip' : /\+/.test(header) ? 'keep' : 'clip';
    const explicit = /[1-9]/.exec(header);
    let blockIndent = explicit ? ind + Number(explicit[0]) : null;
    const out = [];
    while (i < lines.length) {
      const l = lines[i];
      if (l.trim() === '') { out.push(''); i++; continue; }
      const li = indentOf(l);
      if (li <= ind) break;
      if (blockIndent === null) blockIndent = li;
      if (li < blockIndent) break;
      out.push(l.slice(blockIndent));
      i++;
    }
    let trailing = 0;
    while (out.length && out[out.length - 1] === '') { out.pop(); trailing++; }
    let text = folded ? foldLines(out) : out.join('\n');
    if (out.length === 0) return '';
    if (chomp === 'clip') text += '\n';
    else if (chomp === 'keep') text += '\n'.repeat(trailing + 1);
    return text;
  }

  function foldLines(ls) {
    let s = '';
    for (let k = 0; k < ls.length; k++) {
      if (k === 0) { s = ls[k]; continue; }
      if (ls[k] === '' || ls[k - 1] === '' || /^\s/.test(ls[k])) s += '\n' + ls[k];
      else s += ' ' + ls[k];
    }
    return s;
  }

  const root = parseNode(0);
  skipBlank();
  if (i < lines.length) fail('unparsed content');
  return root;
}

class Flow {
  constructor(s, p) { this.s = s; this.p = p; }
  ws() { while (this.p < this.s.length && /\s/.test(this.s[this.p])) this.p++; }
  fail(msg) { throw new Error(`YAML flow: ${msg} at ${this.p} in ${JSON.stringify(this.s)}`); }

  value(inFlow) {
    this.ws();
    const c = this.s[this.p];
    if (c === '{') return this.map();
    if (c === '[') return this.list();
    if (c === '"' || c === "'") return this.quoted();
    return this.plain(inFlow);
  }

  map() {
    const obj = {};
    this.p++;
    for (;;) {
      this.ws();
      if (this.s[this.p] === '}') { this.p++; return obj; }
      let key;
      if (this.s[this.p] === '"' || this.s[this.p] === "'") key = this.quoted();
      else {
        const start = this.p;
        while (this.p < this.s.length && !(this.s[this.p] === ':' && /[\s,}]/.test(this.s[this.p + 1] ?? ' ')) &&
               this.s[this.p] !== ',' && this.s[this.p] !== '}') this.p++;
        key = this.s.slice(start, this.p).trim();
      }
      this.ws();
      let v = null;
      if (this.s[this.p] === ':') { this.p++; v = this.value(true); }
      obj[key] = v;
      this.ws();
      if (this.s[this.p] === ',') { this.p++; continue; }
      if (this.s[this.p] === '}') { this.p++; return obj; }
      this.fail('expected , or }');
    }
  }

  list() {
    const arr = [];
    this.p++;
    for (;;) {
      this.ws();
      if (this.s[this.p] === ']') { this.p++; return arr; }
      arr.push(this.value(true));
      this.ws();
      if (this.s[this.p] === ',') { this.p++; continue; }
      if (this.s[this.p] === ']') { this.p++; return arr; }
      this.fail('expected , or ]');
    }
  }

  quoted() {
    const q = this.s[this.p++];
    let out = '';
    for (;;) {
      if (this.p >= this.s.length) this.fail('unterminated string');
      const c = this.s[this.p++];
      if (q === "'") {
        if (c === "'") {
          if (this.s[this.p] === "'") { out += "'"; this.p++; continue; }
          return out;
        }
        out += c;
        continue;
      }
      if (c === '"') return out;
      if (c !== '\\') { out += c; continue; }
      const e = this.s[this.p++];
      const simple = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', '"': '"', '/': '/', ' ': ' ', a: '\x07', b: '\b', e: '\x1b', f: '\f', v: '\v', N: '\u0085', _: '\u00a0' };
      if (e in simple) { out += simple[e]; continue; }
      const width = { x: 2, u: 4, U: 8 }[e];
      if (!width) this.fail(`unknown escape \\${e}`);
      out += String.fromCodePoint(parseInt(this.s.slice(this.p, this.p + width), 16));
      this.p += width;
    }
  }

  plain(inFlow) {
    const start = this.p;
    while (this.p < this.s.length) {
      const c = this.s[this.p];
      if (inFlow && (c === ',' || c === '}' || c === ']')) break;
      if (c === '#' && this.p > start && /\s/.test(this.s[this.p - 1])) break;
      this.p++;
    }
    const v = this.s.slice(start, this.p).trim();
    return v === '~' || v === 'null' ? null : v;
  }
}

// ---------------------------------------------------------------------------------------------
// Conformance cases

export function conformanceCases() {
  const dir = path.join(SHARED, 'conformance/cases');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => {
    const file = path.join(dir, f);
    const doc = parseYaml(fs.readFileSync(file, 'utf8'));
    let policyText;
    let policyFile;
    if (doc.policy_inline !== undefined && doc.policy_inline !== null) {
      policyText = doc.policy_inline;
    } else {
      policyFile = path.resolve(dir, doc.policy);
      policyText = fs.readFileSync(policyFile, 'utf8');
    }
    return { name: path.basename(f, '.yaml'), file, doc, policyText, policyFile };
  });
}

// The path the CLI and the filter match endpoints against: authority + path.
export function caseTarget(doc) {
  const tx = doc.request ?? {};
  return { authority: tx.authority ?? 'localhost', path: tx.path ?? '/' };
}

export function contentTypeOf(headers) {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === 'content-type') return v;
  return 'text/plain';
}

// Runs `leakscope scan` exactly as ../shared/conformance/README.md describes; returns the parsed
// JSON report and the body it would forward.
export function cliScan({ policyText, policyFile, contentType, target, direction, body, headers = [] }) {
  if (!fs.existsSync(CLI_PATH)) throw new Error(`CLI ${CLI_PATH} does not exist (set LEAKSCOPE_CLI)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'leakscope-cli-'));
  try {
    const pfile = policyFile ?? path.join(tmp, 'policy.yaml');
    if (!policyFile) fs.writeFileSync(pfile, policyText);
    const bodyFile = path.join(tmp, `${direction}.body`);
    const outFile = path.join(tmp, `${direction}.out`);
    fs.writeFileSync(bodyFile, body);
    const r = spawnSync(CLI_PATH, ['scan', '--policy', pfile, '--content-type', contentType, '--path', target,
      '--direction', direction, '--output-body', outFile, ...headers.flatMap(([k, v]) => ['--header', `${k}:${v}`]), bodyFile],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.error) throw r.error;
    // Exit 1 is a `block` decision; the report is printed all the same.
    if (r.status !== 0 && r.status !== 1) throw new Error(`leakscope scan exited ${r.status}: ${r.stderr}${r.stdout}`);
    const json = r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1);
    return { report: JSON.parse(json), body: fs.readFileSync(outFile), exitCode: r.status };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// ABI imports listed in ../shared/proxy-wasm-abi.md under "Imports the module may use"

export function allowedImportsFromSpec(mdText) {
  const start = mdText.search(/^##\s+Imports the module may use\s*$/m);
  if (start < 0) throw new Error('no "Imports the module may use" heading');
  const rest = mdText.slice(start).split('\n').slice(1).join('\n');
  const end = rest.search(/^##\s/m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const paragraphs = section.split(/\n\s*\n/);
  const names = (s) => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  // The first sentence of a paragraph: up to a '.' outside backticks that ends the sentence.
  const firstSentence = (p) => {
    let inTick = false;
    for (let k = 0; k < p.length; k++) {
      if (p[k] === '`') inTick = !inTick;
      else if (p[k] === '.' && !inTick && (k + 1 === p.length || /\s/.test(p[k + 1]))) return p.slice(0, k);
    }
    return p;
  };
  const allowed = { env: new Set(), wasi_snapshot_preview1: new Set() };
  const forbidden = new Set();
  for (const p of paragraphs) {
    const m = /Module\s+`([^`]+)`/.exec(p);
    if (m && allowed[m[1]]) {
      const sentence = firstSentence(p);
      const listStart = sentence.indexOf(':', m.index + m[0].length);
      for (const n of names(sentence.slice(listStart + 1))) {
        if (/^[a-z_0-9]+$/.test(n) && !n.endsWith('_')) allowed[m[1]].add(n);
      }
      // Later sentences of the same paragraph name what must not be imported.
      for (const n of names(p.slice(sentence.length))) forbidden.add(n);
    } else if (/never import|do not import/i.test(p)) {
      for (const n of names(p)) forbidden.add(n);
    }
  }
  for (const n of forbidden) { allowed.env.delete(n); allowed.wasi_snapshot_preview1.delete(n); }
  return { env: allowed.env, wasi: allowed.wasi_snapshot_preview1, forbidden };
}

// ---------------------------------------------------------------------------------------------
// Chunking

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Chunkings of a body: whole, one byte per callback, and seeded random splits.
export function chunkings(seeds = [1, 2, 3]) {
  const list = [
    { name: 'whole', split: (b) => [b] },
    { name: 'one byte per callback', split: (b) => [...Array(b.length).keys()].map((k) => b.subarray(k, k + 1)) },
  ];
  for (const seed of seeds) {
    list.push({
      name: `random splits (seed ${seed})`,
      split: (b) => {
        const rnd = mulberry32(seed);
        const out = [];
        let p = 0;
        while (p < b.length) {
          const n = Math.min(b.length - p, 1 + Math.floor(rnd() * 17));
          out.push(b.subarray(p, p + n));
          p += n;
        }
        return out;
      },
    });
  }
  return list;
}

// Feeds chunks through a stream body method; an empty body is one empty end-of-stream callback.
export function feed(sendBody, chunks) {
  const nonEmpty = chunks.filter((c) => c.length);
  if (nonEmpty.length === 0) return [sendBody(Buffer.alloc(0), true)];
  return nonEmpty.map((c, k) => sendBody(c, k === nonEmpty.length - 1));
}

// Reports the filter logged ("leakscope report <JSON>", level info) since log index `from`.
export function reportsSince(host, from) {
  const prefix = 'leakscope report ';
  return host.logs.slice(from)
    .filter((l) => l.level === 'info' && l.message.startsWith(prefix))
    .map((l) => JSON.parse(l.message.slice(prefix.length)));
}

// A compact view of a report's categories for comparisons: {name: {count, values}}.
export function categoriesView(report) {
  const out = {};
  for (const [name, c] of Object.entries(report?.categories ?? {})) out[name] = { count: Number(c.count), values: c.values ?? [] };
  return out;
}

export function haveCommand(cmd, args = ['--version']) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
