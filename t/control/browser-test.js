#!/usr/bin/env node
// browser-test.js BASE TOKEN WORKDIR SHOTS: drives the Control UI in Debian's
// chromium (playwright-core, headless) against a running leash whose agent
// watches WORKDIR for trigger files (see t4030). Each step prints "ok - ..."
// or throws; screenshots go to SHOTS.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [base, token, work, shots] = process.argv.slice(2);
fs.mkdirSync(shots, { recursive: true });
const trigger = (name) => fs.writeFileSync(path.join(work, name), '');
const say = (s) => console.log('ok - ' + s);

(async () => {
	const browser = await chromium.launchPersistentContext(path.join(work, 'chromium-profile'), {
		executablePath: '/usr/bin/chromium',
		headless: true,
		bypassCSP: true, // leash's CSP forbids eval, which waitForFunction needs
		viewport: { width: 1400, height: 900 },
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	const page = browser.pages()[0] || await browser.newPage();
	const shot = (n) => page.screenshot({ path: path.join(shots, n + '.png') });
	try {
		await page.goto(base + '/?token=' + token);
		if (new URL(page.url()).search) throw new Error('the token stayed in the URL: ' + page.url());
		await page.waitForSelector('[data-testid=conn][data-state=live]', { timeout: 15000 });
		say('the page loads with the token URL, the token leaves the address bar, the stream is live');

		trigger('go-echo');
		await page.waitForSelector('[data-testid=event-row][data-kind="process.exec"] >> text=/echo', { timeout: 15000 });
		say('events from the command appear live');

		await page.selectOption('[data-testid=filter-kind]', 'process.exec');
		await page.fill('[data-testid=filter-text]', 'echo');
		await page.waitForFunction(() => {
			const rows = [...document.querySelectorAll('[data-testid=event-row]')];
			// "echo" also matches in details (the shell's argv): every row is an
			// exec, the echo one among them, and fewer rows than unfiltered.
			return rows.length > 0 && rows.every((r) => r.dataset.kind === 'process.exec') &&
				rows.some((r) => r.textContent.includes('/usr/bin/echo')) &&
				+document.getElementById('n-shown').textContent < +document.getElementById('n-total').textContent;
		}, null, { timeout: 10000 });
		await shot('1-events-filtered');
		say('filters narrow the table');

		const cm = page.locator('[data-testid=editor] .cm-content');
		await cm.click();
		await page.keyboard.press('Control+A');
		await page.keyboard.press('Delete');
		const good = fs.readFileSync(path.join(work, 'ui.cedar'), 'utf8');
		await page.keyboard.insertText(good.replace('resource);', 'resource'));
		await page.waitForSelector('.cm-lintRange-error', { timeout: 15000 });
		await page.waitForSelector('[data-testid=lint][data-errors]:not([data-errors="0"])');
		await shot('2-policy-error-marker');
		say('a policy with an error shows the error marker');

		await page.keyboard.press('Control+A');
		await page.keyboard.press('Delete');
		await page.keyboard.insertText(good);
		await page.waitForSelector('[data-testid=lint][data-errors="0"]', { timeout: 15000 });
		await page.click('[data-testid=apply]');
		await page.waitForSelector('[data-testid=diff]');
		await shot('3-apply-diff');
		await page.click('[data-testid=confirm-ok]');
		await page.waitForSelector('[data-testid=toast] >> text=applied', { timeout: 10000 });
		say('the fixed policy is applied after the confirmation with a diff');

		await page.click('[data-testid=mode-enforce]');
		await page.waitForSelector('[data-testid=mode] >> text=ENFORCE', { timeout: 10000 });
		say('the mode switch goes to enforce and the header says so');

		await page.selectOption('[data-testid=filter-kind]', '');
		await page.fill('[data-testid=filter-text]', '');
		trigger('go-cat');
		await page.waitForSelector('[data-testid=event-row][data-decision=deny] >> text=secret', { timeout: 15000 });
		await shot('4-denied-event');
		say('a denied access appears live');

		await page.fill('[data-testid=filter-text]', 'echo');
		await page.selectOption('[data-testid=filter-decision]', 'allow');
		await page.click('[data-testid=event-row][data-kind="process.exec"][data-decision=allow]:has-text("/usr/bin/echo") >> nth=0');
		await page.click('[data-testid=deny-this]');
		await page.waitForSelector('[data-testid=proposed] >> text=/forbid .*"\\/usr\\/bin\\/echo"/');
		await page.click('[data-testid=confirm-ok]');
		await page.waitForSelector('[data-testid=toast] >> text=applied', { timeout: 10000 });
		await page.selectOption('[data-testid=filter-decision]', 'deny');
		trigger('go-echo');
		await page.waitForSelector('[data-testid=event-row][data-kind="process.exec"][data-decision=deny] >> text=echo', { timeout: 15000 });
		await shot('5-deny-this');
		say('"Deny this" on an exec denies the next identical exec');
	} catch (e) {
		await shot('failure').catch(() => {});
		console.log('not ok - ' + e.message);
		await browser.close();
		process.exit(1);
	}
	await browser.close();
})();
