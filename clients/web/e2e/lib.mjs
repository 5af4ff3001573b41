// Shared helpers of the browser suite: Debian's Chromium through playwright-core, the app's DOM
// contract, the server's truth through the API, and the control channel to the pytest driver.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export const APP_URL = must('APP_URL'); // the stack's Envoy, e.g. http://127.0.0.1:39445
export const TOKEN = must('TOKEN'); // a token for PROFILE (the test's own user)
export const PROFILE = must('PROFILE');
export const ARTIFACTS = process.env.ARTIFACTS || join(tmpdir(), 'studysync-e2e-artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// The flags verified on these machines: without the background-networking ones Chromium floods a
// closed network with connection attempts.
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const DEADLINE = Number(process.env.DEADLINE_MS || 30000); // generous: 2 shared cores

function must(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

export class ScenarioError extends Error {
  name = 'ScenarioError';
}

export function log(...parts) {
  console.log(`[${new Date().toISOString()}]`, ...parts);
}

// --- control channel: ask the pytest driver to stop or start a process of the stack -------------
const replies = [];
const waiting = [];
createInterface({ input: process.stdin }).on('line', (line) => {
  const next = waiting.shift();
  if (next) next(line);
  else replies.push(line);
});

/** `control('stop progress')`: the driver acts on the real stack, then answers `OK`. */
export async function control(command) {
  console.log(`CONTROL ${command}`);
  const reply = replies.length ? replies.shift() : await new Promise((r) => waiting.push(r));
  if (reply !== 'OK') throw new ScenarioError(`control "${command}" failed: ${reply}`);
}

// --- browser ----------------------------------------------------------------------------------

const userDataDirs = [];

export function newUserDataDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `studysync-chromium-${name}-`));
  userDataDirs.push(dir);
  return dir;
}

/** Removes the browser profiles this run made (a few MB each). */
export function removeUserDataDirs() {
  for (const dir of userDataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A persistent context on `userDataDir` (a new, empty one for a fresh browser; the same one to
 * "close the browser and open it again"). `/app-config.json` is rewritten to this test's profile
 * and token unless `realConfig`; while `net.offline`, it fails as the network would.
 */
export async function openBrowser(userDataDir, { realConfig = false, viewport = DESKTOP } = {}) {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport,
  });
  const net = { offline: false };
  if (!realConfig) {
    await context.route('**/app-config.json', async (route) => {
      if (net.offline) return route.abort('internetdisconnected');
      const response = await route.fetch();
      const config = { ...(await response.json()), token: TOKEN, profile_id: PROFILE };
      return route.fulfill({ response, json: config });
    });
  }
  const setOffline = async (offline) => {
    net.offline = offline;
    await context.setOffline(offline);
  };
  return { context, net, setOffline };
}

/** A page of the app at `route` (`play`, `progress`, `practice`), with its console kept for errors. */
export async function openApp(context, route = 'play', page = null) {
  page = page || (await context.newPage());
  if (!page.__consoleHooked) {
    page.__consoleHooked = true;
    page.on('pageerror', (error) => log(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') log(`console error: ${message.text()}`);
    });
  }
  await page.goto(`${APP_URL}/#/${route}`);
  await page.getByTestId('status-chip').waitFor({ timeout: DEADLINE });
  return page;
}

export async function go(page, route) {
  await page.getByTestId(`nav-${route}`).click();
  await page.waitForFunction((r) => location.hash === `#/${r}`, route, { timeout: DEADLINE });
}

