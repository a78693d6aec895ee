#!/usr/bin/env node
// difftest.cjs: differential testing of leash's Cedar engine against the
// reference implementation (@cedar-policy/cedar-wasm, pinned in package.json).
//
//   node difftest.cjs --leash PATH [--seed N] [--cases N] [--parse-cases N] [--dump FILE]
//                     [--index-always] [--reformat]
//
// A seeded generator makes random policy sets, entity stores and requests over
// leash's vocabulary (File/Dir/Host/MCP entities, deep Dir chains, ids with
// quotes, backslashes, NUL and non-ASCII, attributes of every Cedar type,
// expressions that hit every error source: missing entities and attributes,
// type errors, overflow, non-entity set members) plus mutated policy texts
// (deleted, inserted, swapped characters) whose accept/reject must agree. All
// cases go through `leash policy eval --batch` in one process and through
// cedar-wasm here; any difference is shrunk (policies, entities, context keys
// removed while it persists) and printed as a minimal reproducer JSON line.
// Exit status: 0 no disagreement, 1 disagreements, 2 bad usage.
//
// The wasm harness follows /work/shared/cedar/oracle/cedar-oracle.cjs (the
// project's reference oracle script): CommonJS build, policyN ids re-ordered,
// @id renames a policy like the Cedar CLI, instance reloaded after a trap.
'use strict';
require('v8').setFlagsFromString('--no-turbo-inlining'); // V8 11.3 deopt crash after ~1,450 calls
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function loadCedar() {
  const p = require.resolve('@cedar-policy/cedar-wasm/nodejs', { paths: [__dirname + '/oracle'] });
  delete require.cache[p];
  return require(p);
}
let cedar = loadCedar();

// --- arguments ---------------------------------------------------------------
const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}
const LEASH = opt('--leash');
const SEED = Number(opt('--seed', '1'));
const NCASES = Number(opt('--cases', '3000'));
const NPARSE = Number(opt('--parse-cases', '1500'));
const DUMP = opt('--dump');
// --index-always: leash sends every request through its policy index (small sets otherwise scan);
// --reformat: leash decides on `leash policy fmt`'s output of each policy text
const LEASH_ARGS = ['--index-always', '--reformat'].filter((a) => args.includes(a));
if (!LEASH) {
  process.stderr.write('usage: difftest.cjs --leash PATH [--seed N] [--cases N] [--parse-cases N]\n');
  process.exit(2);
}

