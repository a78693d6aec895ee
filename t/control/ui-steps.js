// ui-steps.js: the Control UI's end-to-end checks, shared by browser-test.js
// (playwright-core driving Debian's chromium, t4030) and firefox-test.js
// (puppeteer-core driving Debian's firefox-esr over WebDriver BiDi, t4031).
//
// A test script calls run(launch): launch(work) starts the browser and
// returns a driver, a small object over the page that both libraries can
// provide:
//
//   goto(url)           navigate and wait for the load
//   url()               the page's URL as the browser shows it
//   evaluate(fn, arg)   run fn(arg) in the page (fn is serialised: it must
//                       not use anything from this file) and return its value
//   click(x, y)         a real mouse click at viewport coordinates
//   select(sel, value)  choose an option of a <select>
//   fill(sel, value)    replace an input's text, as typing does
//   key(combo)          press keys, playwright's spelling: "Control+A", "Delete"
//   insertText(text)    insert text at the caret of the focused editable
//   screenshot(file)    a PNG of the page
//   close()
//
// Waiting and finding happen here, by polling evaluate() from node, so the
// checks are the same in both browsers and need no eval in the page (the
// page's CSP forbids it). Command line: SCRIPT BASE TOKEN WORKDIR SHOTS, with
// a leash running whose agent watches WORKDIR for trigger files (see t4030).
// Each step prints "ok - ..."; the first failure prints "not ok - ...",
// saves SHOTS/failure.png and exits 1.
'use strict';
const fs = require('fs');
const path = require('path');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (s) => console.log('ok - ' + s);

// In the page: the first element matching q.sel whose text contains q.text
// (or matches the regular expression q.re), scrolled into view; its centre,
// or null when there is none.
function locate(q) {
	const re = q.re ? new RegExp(q.re) : null;
	for (const e of document.querySelectorAll(q.sel)) {
		const t = e.textContent;
		if (q.text !== undefined && !t.includes(q.text)) continue;
		if (re && !re.test(t)) continue;
		if (q.exact !== undefined && t.trim() !== q.exact) continue;
		e.scrollIntoView({ block: 'nearest' });
		const r = e.getBoundingClientRect();
		if (!r.width || !r.height) continue;
		return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
	}
	return null;
}

const describe = (q) => q.sel + (q.text !== undefined ? ' containing ' + JSON.stringify(q.text) : '') +
	(q.re ? ' matching /' + q.re + '/' : '') + (q.exact !== undefined ? ' reading ' + JSON.stringify(q.exact) : '');

// Polls fn(arg) in the page until it returns something truthy, which it
// returns; throws after timeout ms, naming what it waited for.
async function waitFor(d, what, fn, arg, timeout = 15000) {
	const end = Date.now() + timeout;
	for (;;) {
		let v, err = null;
		try {
			v = await d.evaluate(fn, arg);
		} catch (e) {
			err = e; // a navigation in progress; try again
		}
		if (v) return v;
		if (Date.now() > end)
			throw new Error('timed out after ' + timeout + ' ms waiting for ' + what + (err ? ' (' + err.message + ')' : ''));
		await sleep(100);
	}
}

const waitSel = (d, q, timeout) => waitFor(d, describe(q), locate, q, timeout);

async function click(d, q, timeout) {
	const p = await waitSel(d, q, timeout);
	await d.click(p.x, p.y);
}

// Waits for the toast "applied: policy generation N" with N > after; returns N.
const applied = (d, after) => waitFor(d, 'a toast "applied: policy generation N" with N > ' + after, (a) => {
	for (const t of document.querySelectorAll('[data-testid=toast]')) {
		const m = /^applied: policy generation (\d+)/.exec(t.textContent);
		if (m && +m[1] > a) return +m[1];
	}
	return 0;
}, after, 10000);