/** Waits until `check()` returns a truthy value; fails with `what` and the last value seen. */
export async function waitFor(what, check, timeout = DEADLINE) {
  const deadline = Date.now() + timeout;
  let seen;
  for (;;) {
    try {
      seen = await check();
      if (seen && !(typeof seen === 'object' && 'ok' in seen && !seen.ok)) return seen;
    } catch (error) {
      seen = `error: ${error.message}`;
    }
    if (Date.now() > deadline) {
      throw new ScenarioError(`${what}: not seen within ${timeout} ms; last seen: ${JSON.stringify(seen)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function chip(page) {
  return (await page.getByTestId('status-chip').textContent()).trim();
}

export async function expectChip(page, wanted, timeout = DEADLINE) {
  const wantedText = typeof wanted === 'number' ? `Pending (${wanted})` : wanted;
  await waitFor(`status chip "${wantedText}"`, async () => {
    const text = await chip(page);
    return text === wantedText ? text : { ok: false, chip: text };
  }, timeout);
}

/** One activity on Play: one click on a choice (the right one unless `wrong`). */
export async function playOnce(page, { wrong = false } = {}) {
  const before = await page.getByTestId('recent-item').count();
  const target = (await page.getByTestId('target-letter').textContent()).trim();
  const choices = page.getByTestId('letter-choice');
  await choices.first().waitFor({ timeout: DEADLINE });
  const letters = await choices.evaluateAll((els) => els.map((e) => e.dataset.letter));
  const pick = wrong
    ? letters.find((l) => l.toLowerCase() !== target.toLowerCase())
    : letters.find((l) => l.toLowerCase() === target.toLowerCase());
  if (pick === undefined) throw new ScenarioError(`no choice for target ${target} among ${letters}`);
  await page.locator(`[data-testid="letter-choice"][data-letter="${pick}"]`).first().click();
  await waitFor('a new recent-item after one click', async () => {
    const n = await page.getByTestId('recent-item').count();
    return n === before + 1 ? n : { ok: false, recent: n, before };
  });
  return { target, pick };
}

/** `[{key, state, origin}]` of the elements with `testid` (recent-item, progress-item, failed-item). */
export async function items(page, testid) {
  return page.getByTestId(testid).evaluateAll((els) =>
    els.map((e) => ({
      key: e.dataset.key,
      state: e.dataset.state,
      origin: e.dataset.origin,
      text: e.textContent.trim(),
    })),
  );
}

/** Screenshots at desktop and phone sizes: `<ARTIFACTS>/<name>-desktop.png`, `-phone.png`. */
export async function screenshots(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const original = page.viewportSize();
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(200); // one layout pass at the new size; nothing is asserted on it
    const path = join(ARTIFACTS, `${name}-${size}.png`);
    await page.screenshot({ path, fullPage: true });
    log(`screenshot ${path}`);
    // A page wider than the screen scrolls sideways: on a phone, part of it is out of reach.
    const wide = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      screen: window.innerWidth,
      culprits: [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}${e.dataset.testid ? `[${e.dataset.testid}]` : ""}`),
    }));
    if (wide.page > wide.screen) overflows.push({ name, size, ...wide });
  }
  await page.setViewportSize(original);
}

/** Pages `screenshots` saw wider than the screen: the scenario fails on any, at its end. */
export const overflows = [];

// --- the server's truth ----------------------------------------------------------------------

export async function api(path, { method = 'GET', body, headers = {}, token = TOKEN } = {}) {
  const response = await fetch(`${APP_URL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : null };
}

/** Every progress record of `profile` on the server (the read-back, all pages). */
export async function serverProgress(profile = PROFILE) {
  const records = [];
  let token = '';
  for (;;) {
    const query = new URLSearchParams({ profile_id: profile, page_size: '500' });
    if (token) query.set('page_token', token);
    const { status, json } = await api(`/api/v1/progress?${query}`);
    if (status !== 200) throw new ScenarioError(`read-back answered ${status}: ${JSON.stringify(json)}`);
    records.push(...json.items);
    if (!json.items.length || json.next_page_token === token) return records;
    token = json.next_page_token;
  }
}

/** The server holds exactly the records with `keys` for this profile, each once. */
export async function expectServerHasExactly(keys, what) {
  const records = await serverProgress();
  const seen = records.map((r) => r.idempotency_key).sort();
  const wanted = [...keys].sort();
  if (JSON.stringify(seen) !== JSON.stringify(wanted)) {
    throw new ScenarioError(`${what}: server has ${JSON.stringify(seen)}, expected exactly ${JSON.stringify(wanted)}`);
  }
  log(`server has exactly ${wanted.length} items: ${wanted.join(', ')}`);
  return records;
}

export function check(condition, message) {
  if (!condition) throw new ScenarioError(message);
}