// --- seeded randomness -------------------------------------------------------
let state = SEED >>> 0;
function rnd() { // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rnd() * n);
const pick = (a) => a[int(a.length)];
const chance = (p) => rnd() < p;

// --- vocabulary --------------------------------------------------------------
const ACTIONS = ['FileOpen', 'FileOpenReadOnly', 'FileOpenReadWrite', 'ProcessExec',
  'NetworkConnect', 'HttpRewrite', 'McpCall'];
const ODD = ['"', '\\', '\0', 'é', '*', ' ', '\n', '\r', '\t', '::', '\u{1F600}', "'", '\u007f', '\u2028'];
const SEGS = ['a', 'b', 'work', 'etc', 'usr', 'bin', 'x y', 'é', 'q*', 'ab'];

function oddId(base) {
  if (!chance(0.15)) return base;
  const i = int(base.length + 1);
  return base.slice(0, i) + pick(ODD) + base.slice(i);
}

function makeUniverse() {
  const ents = new Map(); // key -> {uid, attrs, parents}
  const key = (u) => u.type + '\u0001' + u.id;
  function add(u) {
    if (!ents.has(key(u))) ents.set(key(u), { uid: u, attrs: {}, parents: [] });
    return ents.get(key(u));
  }
  // a deep Dir chain and files in it, with the implied hierarchy as parents
  const depth = 1 + int(chance(0.2) ? 25 : 5);
  const dirs = ['/'];
  let p = '/';
  for (let i = 0; i < depth; i++) {
    p += oddId(pick(SEGS)) + '/';
    dirs.push(p);
  }
  for (let i = 0; i < dirs.length; i++) {
    const d = add({ type: 'Dir', id: dirs[i] });
    if (i > 0 && !chance(0.1)) d.parents.push({ type: 'Dir', id: dirs[i - 1] });
  }
  const files = [];
  for (let i = 0; i < 3; i++) {
    const dir = pick(dirs);
    const f = add({ type: 'File', id: dir + oddId(pick(SEGS)) });
    if (!chance(0.1)) f.parents.push({ type: 'Dir', id: dir });
    files.push(f.uid);
  }
  const hosts = [];
  for (const h of ['api.github.com', 'github.com', 'example.org:443', '10.0.0.1']) {
    const e = add({ type: 'Host', id: oddId(h) });
    e.parents.push({ type: 'Host', id: '*' });
    if (h.split('.').length > 2) e.parents.push({ type: 'Host', id: '*.' + h.split('.').slice(1).join('.') });
    hosts.push(e.uid);
  }
  add({ type: 'Host', id: '*' });
  const server = add({ type: 'MCP::Server', id: oddId('mcp.example.com') });
  const tool = add({ type: 'MCP::Tool', id: oddId('search') });
  tool.parents.push(server.uid);
  const users = [];
  for (const u of ['alice', 'bob']) {
    const e = add({ type: 'User', id: oddId(u) });
    users.push(e.uid);
  }
  add({ type: 'Group', id: 'admins' });
  if (chance(0.7)) ents.get(key(users[0])).parents.push({ type: 'Group', id: 'admins' });
  for (const a of ACTIONS) add({ type: 'Action', id: a });
  ents.get(key({ type: 'Action', id: 'FileOpenReadOnly' })).parents.push({ type: 'Action', id: 'FileOpen' });
  ents.get(key({ type: 'Action', id: 'FileOpenReadWrite' })).parents.push({ type: 'Action', id: 'FileOpen' });
  const all = [...ents.values()];
  // attributes of every type
  for (const e of all) {
    if (e.uid.type === 'Action' || chance(0.3)) continue;
    const n = int(4);
    for (let i = 0; i < n; i++) e.attrs[pick(ATTRS)] = randValue(all.map((x) => x.uid), 2);
  }
  // some entities are referenced but do not exist
  const ghosts = [{ type: 'File', id: '/ghost' }, { type: 'Dir', id: '/ghost/' }, { type: 'User', id: 'ghost' }];
  return { ents, all, dirs, files, hosts, users, server: server.uid, tool: tool.uid, ghosts };
}

const ATTRS = ['owner', 'size', 'tags', 'meta', 'path', 'name', 'a b', '', 'level', 'flag'];
const CTXKEYS = ['header', 'value', 'hostname', 'n', 'flag', 'tags', 'rec'];

function randValue(uids, d) {
  switch (int(d > 0 ? 7 : 4)) {
    case 0: return chance(0.5);
    case 1: return pick([0, 1, -1, 7, 42, 9007199254740991, -9007199254740991]);
    case 2: return oddId(pick(['', 'x', 'read', 'Bearer t', '/work/a', 'a*b', 'é']));
    case 3: return { __entity: pick(uids) };
    case 4: return Array.from({ length: int(4) }, () => randValue(uids, d - 1));
    case 5: { const r = {}; for (let i = int(3); i > 0; i--) r[pick(ATTRS)] = randValue(uids, d - 1); return r; }
    default: return Array.from({ length: int(3) }, () => ({ __entity: pick(uids) }));
  }
}

// --- Cedar text --------------------------------------------------------------
function esc(s) {
  let o = '';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') o += '\\"';
    else if (ch === '\\') o += '\\\\';
    else if (ch === '\0') o += chance(0.5) ? '\\0' : '\\u{0}';
    else if (ch === '\n') o += '\\n';
    else if (ch === '\t') o += '\\t';
    else if (c < 0x20 || c === 0x7f) o += '\\u{' + c.toString(16) + '}';
    else if (c < 0x7f && chance(0.03)) o += '\\x' + c.toString(16).padStart(2, '0');
    else if (c > 0x7f && chance(0.3)) o += '\\u{' + c.toString(16) + '}';
    else o += ch;
  }
  return o;
}
const uidText = (u) => `${u.type}::"${esc(u.id)}"`;

function patternText() {
  // pieces: literal chars, wildcards, escaped stars
  let o = '';
  for (let i = int(5); i > 0; i--) {
    o += pick(['*', '\\*', 'a', 'b', '/', '.', 'é', 'git', 'hub', '\\u{2a}', ' ', 'x']);
  }
  return o;
}

function entityRef(U) {
  return pick([...U.all.map((e) => e.uid), ...U.ghosts]);
}

