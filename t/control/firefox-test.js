#!/usr/bin/env node
// firefox-test.js BASE TOKEN WORKDIR SHOTS: the Control UI's checks
// (ui-steps.js) in Debian's firefox-esr, headless, driven by puppeteer-core
// over WebDriver BiDi (never a downloaded browser). $LEASH_FIREFOX overrides
// the binary. See t4031.
'use strict';
const path = require('path');
const puppeteer = require('puppeteer-core');
const { run } = require('./ui-steps.js');

// playwright's key names (ui-steps.js speaks them) to puppeteer's.
const keyName = (k) => (k.length === 1 ? k.toLowerCase() : k);

run(async (work) => {
	const browser = await puppeteer.launch({
		browser: 'firefox',
		executablePath: process.env.LEASH_FIREFOX || '/usr/bin/firefox-esr',
		headless: true,
		userDataDir: path.join(work, 'firefox-profile'),
		defaultViewport: { width: 1400, height: 900 },
		extraPrefsFirefox: {
			// nothing but the page under test on the network
			'app.update.enabled': false,
			'browser.safebrowsing.downloads.remote.enabled': false,
			'network.captive-portal-service.enabled': false,
			'network.connectivity-service.enabled': false,
		},
	});
	const page = (await browser.pages())[0] || await browser.newPage();
	await page.setViewport({ width: 1400, height: 900 }); // defaultViewport skips the first tab
	return {
		goto: (url) => page.goto(url, { waitUntil: 'load' }),
		url: () => page.url(),
		evaluate: (fn, arg) => page.evaluate(fn, arg),
		click: (x, y) => page.mouse.click(x, y),
		select: (sel, value) => page.select(sel, value),
		fill: async (sel, value) => {
			await page.focus(sel);
			await page.evaluate((s) => document.querySelector(s).select(), sel);
			if (value) await page.keyboard.type(value);
			else await page.keyboard.press('Backspace');
		},
		key: async (combo) => {
			const keys = combo.split('+').map(keyName);
			const last = keys.pop();
			for (const k of keys) await page.keyboard.down(k);
			await page.keyboard.press(last);
			for (const k of keys.reverse()) await page.keyboard.up(k);
		},
		// WebDriver BiDi has no IME-style "insert text"; puppeteer's own
		// sendCharacter uses the same execCommand, one character at a time.
		insertText: (text) => page.evaluate((t) => document.execCommand('insertText', false, t), text),
		screenshot: (file) => page.screenshot({ path: file }),
		close: () => browser.close(),
	};
});
