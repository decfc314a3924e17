// The web view in a real browser: headless Chromium (Debian's package) driven by
// playwright-core opens the page of a sidecar fed with a recorded cpu incident at the ranker
// and diagnosed by the watcher, and must show every service of the graph, the ranker as the
// highlighted root cause, and its evidence charts. Screenshot: test-artifacts/web-view.png.

import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { createWatcher } from '../../agent/watch/index';
import { startSidecar, type Sidecar } from '../api/helpers';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');
const haveChromium = fs.existsSync(CHROMIUM);
const browserTest = haveChromium ? test : test.skip;
if (!haveChromium) {
  // eslint-disable-next-line no-console
  console.warn(`web view test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

let sc: Sidecar | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await sc?.close();
});

browserTest(
  'the page shows the services and highlights the root cause with its evidence',
  async () => {
    sc = await startSidecar();
    const watcher = createWatcher({ store: sc.store, state: sc.state, events: sc.events, dataDir: sc.dataDir, config: { intervalMs: 5000, windowMs: 600_000, cooldownMs: 300_000, autoRecord: false } });
    const anomaly = await watcher.tick();
    expect(anomaly?.diagnosisId).toBeDefined();
    const diagnosis = sc.state.getDiagnosis(anomaly!.diagnosisId!)!;
    const root = diagnosis.causes[0].service;
    expect(root).toBe('ranker');
    await sc.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(sc.app.server.address() as AddressInfo).port}/`;
    const services = [...new Set(sc.store.snapshot(0, Infinity).spans.map((s) => s.service))];

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    // The page must load nothing from elsewhere.
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(url.slice(0, -1))) foreign.push(r.url());
    });

    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });

    for (const s of services) {
      await page.waitForSelector(`#graph g.node[data-service="${s}"]`, { timeout: 5000 });
    }
    expect(await page.getAttribute(`#graph g.node[data-service="${root}"]`, 'data-health')).toBe('critical');
    const critical = await page.$$eval('#graph g.node[data-health="critical"]', (els) => els.map((e) => e.getAttribute('data-service')));
    expect(critical).toEqual([root]);
    expect(await page.textContent('#root-cause-service')).toContain(root);
    expect(await page.$$eval('#evidence .ev svg', (els) => els.length)).toBeGreaterThan(0);
    expect(await page.$$eval('#diagnoses li', (els) => els.length)).toBe(1);
    expect(await page.textContent('#diagnoses li.selected')).toContain(root);

    // Layered left to right: the entry point is left of the root cause it calls into.
    const x = async (s: string) => (await page.locator(`#graph g.node[data-service="${s}"]`).boundingBox())!.x;
    const entry = diagnosis.propagationPath[diagnosis.propagationPath.length - 1];
    if (entry !== root) expect(await x(entry)).toBeLessThan(await x(root));

    // A new diagnosis arrives over the event stream and the list updates without a reload.
    const r = await sc.app.inject({ method: 'POST', url: '/api/v1/diagnoses', payload: { lastMinutes: 5 } });
    expect(r.statusCode).toBe(201);
    await page.locator('#diagnoses li').nth(1).waitFor({ timeout: 8000 });

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-view.png'), fullPage: true });
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  },
  60_000,
);