function expr(U, d) {
  if (chance(0.03)) return pick(TRICKY_EXPR);
  if (d <= 0) return leaf(U);
  switch (int(22)) {
    case 0: return `${expr(U, d - 1)} && ${expr(U, d - 1)}`;
    case 1: return `${expr(U, d - 1)} || ${expr(U, d - 1)}`;
    case 2: return `!(${expr(U, d - 1)})`;
    case 3: return `(${expr(U, d - 1)})`;
    case 4: return `${operand(U, d - 1)} == ${operand(U, d - 1)}`;
    case 5: return `${operand(U, d - 1)} != ${operand(U, d - 1)}`;
    case 6: return `${pick(['principal', 'resource', 'action', operand(U, 0)])} in ${chance(0.5) ? uidText(entityRef(U)) : setText(U, d - 1)}`;
    case 7: return `${pick(['principal', 'resource', 'context', operand(U, 0)])} has ${pick(['owner', 'size', 'meta.level', '"a b"', '""', 'tags', 'meta.owner.name', 'header'])}`;
    case 8: return `${pick(['context.header', 'context.hostname', 'resource.path', 'principal.name', operand(U, 0)])} like "${patternText()}"`;
    case 9: return `${pick(['principal', 'resource', operand(U, 0)])} is ${pick(['File', 'Dir', 'Host', 'User', 'MCP::Tool', 'Action'])}${chance(0.4) ? ' in ' + uidText(entityRef(U)) : ''}`;
    case 10: return `${arith(U, d - 1)} ${pick(['<', '<=', '>', '>='])} ${arith(U, d - 1)}`;
    case 11: return `if ${expr(U, d - 1)} then ${expr(U, d - 1)} else ${expr(U, d - 1)}`.replace(/^/, '(') + ')';
    case 12: return `${setText(U, d - 1)}.contains(${operand(U, d - 1)})`;
    case 13: return `${setText(U, d - 1)}.${pick(['containsAll', 'containsAny'])}(${setText(U, d - 1)})`;
    case 14: return `${operand(U, d - 1)}.isEmpty()`;
    case 15: return `resource in ${pick(['Dir', 'Host'])}::"${esc(pick([...U.dirs, '*', '*.github.com']))}"`;
    case 16: return `context.${pick(CTXKEYS)} == ${operand(U, d - 1)}`;
    case 17: return `principal.${pick(['owner', 'level', 'tags'])} ${pick(['==', '!=', 'in'])} ${operand(U, d - 1)}`;
    default: return leaf(U);
  }
}

function arith(U, d) {
  if (d <= 0 || chance(0.4)) return pick(['1', '-3', '9223372036854775807', '-9223372036854775808', 'context.n', 'principal.level', 'resource.size', '0']);
  return `${arith(U, d - 1)} ${pick(['+', '-', '*'])} ${arith(U, d - 1)}`;
}

function setText(U, d) {
  const n = int(4);
  const items = [];
  for (let i = 0; i < n; i++) items.push(chance(0.8) ? uidText(entityRef(U)) : operand(U, d - 1));
  return '[' + items.join(', ') + ']';
}

function operand(U, d) {
  switch (int(d > 0 ? 12 : 9)) {
    case 0: return uidText(entityRef(U));
    case 1: return `"${esc(oddId(pick(['x', 'read', 'Bearer t', '/work/a', ''])))}"`;
    case 2: return pick(['1', '0', '-1', '42', '9007199254740991']);
    case 3: return pick(['true', 'false']);
    case 4: return pick(['principal', 'resource', 'action']);
    case 5: return `context.${pick(CTXKEYS)}`;
    case 6: return `context["${esc(pick(CTXKEYS))}"]`;
    case 7: return `${pick(['principal', 'resource'])}.${pick(['owner', 'size', 'tags', 'meta', 'name'])}`;
    case 8: return `resource["${esc(pick(ATTRS))}"]`;
    case 9: return setText(U, d - 1);
    case 10: return `{${pick(['a', '"b c"', 'owner'])}: ${operand(U, d - 1)}, z: ${operand(U, d - 1)}}`;
    default: return `(${expr(U, d - 1)})`;
  }
}

function leaf(U) {
  return pick(['true', 'false', `principal == ${uidText(pick(U.users))}`, `resource in ${uidText(pick(U.all).uid)}`,
    'context.flag', `action == Action::"${pick(ACTIONS)}"`, `principal in Group::"admins"`]);
}