async function steps(d, base, token, work, shot) {
	const trigger = (name) => fs.writeFileSync(path.join(work, name), '');

	await d.goto(base + '/?token=' + token);
	const url = await d.url();
	if (new URL(url).search) throw new Error('the token stayed in the URL: ' + url);
	await waitSel(d, { sel: '[data-testid=conn][data-state=live]', exact: 'live' });
	say('the page loads with the token URL, the token leaves the address bar, the stream is live');

	trigger('go-echo');
	await waitSel(d, { sel: '[data-testid=event-row][data-kind="process.exec"]', text: '/usr/bin/echo' });
	say('events from the command appear live');

	await d.select('[data-testid=filter-kind]', 'process.exec');
	await d.fill('[data-testid=filter-text]', 'echo');
	await waitFor(d, 'only exec rows, the echo among them, fewer than all', () => {
		const rows = [...document.querySelectorAll('[data-testid=event-row]')];
		// "echo" also matches in details (the shell's argv): every row is an
		// exec, the echo one among them, and fewer rows than unfiltered.
		return rows.length > 0 && rows.every((r) => r.dataset.kind === 'process.exec') &&
			rows.some((r) => r.textContent.includes('/usr/bin/echo')) &&
			+document.getElementById('n-shown').textContent < +document.getElementById('n-total').textContent;
	}, null, 10000);
	await shot('1-events-filtered');
	say('filters narrow the table');

	const good = fs.readFileSync(path.join(work, 'ui.cedar'), 'utf8');
	const bad = good.replace('resource);', 'resource');
	const editorText = () => {
		const lines = [...document.querySelectorAll('[data-testid=editor] .cm-line')];
		return lines.map((l) => l.textContent).join('\n');
	};
	await click(d, { sel: '[data-testid=editor] .cm-content' });
	await d.key('Control+A');
	await d.key('Delete');
	await waitFor(d, 'an empty editor', () =>
		document.querySelector('[data-testid=editor] .cm-content').textContent === '', null, 5000);
	await d.insertText(bad);
	await waitFor(d, 'the broken policy in the editor', (want) => {
		const lines = [...document.querySelectorAll('[data-testid=editor] .cm-line')];
		return lines.map((l) => l.textContent).join('\n').trim() === want.trim();
	}, bad, 5000).catch(async (e) => {
		throw new Error(e.message + '; the editor holds ' + JSON.stringify(await d.evaluate(editorText)));
	});
	await waitSel(d, { sel: '.cm-lintRange-error' });
	await waitFor(d, 'the lint counter to report errors', () => {
		const l = document.querySelector('[data-testid=lint]');
		return l && l.dataset.errors && l.dataset.errors !== '0' && /error/.test(l.textContent);
	});
	await shot('2-policy-error-marker');
	say('a policy with an error shows the error marker');

	await d.key('Control+A');
	await d.key('Delete');
	await d.insertText(good);
	await waitSel(d, { sel: '[data-testid=lint][data-errors="0"]' });
	await click(d, { sel: '[data-testid=apply]' });
	await waitSel(d, { sel: '[data-testid=confirm] [data-testid=diff] .add', text: '/secret"' });
	await shot('3-apply-diff');
	await click(d, { sel: '[data-testid=confirm-ok]' });
	const gen = await applied(d, 0);
	say('the fixed policy is applied after the confirmation with a diff');

	await click(d, { sel: '[data-testid=mode-enforce]' });
	await waitSel(d, { sel: '[data-testid=mode]', exact: 'ENFORCE' }, 10000);
	say('the mode switch goes to enforce and the header says so');

	await d.select('[data-testid=filter-kind]', '');
	await d.fill('[data-testid=filter-text]', '');
	trigger('go-cat');
	await waitSel(d, { sel: '[data-testid=event-row][data-decision=deny]', text: 'secret' });
	await shot('4-denied-event');
	say('a denied access appears live');

	await d.fill('[data-testid=filter-text]', 'echo');
	await d.select('[data-testid=filter-decision]', 'allow');
	await click(d, { sel: '[data-testid=event-row][data-kind="process.exec"][data-decision=allow]', text: '/usr/bin/echo' });
	await click(d, { sel: '[data-testid=deny-this]' });
	await waitSel(d, { sel: '[data-testid=proposed]', re: 'forbid .*"/usr/bin/echo"' });
	await click(d, { sel: '[data-testid=confirm-ok]' });
	await applied(d, gen);
	await d.select('[data-testid=filter-decision]', 'deny');
	trigger('go-echo');
	await waitSel(d, { sel: '[data-testid=event-row][data-kind="process.exec"][data-decision=deny]', text: 'echo' });
	await shot('5-deny-this');
	say('"Deny this" on an exec denies the next identical exec');

	const genText = () => document.getElementById('generation').textContent;
	const before = await d.evaluate(genText);
	await click(d, { sel: '[data-testid=synthesize]' });
	await waitFor(d, 'the synthesized policy in the editor, its exec rule naming echo', () => {
		const text = [...document.querySelectorAll('[data-testid=editor] .cm-line')].map((l) => l.textContent).join('\n');
		return text.includes('Synthesized by') && text.includes('@id("synth-exec")') && text.includes('/usr/bin/echo');
	}, null, 10000);
	if (await d.evaluate(genText) !== before) throw new Error('Synthesize changed the policy in force');
	await shot('6-synthesized');
	say('Synthesize loads a policy from this session into the editor, applying nothing');
}

function run(launch) {
	const [base, token, work, shots] = process.argv.slice(2);
	fs.mkdirSync(shots, { recursive: true });
	(async () => {
		const d = await launch(work);
		const shot = (n) => d.screenshot(path.join(shots, n + '.png'));
		let rc = 0;
		try {
			await steps(d, base, token, work, shot);
		} catch (e) {
			await shot('failure').catch(() => {});
			console.log('not ok - ' + e.message);
			rc = 1;
		}
		await d.close().catch(() => {});
		process.exit(rc);
	})().catch((e) => {
		console.log('not ok - the browser did not start: ' + (e && e.stack || e));
		process.exit(1);
	});
}

module.exports = { run, waitFor, locate };
