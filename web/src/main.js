// main.js: leash's Control UI: live events, enforcement status, mode switch,
// the policy editor, and "Allow this" / "Deny this".
//
// One page, no framework: the event table is virtualised by hand (only the
// rows in view exist in the DOM, so 100,000 events stay smooth), the editor
// is CodeMirror 6. Everything talks to the control server it was served
// from: the WebSocket /api for events, REST for the rest; the session
// cookie authenticates both (see reactor/control.c).
import './style.css';
import { editorState, makeEditor, setText } from './editor.js';
import { lineDiff } from './diff.js';

const MAX_EVENTS = 100000;
const ROW_H = 24;

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (k === 'class') e.className = v;
		else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v);
	}
	for (const k of kids) e.append(k);
	return e;
};

// ---- API ------------------------------------------------------------------

async function api(method, path, body, type = 'application/json') {
	const init = { method, headers: {} };
	if (body !== undefined) {
		init.body = type === 'application/json' ? JSON.stringify(body) : body;
		init.headers['Content-Type'] = type;
	}
	const r = await fetch(path, init);
	let j = null;
	try {
		j = await r.json();
	} catch (e) {
		j = { error: { message: 'bad answer from leash (' + r.status + ')' } };
	}
	return { ok: r.ok, status: r.status, body: j };
}

function toast(text, kind = 'error') {
	const t = el('div', { class: 'toast ' + kind, 'data-testid': 'toast' }, text);
	$('#toasts').append(t);
	setTimeout(() => t.remove(), kind === 'error' ? 12000 : 4000);
}

// ---- state ----------------------------------------------------------------

const state = {
	rows: [], // newest first; each {ev, count}
	shown: [], // rows passing the filters
	counts: { allow: 0, deny: 0, would_deny: 0, total: 0 },
	lastSeq: 0,
	selected: null,
	mode: '?',
	filter: { kind: '', decision: '', text: '' },
	dropped: 0,
};

const keyOf = (ev) => [ev.kind, ev.action, ev.resource, ev.decision, ev.exe].join('\u0001');

function matches(ev) {
	const f = state.filter;
	if (f.kind && !(ev.kind || '').startsWith(f.kind)) return false;
	if (f.decision === 'none' ? ev.decision : f.decision && ev.decision !== f.decision) return false;
	if (f.text) {
		const hay = (ev.kind + ' ' + (ev.resource || '') + ' ' + (ev.exe || '') + ' ' +
			(ev.comm || '') + ' ' + JSON.stringify(ev.details || {})).toLowerCase();
		if (!hay.includes(f.text.toLowerCase())) return false;
	}
	return true;
}

function addEvent(ev) {
	if (ev.seq <= state.lastSeq) return; // resumed streams may repeat
	state.lastSeq = ev.seq;
	state.counts.total++;
	if (ev.decision) state.counts[ev.decision] = (state.counts[ev.decision] || 0) + 1;
	if (ev.kind === 'mode.change' && ev.details) setMode(ev.details.to);
	if (ev.kind === 'policy.change') loadPolicy(false);
	const top = state.rows[0];
	if (top && keyOf(top.ev) === keyOf(ev)) {
		top.count++;
		top.ev = ev;
	} else {
		const row = { ev, count: 1 };
		state.rows.unshift(row);
		if (matches(ev)) state.shown.unshift(row);
		if (state.rows.length > MAX_EVENTS) {
			const gone = state.rows.pop();
			if (state.shown[state.shown.length - 1] === gone) state.shown.pop();
		}
	}
	scheduleRender();
}

function refilter() {
	state.shown = state.rows.filter((r) => matches(r.ev));
	scheduleRender();
}

// ---- the live stream ------------------------------------------------------

let ws = null;
let retry = 0;

function setConn(s) {
	const c = $('#conn');
	c.textContent = s;
	c.dataset.state = s;
}

function connect() {
	const proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
	const since = state.lastSeq ? '?since=' + state.lastSeq : '';
	setConn('connecting');
	ws = new WebSocket(proto + location.host + '/api' + since);
	ws.onopen = () => {
		retry = 0;
		setConn('live');
	};
	ws.onmessage = (m) => {
		const j = JSON.parse(m.data);
		if (j.type === 'hello') {
			setMode(j.mode);
		} else if (j.type === 'heartbeat') {
			setMode(j.mode);
			setDropped(j.dropped);
		} else if (j.type === 'dropped') {
			setDropped(j.dropped);
		} else if (j.seq !== undefined) {
			addEvent(j);
		}
	};
	ws.onclose = () => {
		setConn('disconnected');
		retry = Math.min(retry + 1, 5);
		setTimeout(connect, retry * 1000);
	};
}