function scopeText(U, v) {
  if (chance(0.4)) return v;
  if (v === 'action') {
    switch (int(4)) {
      case 0: return 'action';
      case 1: return `action == Action::"${pick(ACTIONS)}"`;
      case 2: return `action in [${Array.from({ length: int(3) }, () => `Action::"${pick(ACTIONS)}"`).join(', ')}]`;
      default: return `action in Action::"${pick(['FileOpen', 'McpCall'])}"`;
    }
  }
  const types = v === 'principal' ? ['User', 'Group'] : ['File', 'Dir', 'Host', 'MCP::Tool'];
  switch (int(5)) {
    case 0: return v;
    case 1: return `${v} == ${uidText(entityRef(U))}`;
    case 2: return `${v} in ${uidText(entityRef(U))}`;
    case 3: return `${v} is ${pick(types)}`;
    default: return `${v} is ${pick(types)} in ${uidText(entityRef(U))}`;
  }
}

// Snippets at the edges of the grammar and the semantics (each one was a question
// asked of the reference while building the engine).
const TRICKY_EXPR = ['!!!!true', '!!!!!true', '----1 == 1', '-----1 == 1', '1 == 1 == 1', '"a\\*" == "a"',
  '"\\x7f" == "\\u{7f}"', '"\\x80" == "a"', '"\\u{110000}" == "a"', '"\\u{d800}" == "a"', 'principal.if',
  'principal has then', 'if::"a" == if::"a"', 'principal is if', '9223372036854775808 == 1',
  '-9223372036854775808 == -9223372036854775807 - 1', '{a:1,a:2} == {a:1}', '{a:1,} == {a:1}', '[1,] == [1]',
  'principal.__cedar', '__cedar::"a" == __cedar::"a"', 'context has "__cedar"', 'principal["a"]["b"]',
  'principal[1]', 'true && if true then true else false', '(if true then 1 else 2) == 1',
  'principal is a::b in [User::"x"]', 'principal.foo()', '[1].isEmpty(1)', '[1,2].contains()', 'foo(1)',
  'permit::"a" == permit::"a"', 'principal has a.if', 'context has a."b"', '1.foo', '-1.foo', '- 1 == -1', '"\\v" == "v"',
  'true\u00a0', 'true /* c */', '1 < 2 < 3', 'principal has "a".b', 'principal like "a"', '"é" like "\\u{e9}"',
  '"\\u{0}" == "\\0"', 'Action::"x" in Action::"x"', '!principal', '-principal', '[].containsAny(1)', '{} == {}',
  '[[]] == [[]]', 'action is Action', 'resource is MCP::Tool in MCP::Server::"mcp.example.com"', 'context',
  'true || 1', '1 || true', 'false && 1', 'false || 1', '"a" < "b"', '9223372036854775807 + 1 == 0',
  '- -9223372036854775808 == 1', '2 * -4611686018427387905 == 0', 'principal in [1]', 'principal in 1', '1 in [1]',
  'resource in [Dir::"/", 1]', 'File::"/nope" has path', 'File::"/nope".path == 1', 'principal in principal',
  '"abc" like "\\x2A"', '"a*c" like "a\\*c"', '"" like "*"', '"aXbXc" like "a*b*c"', '"abc" like "a**c"',
  'context.rec.a == 1', 'context["rec"]["a b"] == 1', '{"if": 1}["if"] == 1', '{"a b": 1} == {"a b": 1}',
  'Group::"admins" is Group', 'true\n// comment\n&& true', '((((((((((true))))))))))', 'principal is User::X',
  'User::"a" == User :: "a"', 'User::"a" == User::\n"a"', 'ip("1.2.3.4") == ip("1.2.3.4")', 'principal.isIpv4()',
  'context.hostname like "*.github.com"', '"a\\\nb" == "ab"', '"a\rb" == "ab"', '"a\nb" like "a*"',
  'true\u2028&& true', 'true\u3000&&\u0085true', '"\\u{10ffff}" == "x"', '"a" like "\\u{2a}\\\\"', '[1, [2, 3], {a: 4}] == [{a: 4}, [3, 2], 1]', '{a: [1, 1]} == {a: [1]}'];
