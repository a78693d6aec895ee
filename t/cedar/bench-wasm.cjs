#!/usr/bin/env node
// bench-wasm.cjs: the policies, requests and cedar-wasm side of scripts/bench-cedar.
//
//   node bench-wasm.cjs gen DIR N...      write DIR/policies-N.cedar for each N and DIR/requests.jsonl
//   node bench-wasm.cjs parse FILE        best-of-5 preparse time of FILE (ms)
//   node bench-wasm.cjs decide FILE REQS  ns per decision with cedar-wasm (policies preparsed once)
//
// Requests carry the entities leash's provider would build (the implied
// hierarchy, see reactor/cedar/entities.c), so both engines decide on the same
// entities. The allow count lets the script check the decisions agree.
'use strict';
require('v8').setFlagsFromString('--no-turbo-inlining');
const fs = require('fs');
const path = require('path');
const cedar = require(require.resolve('@cedar-policy/cedar-wasm/nodejs', { paths: [path.join(__dirname, 'oracle')] }));

let seed = 7;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
const int = (n) => Math.floor(rnd() * n);

function policy(i) {
  switch (i % 6) {
    // the seed's style: the resource constraint in a condition
    case 0: return `permit (principal, action in [Action::"FileOpen", Action::"FileOpenReadOnly"], resource) when { resource in [Dir::"/work/p${i}/", Dir::"/srv/p${i}/"] };`;
    case 1: return `forbid (principal, action == Action::"FileOpenReadWrite", resource == File::"/etc/f${i}");`;
    case 2: return `permit (principal, action == Action::"NetworkConnect", resource in Host::"*.d${i}.com");`;
    case 3: return `forbid (principal, action == Action::"McpCall", resource == MCP::Tool::"tool${i}");`;
    case 4: return `permit (principal, action == Action::"ProcessExec", resource in Dir::"/opt/t${i}/") when { context has argv && context.argv like "*--safe*" };`;
    default: return `permit (principal, action == Action::"HttpRewrite", resource == Host::"api${i}.example.com") when { context.header == "X-Key-${i}" && context.value == "v" };`;
  }
}

function request(n) {
  const i = int(n);
  const p = { ptype: 'User', pid: 'agent' };
  switch (int(4)) {
    case 0: return { ...p, action: 'FileOpenReadOnly', rtype: 'File', rid: `/work/p${i - (i % 6)}/src/a${i}.c` };
    case 1: return { ...p, action: 'FileOpenReadWrite', rtype: 'File', rid: `/etc/f${i - (i % 6) + 1}` };
    case 2: return { ...p, action: 'NetworkConnect', rtype: 'Host', rid: `api.d${i - (i % 6) + 2}.com:443` };
    default: return { ...p, action: 'McpCall', rtype: 'MCP::Tool', rid: `tool${i - (i % 6) + 3}`, server: 'mcp.local' };
  }
}

// The implied hierarchy, as cedar_entities_imply builds it.
function implied(r) {
  const parents = [];
  if (r.rtype === 'File' || r.rtype === 'Dir') {
    const end = r.rtype === 'Dir' ? r.rid.length - 1 : r.rid.length;
    for (let k = end - 1; k >= 0; k--) if (r.rid[k] === '/') parents.push({ type: 'Dir', id: r.rid.slice(0, k + 1) });
  } else if (r.rtype === 'Host') {
    const colon = r.rid.lastIndexOf(':');
    const host = colon > 0 ? r.rid.slice(0, colon) : r.rid;
    parents.push({ type: 'Host', id: '*' });
    if (colon > 0) parents.push({ type: 'Host', id: host });
    const labels = host.split('.');
    for (let k = 1; k < labels.length; k++) parents.push({ type: 'Host', id: '*.' + labels.slice(k).join('.') });
  } else if (r.rtype === 'MCP::Tool' && r.server) {
    parents.push({ type: 'MCP::Server', id: r.server });
  }
  const ents = [{ uid: { type: r.rtype, id: r.rid }, attrs: {}, parents }];
  if (r.action === 'FileOpenReadOnly' || r.action === 'FileOpenReadWrite') {
    ents.push({ uid: { type: 'Action', id: r.action }, attrs: {}, parents: [{ type: 'Action', id: 'FileOpen' }] });
  }
  return ents;
}

const [mode, a1, ...rest] = process.argv.slice(2);
if (mode === 'gen') {
  for (const n of rest.map(Number)) {
    fs.writeFileSync(path.join(a1, `policies-${n}.cedar`), Array.from({ length: n }, (_, i) => policy(i)).join('\n') + '\n');
  }
  const max = Math.max(...rest.map(Number));
  fs.writeFileSync(path.join(a1, 'requests.jsonl'), Array.from({ length: 600 }, () => JSON.stringify(request(Math.min(max, 60)))).join('\n') + '\n');
} else if (mode === 'parse') {
  const text = fs.readFileSync(a1, 'utf8');
  let best = Infinity;
  for (let k = 0; k < 5; k++) {
    const t0 = process.hrtime.bigint();
    const r = cedar.preparsePolicySet('p' + k, { staticPolicies: text });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.type !== 'success') throw new Error('wasm cannot parse ' + a1);
    best = Math.min(best, t);
  }
  console.log(JSON.stringify({ parse_ms: +best.toFixed(3) }));
} else if (mode === 'decide') {
  const text = fs.readFileSync(a1, 'utf8');
  if (cedar.preparsePolicySet('bench', { staticPolicies: text }).type !== 'success') throw new Error('wasm cannot parse ' + a1);
  const reqs = fs.readFileSync(rest[0], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  const calls = reqs.map((r) => ({
    principal: { type: r.ptype, id: r.pid }, action: { type: 'Action', id: r.action },
    resource: { type: r.rtype, id: r.rid }, context: {}, preparsedPolicySetId: 'bench', entities: implied(r),
  }));
  let decisions = 0, allows = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < 1e9 || decisions < calls.length) {
    for (const c of calls) {
      const r = cedar.statefulIsAuthorized(c);
      if (r.type !== 'success') throw new Error(JSON.stringify(r.errors));
      if (decisions < calls.length && r.response.decision === 'allow') allows++;
      decisions++;
    }
    elapsed = Number(process.hrtime.bigint() - t0);
  }
  console.log(JSON.stringify({ decisions, ns_per_decision: Math.round(elapsed / decisions), allows }));
} else {
  process.stderr.write('usage: bench-wasm.cjs gen DIR N... | parse FILE | decide FILE REQUESTS\n');
  process.exit(2);
}