function setDropped(n) {
	state.dropped = n;
	$('#dropped').textContent = n ? n + ' events not shown (browser too slow)' : '';
}

// ---- the table (virtualised) ----------------------------------------------

let renderPending = false;
function scheduleRender() {
	if (renderPending) return;
	renderPending = true;
	requestAnimationFrame(() => {
		renderPending = false;
		render();
	});
}

function fmtTime(ns) {
	const d = new Date(Number(BigInt(ns) / 1000000n));
	return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function rowEl(row, i) {
	const ev = row.ev;
	const dec = ev.decision || '';
	const r = el('div', {
		class: 'row ' + dec + (state.selected === row ? ' selected' : ''),
		'data-testid': 'event-row',
		'data-kind': ev.kind,
		'data-decision': dec,
		'data-seq': String(ev.seq),
		style: 'top:' + i * ROW_H + 'px',
		onclick: () => select(row),
	},
	el('span', { class: 'c-time' }, fmtTime(ev.time_ns)),
	el('span', { class: 'c-kind' }, ev.kind),
	el('span', { class: 'c-dec' }, dec || '-'),
	el('span', { class: 'c-res' }, ev.resource || ev.exe || ''),
	el('span', { class: 'c-exe' }, ev.comm || ''),
	el('span', { class: 'c-count' }, row.count > 1 ? '\u00d7' + row.count : ''));
	return r;
}

function render() {
	const vp = $('#viewport');
	const body = $('#rows');
	body.style.height = state.shown.length * ROW_H + 'px';
	const first = Math.max(0, Math.floor(vp.scrollTop / ROW_H) - 5);
	const last = Math.min(state.shown.length, first + Math.ceil(vp.clientHeight / ROW_H) + 10);
	const frag = document.createDocumentFragment();
	for (let i = first; i < last; i++) frag.append(rowEl(state.shown[i], i));
	body.replaceChildren(frag);
	const c = state.counts;
	$('#n-total').textContent = c.total;
	$('#n-allow').textContent = c.allow || 0;
	$('#n-deny').textContent = c.deny || 0;
	$('#n-would').textContent = c.would_deny || 0;
	$('#n-shown').textContent = state.shown.length;
}

// ---- the detail pane and Allow / Deny this --------------------------------

function select(row) {
	state.selected = row;
	const ev = row.ev;
	const pane = $('#detail');
	const fields = el('dl', { 'data-testid': 'detail-fields' });
	for (const [k, v] of Object.entries(ev)) {
		fields.append(el('dt', {}, k),
			el('dd', {}, typeof v === 'object' ? JSON.stringify(v, null, 1) : String(v)));
	}
	if (row.count > 1) fields.append(el('dt', {}, 'repeated'), el('dd', {}, String(row.count)));
	const actions = el('div', { class: 'actions' });
	if (ev.action && ev.resource) {
		const scope = el('select', { 'data-testid': 'scope' },
			el('option', { value: 'exact' }, 'exactly this resource'),
			el('option', { value: 'parent' }, 'its directory / domain'));
		actions.append(
			el('button', { class: 'allow', 'data-testid': 'allow-this',
				onclick: () => fromEvent(ev, 'permit', scope.value) }, 'Allow this'),
			el('button', { class: 'deny', 'data-testid': 'deny-this',
				onclick: () => fromEvent(ev, 'forbid', scope.value) }, 'Deny this'),
			scope);
	}
	pane.replaceChildren(el('h3', {}, ev.kind + ' #' + ev.seq), actions, fields);
	scheduleRender();
}

async function fromEvent(ev, effect, scope) {
	const prop = await api('POST', '/api/policies/add-from-event',
		{ seq: ev.seq, effect, scope, apply: false });
	if (!prop.ok) return toast(prop.body.error.message);
	const ok = await confirmDialog((effect === 'permit' ? 'Allow' : 'Deny') + ' from now on?',
		el('pre', { 'data-testid': 'proposed' }, prop.body.statement));
	if (!ok) return;
	const r = await api('POST', '/api/policies/add-from-event', { seq: ev.seq, effect, scope });
	if (!r.ok) return toast(r.body.error.message);
	toast('applied: policy generation ' + r.body.generation, 'info');
	loadPolicy(true);
}

function confirmDialog(title, body) {
	return new Promise((resolve) => {
		const dlg = el('dialog', { 'data-testid': 'confirm' },
			el('h3', {}, title), body,
			el('div', { class: 'actions' },
				el('button', { 'data-testid': 'confirm-ok', onclick: () => { dlg.close(); resolve(true); } }, 'Apply'),
				el('button', { onclick: () => { dlg.close(); resolve(false); } }, 'Cancel')));
		dlg.addEventListener('close', () => {
			resolve(false);
			dlg.remove();
		});
		document.body.append(dlg);
		dlg.showModal();
	});
}

// ---- mode and status ------------------------------------------------------

function setMode(m) {
	if (!m || m === state.mode) return;
	state.mode = m;
	document.body.dataset.mode = m;
	$('#mode').textContent = m.toUpperCase();
	for (const b of document.querySelectorAll('#modes button'))
		b.classList.toggle('on', b.dataset.mode === m);
	loadStatus();
}

async function switchMode(m) {
	const r = await api('POST', '/api/mode', { mode: m });
	if (!r.ok) return toast(r.body.error.message);
	setMode(r.body.mode);
}

async function loadStatus() {
	const r = await api('GET', '/api/status');
	if (!r.ok) return;
	const s = r.body;
	setMode(s.mode);
	$('#enforced').textContent = s.enforced.length ? s.enforced.join(', ') : 'nothing';
	// which mechanism enforces each module on this kernel (bpf-lsm, fanotify, ...)
	$('#enforced').title = s.modules.filter((m) => m.backend).map((m) => m.name + ': ' + m.backend).join('; ');
	$('#degraded').textContent = s.degraded.length ? 'degraded: ' + s.degraded.join(', ') : '';
	$('#session').textContent = s.session.agent + ' \u00b7 ' + s.session.uuid.slice(0, 8);
}

// ---- the policy editor ----------------------------------------------------

let active = '';
let editor = null;

async function loadPolicy(force) {
	const r = await api('GET', '/api/policies');
	if (!r.ok) return;
	const dirty = editor && editor.state.doc.toString() !== active;
	active = r.body.cedar;
	$('#generation').textContent = 'generation ' + r.body.generation + ' (' + r.body.origin + ')';
	if (editor && (force || !dirty)) setText(editor, active);
}

async function applyPolicy() {
	const text = editor.state.doc.toString();
	const v = await api('POST', '/api/policies/validate', text, 'text/plain');
	if (v.ok && !v.body.valid) return toast('the policy has errors: fix the marked lines first');
	const d = lineDiff(active, text);
	const pre = el('pre', { class: 'diff', 'data-testid': 'diff' });
	for (const l of d.lines)
		pre.append(el('div', { class: l[0] === '+' ? 'add' : l[0] === '-' ? 'del' : '' }, l));
	const ok = await confirmDialog('Apply: ' + d.added + ' line(s) added, ' + d.removed + ' removed', pre);
	if (!ok) return;
	const r = await api('POST', '/api/policies', text, 'text/plain');
	if (!r.ok) {
		const e = r.body.error;
		return toast(e.message + (e.line ? ' (line ' + e.line + ', column ' + e.column + ')' : ''));
	}
	toast('applied: policy generation ' + r.body.generation, 'info');
	loadPolicy(true);
}

// A least-privilege policy from what this session did, into the editor:
// nothing changes until it is reviewed and applied.
async function synthesize() {
	const r = await api('GET', '/api/policies/synthesized');
	if (!r.ok) return toast(r.body.error.message);
	setText(editor, r.body.cedar);
	toast('synthesized from this session: review it, then Apply', 'info');
}

// ---- page -----------------------------------------------------------------

function layout() {
	const modes = el('div', { id: 'modes' });
	for (const m of ['record', 'shadow', 'enforce'])
		modes.append(el('button', { 'data-mode': m, 'data-testid': 'mode-' + m, onclick: () => switchMode(m) }, m));
	const filters = el('div', { class: 'filters' },
		el('select', { id: 'f-kind', 'data-testid': 'filter-kind' },
			...['', 'process.', 'process.exec', 'file.', 'network.', 'http.', 'mcp.', 'policy.', 'mode.', 'session.']
				.map((k) => el('option', { value: k }, k || 'all kinds'))),
		el('select', { id: 'f-dec', 'data-testid': 'filter-decision' },
			...['', 'allow', 'deny', 'would_deny', 'none'].map((k) => el('option', { value: k }, k || 'all decisions'))),
		el('input', { id: 'f-text', type: 'search', placeholder: 'filter text', 'data-testid': 'filter-text' }));
	$('#app').replaceChildren(
		el('header', {},
			el('span', { class: 'brand' }, 'leash'),
			el('span', { id: 'mode', 'data-testid': 'mode' }, '?'),
			modes,
			el('span', { id: 'conn', 'data-testid': 'conn' }, 'connecting'),
			el('span', { id: 'session' }),
			el('span', { class: 'status' }, 'enforced: ', el('span', { id: 'enforced', 'data-testid': 'enforced' }),
				' ', el('span', { id: 'degraded', class: 'warn', 'data-testid': 'degraded' }))),
		el('main', {},
			el('section', { id: 'events' },
				el('div', { class: 'counters' },
					el('span', {}, 'events ', el('b', { id: 'n-total', 'data-testid': 'n-total' }, '0')),
					el('span', { class: 'allow' }, 'allowed ', el('b', { id: 'n-allow', 'data-testid': 'n-allow' }, '0')),
					el('span', { class: 'deny' }, 'denied ', el('b', { id: 'n-deny', 'data-testid': 'n-deny' }, '0')),
					el('span', { class: 'would_deny' }, 'would deny ', el('b', { id: 'n-would', 'data-testid': 'n-would' }, '0')),
					el('span', {}, 'shown ', el('b', { id: 'n-shown' }, '0')),
					el('span', { id: 'dropped', class: 'warn' })),
				filters,
				el('div', { class: 'row head' },
					el('span', { class: 'c-time' }, 'time'), el('span', { class: 'c-kind' }, 'kind'),
					el('span', { class: 'c-dec' }, 'decision'), el('span', { class: 'c-res' }, 'resource'),
					el('span', { class: 'c-exe' }, 'process'), el('span', { class: 'c-count' }, '')),
				el('div', { id: 'viewport', 'data-testid': 'events' }, el('div', { id: 'rows' })),
				el('div', { id: 'detail', 'data-testid': 'detail' }, el('p', { class: 'hint' }, 'Select an event to see every field.'))),
			el('section', { id: 'policy' },
				el('div', { class: 'bar' },
					el('b', {}, 'Policy'), el('span', { id: 'generation' }),
					el('span', { id: 'lint', 'data-testid': 'lint' }),
					el('button', { 'data-testid': 'revert', onclick: () => setText(editor, active) }, 'Revert'),
					el('button', { 'data-testid': 'synthesize', onclick: synthesize,
						title: 'a least-privilege policy from what this session did (not applied)' }, 'Synthesize'),
					el('button', { class: 'primary', 'data-testid': 'apply', onclick: applyPolicy }, 'Apply\u2026')),
				el('div', { id: 'editor', 'data-testid': 'editor' }))),
		el('div', { id: 'toasts' }));
	$('#viewport').addEventListener('scroll', scheduleRender);
	window.addEventListener('resize', scheduleRender);
	$('#f-kind').addEventListener('change', (e) => { state.filter.kind = e.target.value; refilter(); });
	$('#f-dec').addEventListener('change', (e) => { state.filter.decision = e.target.value; refilter(); });
	let t = null;
	$('#f-text').addEventListener('input', (e) => {
		clearTimeout(t);
		t = setTimeout(() => { state.filter.text = e.target.value; refilter(); }, 200);
	});
}

async function main() {
	layout();
	editor = makeEditor($('#editor'), api, (n) => {
		$('#lint').textContent = n.errors ? n.errors + ' error(s)' : n.warnings ? n.warnings + ' warning(s)' : 'ok';
		$('#lint').dataset.errors = String(n.errors);
	});
	editorState.ready = true;
	await loadStatus();
	await loadPolicy(true);
	connect();
}

main();