const TRICKY_POLICY = ['permit(principal, action == Foo::"x", resource);', 'permit(principal, action in [Action::"a", B::"x"], resource);',
  'permit(principal in ?principal, action, resource);', 'permit(principal, action is Action, resource);',
  'permit(principal, action, resource,);', 'permit(principal == Action::"x", action, resource);',
  'permit(principal, action in [], resource);', 'permit(principal, action, resource is A::Action);',
  '@foo permit(principal, action, resource);', '@a("x") @a("y") permit(principal, action, resource);',
  '@if("x") @__cedar("y") permit(principal, action, resource);', 'permit(action, principal, resource);',
  'permit(principal, action, resource) when {};', 'permit(principal, action, resource) when { true } unless { false } when { 1 };',
  'permit(principal, action, resource)', 'permit(principal, action, resource) when { true }', 'forbid (principal,action,resource);;',
  'permit(principal, action == A::Action::"x", resource);', 'permit(principal is User in Group::"admins", action, resource);',
  'permit(principal, action, resource) when { principal == User::"alice" } // c', '// only a comment', '',
  '// x\rpermit(principal, action, resource);', '// x\r\nforbid(principal, action, resource);', '// x\u2028permit(principal, action, resource);',
  'permit(principal, action == Action::"FileOpen", resource in Dir::"/");\npermit(principal, action, resource) when { context.n > 3 };',
  '@id("a") permit(principal, action, resource);\n@id("a") forbid(principal, action, resource);',
  'PERMIT(principal, action, resource);', 'permit(principal, action, resource) when { true } when;',
  'permit(principal == User::"a" , action == Action::"FileOpen" , resource == File::"/a\\u{0}b");'];

function policyText(U, i) {
  if (chance(0.04)) return pick(TRICKY_POLICY);
  let s = '';
  if (chance(0.15)) s += `@id("p${i}${pick(['', 'x', ''])}")\n`;
  if (chance(0.1)) s += '@comment("é \\"quoted\\"")\n';
  s += `${chance(0.8) ? 'permit' : 'forbid'} (${scopeText(U, 'principal')}, ${scopeText(U, 'action')}, ${scopeText(U, 'resource')})`;
  for (let n = int(3); n > 0; n--) s += `\n  ${chance(0.75) ? 'when' : 'unless'} { ${expr(U, int(3))} }`;
  return s + ';' + (chance(0.1) ? ' // trailing comment' : '');
}

function contextValue(U) {
  const c = {};
  for (const k of CTXKEYS) {
    if (!chance(0.6)) continue;
    if (k === 'header') c[k] = pick(['Authorization', 'X-Api-Key', 'a*b']);
    else if (k === 'n') c[k] = pick([0, 5, -1, 9007199254740991]);
    else if (k === 'flag') c[k] = chance(0.7) ? chance(0.5) : 'yes';
    else c[k] = randValue(U.all.map((e) => e.uid), 1);
  }
  return c;
}

function makeCase(n) {
  const U = makeUniverse();
  const pols = Array.from({ length: 1 + int(chance(0.2) ? 30 : 5) }, (_, i) => policyText(U, i));
  const act = chance(0.95) ? pick(ACTIONS) : 'Nope';
  const resPool = act === 'NetworkConnect' || act === 'HttpRewrite' ? U.hosts
    : act === 'McpCall' ? [U.tool, U.server] : [...U.files, ...U.dirs.map((d) => ({ type: 'Dir', id: d }))];
  const entities = U.all.filter(() => !chance(0.05)).map((e) => JSON.parse(JSON.stringify(e)));
  // entity-store edge cases Cedar has rules for
  if (entities.length > 2 && chance(0.08)) {
    const e = pick(entities);
    switch (int(6)) {
      case 0: entities.push(JSON.parse(JSON.stringify(e))); break; // identical duplicate: accepted
      case 1: entities.push({ ...JSON.parse(JSON.stringify(e)), attrs: { zz: 1 } }); break; // differing: rejected
      case 2: delete e[pick(['attrs', 'parents'])]; break; // required fields
      case 3: e.tags = {}; e.extra = 1; break; // ignored fields
      case 4: e.parents.push(e.uid); break; // a cycle
      default: { const f = pick(entities); e.parents.push(f.uid); f.parents.push(e.uid); } // maybe a cycle
    }
  }
  return {
    tag: 'case' + n,
    policies: pols.join('\n'),
    pols,
    entities,
    principal: pick([...U.users, { type: 'User', id: 'ghost' }]),
    action: { type: 'Action', id: act },
    resource: chance(0.9) ? pick(resPool) : pick(U.ghosts),
    context: contextValue(U),
  };
}

