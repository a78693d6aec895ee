#!/usr/bin/env node
// browser-test.js BASE TOKEN WORKDIR SHOTS: the Control UI's checks
// (ui-steps.js) in Debian's chromium, headless, driven by playwright-core.
// See t4030.
'use strict';
const path = require('path');
const { chromium } = require('playwright-core');
const { run } = require('./ui-steps.js');

run(async (work) => {
	const browser = await chromium.launchPersistentContext(path.join(work, 'chromium-profile'), {
		executablePath: '/usr/bin/chromium',
		headless: true,
		viewport: { width: 1400, height: 900 },
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	const page = browser.pages()[0] || await browser.newPage();
	return {
		goto: (url) => page.goto(url),
		url: () => page.url(),
		evaluate: (fn, arg) => page.evaluate(fn, arg),
		click: (x, y) => page.mouse.click(x, y),
		select: (sel, value) => page.selectOption(sel, value),
		fill: (sel, value) => page.fill(sel, value),
		key: (combo) => page.keyboard.press(combo),
		insertText: (text) => page.keyboard.insertText(text),
		screenshot: (file) => page.screenshot({ path: file }),
		close: () => browser.close(),
	};
});