function mutate(text) {
  const noise = [';', '(', ')', '{', '}', '[', ']', '"', ',', '.', ':', '::', '=', '==', '!', '&&', '||',
    '<', '>', '@', '*', '\\', ' ', 'in', 'is', 'has', 'like', 'if', 'then', 'when', 'x', '1', '-', '+', '/', '?', '\n', '/*',
    '//', '\r', '\u00a0', '\u2028', '\0', '\t', 'é'];
  let t = Array.from(text); // code points: never split a surrogate pair
  for (let k = 1 + int(3); k > 0; k--) {
    const i = int(t.length + 1);
    switch (int(4)) {
      case 0: t = [...t.slice(0, i), ...t.slice(i + 1 + int(3))]; break;
      case 1: t = [...t.slice(0, i), pick(noise), ...t.slice(i)]; break;
      case 2: if (i + 1 < t.length) t = [...t.slice(0, i), t[i + 1], t[i], ...t.slice(i + 2)]; break;
      default: { const j = int(t.length); t = [...t.slice(0, i), ...t.slice(j, j + 1 + int(6)), ...t.slice(i)]; }
    }
  }
  return t.join('');
}

// --- the reference -----------------------------------------------------------
function slim(e) { return e.message || String(e); }

function splitPolicies(text) {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type !== 'success') return { ok: false, errors: parts.errors.map(slim) };
  if (parts.policy_templates.length) return { ok: false, template: true, errors: ['template'] };
  const n = parts.policies.length;
  const lexIds = Array.from({ length: n }, (_, i) => 'policy' + i).sort();
  const ordered = new Array(n);
  lexIds.forEach((id, k) => { ordered[Number(id.slice(6))] = parts.policies[k]; });
  const out = {};
  for (let i = 0; i < n; i++) {
    const j = cedar.policyToJson(ordered[i]);
    if (j.type !== 'success') return { ok: false, errors: j.errors.map(slim) };
    const ann = j.json.annotations || {};
    const id = typeof ann.id === 'string' ? ann.id : 'policy' + i;
    if (id in out) return { ok: false, errors: ['duplicate id ' + id] };
    out[id] = ordered[i];
  }
  return { ok: true, staticPolicies: out };
}

function reference(c) {
  try {
    const s = splitPolicies(c.policies);
    if (!s.ok) return { parse: false, template: !!s.template, errors: s.errors };
    const r = cedar.isAuthorized({
      principal: c.principal, action: c.action, resource: c.resource, context: c.context,
      policies: { staticPolicies: s.staticPolicies }, entities: c.entities,
    });
    if (r.type !== 'success') return { request_error: r.errors.map(slim).join('; ') };
    const d = r.response.diagnostics;
    return { decision: r.response.decision, reasons: [...d.reason].sort(), errors: d.errors.map((e) => e.policyId).sort() };
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) cedar = loadCedar();
    return { harness_error: String(e.message || e) };
  }
}

// --- leash ------------------------------------------------------------------
function line(c) {
  return JSON.stringify({ tag: c.tag, policies: c.policies, entities: c.entities, principal: c.principal,
    action: c.action, resource: c.resource, context: c.context });
}

function leashBatch(cases) {
  const r = spawnSync(LEASH, ['policy', 'eval', '--batch', ...LEASH_ARGS], { input: cases.map(line).join('\n') + '\n', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error('leash exited ' + r.status + ': ' + r.stderr);
  return r.stdout.toString().split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

// Compares; returns null when they agree, 'skip' when leash rejects a construct it
// documents as unsupported, else a description.
function compare(ref, got) {
  if (ref.harness_error) return 'skip';
  if (ref.parse !== false && got.parse_errors && got.parse_errors.every((e) => e.code.startsWith('unsupported.'))) return 'skip';
  if (ref.request_error) return got.decision === null && got.request_error ? null : `reference rejects the request (${ref.request_error})`;
  if (got.request_error) return `leash rejects the request (${got.request_error})`;
  const gotParse = !got.parse_errors;
  if (ref.parse === false) {
    if (ref.template && !gotParse) return null;
    return gotParse ? `reference rejects the text (${ref.errors[0]}), leash accepts` : null;
  }
  if (!gotParse) {
    if (got.parse_errors.every((e) => e.code.startsWith('unsupported.'))) return 'skip';
    return `leash rejects (${got.parse_errors[0].code}: ${got.parse_errors[0].message}), reference accepts`;
  }
  if (got.decision !== ref.decision) return `decision ${got.decision} vs ${ref.decision}`;
  if (JSON.stringify([...got.reasons].sort()) !== JSON.stringify(ref.reasons)) return `reasons ${JSON.stringify(got.reasons)} vs ${JSON.stringify(ref.reasons)}`;
  if (JSON.stringify([...got.errors].sort()) !== JSON.stringify(ref.errors)) return `errors ${JSON.stringify(got.errors)} vs ${JSON.stringify(ref.errors)}`;
  return null;
}

function disagrees(c) {
  const why = compare(reference(c), leashBatch([c])[0]);
  return why && why !== 'skip' ? why : null;
}

// Greedy shrinking: drop policies, entities, context keys, characters while the case still disagrees.
function shrink(c) {
  let cur = { ...c };
  const tryCase = (n) => (disagrees(n) ? (cur = n, true) : false);
  if (cur.pols) {
    for (let i = cur.pols.length - 1; i >= 0 && cur.pols.length > 1; i--) {
      const pols = cur.pols.filter((_, k) => k !== i);
      tryCase({ ...cur, pols, policies: pols.join('\n') });
    }
  }
  for (let i = cur.entities.length - 1; i >= 0; i--) {
    tryCase({ ...cur, entities: cur.entities.filter((_, k) => k !== i) });
  }
  for (const k of Object.keys(cur.context)) {
    const ctx = { ...cur.context };
    delete ctx[k];
    tryCase({ ...cur, context: ctx });
  }
  if (!cur.pols || cur.pols.length === 1) {
    // character-level: remove chunks of the policy text
    for (let size = 16; size >= 1; size = Math.floor(size / 2)) {
      for (let i = 0; i + size <= cur.policies.length;) {
        const t = cur.policies.slice(0, i) + cur.policies.slice(i + size);
        if (!tryCase({ ...cur, pols: undefined, policies: t })) i += size;
      }
    }
  }
  return cur;
}

// --- main -------------------------------------------------------------------
const t0 = Date.now();
const cases = [];
for (let i = 0; i < NCASES; i++) cases.push(makeCase(i));
for (let i = 0; i < NPARSE; i++) {
  const c = makeCase(NCASES + i);
  c.policies = mutate(c.policies);
  c.pols = undefined;
  c.tag = 'mut' + i;
  cases.push(c);
}
if (DUMP) fs.writeFileSync(DUMP, cases.map(line).join('\n') + '\n');
const got = leashBatch(cases);
let agree = 0, skipped = 0, rejectedBoth = 0, allows = 0, errs = 0, forbids = 0;
const bad = [];
for (let i = 0; i < cases.length; i++) {
  const ref = reference(cases[i]);
  const why = compare(ref, got[i]);
  if (why === 'skip') skipped++;
  else if (why) bad.push([cases[i], why]);
  else {
    agree++;
    if (ref.parse === false) rejectedBoth++;
    if (ref.decision === 'allow') allows++;
    if (ref.decision === 'deny' && ref.reasons.length) forbids++;
    if (ref.errors && ref.parse !== false && ref.errors.length) errs++;
  }
}
console.log(`# seed ${SEED}: ${cases.length} cases (${NCASES} generated, ${NPARSE} mutated), ${agree} agree ` +
  `(${allows} allow, ${forbids} denied by a forbid, ${errs} with policy errors, ${rejectedBoth} rejected by both), ${skipped} skipped, ` +
  `${bad.length} disagree, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
for (const [c, why] of bad.slice(0, 3)) {
  const m = shrink(c);
  const mini = JSON.parse(line(m));
  console.log(`# DISAGREEMENT (${c.tag}): ${disagrees(m) || why}`);
  console.log('# minimal reproducer (one batch line; run it through leash policy eval --batch and cedar-wasm):');
  console.log(JSON.stringify(mini));
  console.log('# policies:\n' + m.policies.split('\n').map((l) => '#   ' + l).join('\n'));
}
process.exitCode = bad.length ? 1 : 0;
