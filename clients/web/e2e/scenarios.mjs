// The six scenarios of issue 10, each checking what a person sees and what the server holds.
import {
  DEADLINE,
  PROFILE,
  api,
  check,
  chip,
  control,
  expectChip,
  expectServerHasExactly,
  go,
  items,
  log,
  newUserDataDir,
  openApp,
  openBrowser,
  playOnce,
  screenshots,
  serverProgress,
  waitFor,
} from './lib.mjs';

const PROGRESS_BATCH = '/api/v1/progress/batch';
const SYNC_BATCH = '/api/v1/sync/attempts:batch';

async function bannerVisible(page) {
  return page.getByTestId('offline-banner').isVisible();
}

async function expectBanner(page, visible) {
  await waitFor(`offline banner ${visible ? 'visible' : 'hidden'}`, async () =>
    (await bannerVisible(page)) === visible ? true : { ok: false, visible: !visible },
  );
}

/** Waits until the service worker controls the page, so that a reload with no network loads it. */
async function shellCached(page) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  if (!(await page.evaluate(() => !!navigator.serviceWorker.controller))) {
    await page.reload(); // a SW without clients.claim() takes over at the next load
  }
  await waitFor('the service worker controlling the page', () =>
    page.evaluate(() => !!navigator.serviceWorker.controller),
  );
}

/** Progress batch requests and responses seen by the context: keys sent, statuses answered. */
function watchProgress(context) {
  const seen = { requests: [], responses: [] };
  context.on('request', (request) => {
    if (!request.url().endsWith(PROGRESS_BATCH)) return;
    const body = request.postDataJSON();
    seen.requests.push({ keys: body.items.map((i) => i.idempotency_key), retry: request.headers()['x-client-retry'] });
  });
  context.on('response', async (response) => {
    if (!response.url().endsWith(PROGRESS_BATCH)) return;
    let results = null;
    try {
      results = (await response.json()).results;
    } catch {
      // an error body without results (503) or an aborted one
    }
    seen.responses.push({ status: response.status(), results });
  });
  return seen;
}

async function recentKeys(page, count) {
  const recent = await waitFor(`${count} recent items`, async () => {
    const found = await items(page, 'recent-item');
    return found.length === count ? found : { ok: false, found };
  });
  const keys = recent.map((r) => r.key);
  check(new Set(keys).size === count && keys.every(Boolean), `recent items need ${count} distinct data-key: ${JSON.stringify(recent)}`);
  return keys;
}

async function expectRecentStates(page, state) {
  await waitFor(`every recent item ${state}`, async () => {
    const found = await items(page, 'recent-item');
    return found.every((r) => r.state === state) ? found : { ok: false, found };
  });
}

// 1. Offline: three activities are Pending (3), survive a reload with no network, and reach the
//    server exactly once each when the network returns (the dev stack's real /app-config.json).
export async function offline_play() {
  const { context, setOffline } = await openBrowser(newUserDataDir('offline'), { realConfig: true });
  const page = await openApp(context, 'play');
  await shellCached(page);
  await expectChip(page, 'Synced');
  check(!(await bannerVisible(page)), 'offline banner visible while online');

  await setOffline(true);
  await expectBanner(page, true);
  const clicks = [];
  for (let i = 0; i < 3; i += 1) clicks.push({ ...(await playOnce(page)), at: Date.now() });
  await expectChip(page, 3);
  const keys = await recentKeys(page, 3);
  await expectRecentStates(page, 'pending');
  await screenshots(page, 'play-pending');

  const reloaded = await page.reload();
  check(reloaded && reloaded.fromServiceWorker(), 'the offline reload was not answered by the service worker');
  await page.getByTestId('status-chip').waitFor({ timeout: DEADLINE });
  const network = await page.evaluate(() => fetch('/healthz', { cache: 'no-store' }).then(() => 'reachable', () => 'unreachable'));
  check(network === 'unreachable', `the page could still reach the server during the offline reload (${network})`);
  await expectChip(page, 3);
  await expectBanner(page, true);
  log('reloaded with no network: the app loaded and still shows', await chip(page));

  const onlineAt = Date.now();
  await setOffline(false);
  await expectBanner(page, false);
  await expectChip(page, 'Synced');
  await expectRecentStates(page, 'synced');
  const records = await expectServerHasExactly(keys, 'three offline activities');
  for (const record of records) {
    check(record.activity_type === 'letter_pick', `activity_type ${record.activity_type}`);
    check(/^letter-[a-z]$/.test(record.content_id), `content_id ${record.content_id}`);
    check(record.score === 1, `a right pick scores 1, server has ${record.score}`);
    // The device's time of the click, not the time of the sync.
    check(Date.parse(record.timestamp) <= onlineAt, `timestamp ${record.timestamp} is after going online`);
  }
  const targets = clicks.map((c) => `letter-${c.target.toLowerCase()}`).sort();
  check(JSON.stringify(records.map((r) => r.content_id).sort()) === JSON.stringify(targets),
    `content ids ${records.map((r) => r.content_id)} vs letters played ${targets}`);
  await context.close();
}

// A fresh device that plays three activities offline: its browser, page, watched requests and keys.
async function playThreeOffline(name) {
  const { context, setOffline } = await openBrowser(newUserDataDir(name));
  const page = await openApp(context, 'play');
  await expectChip(page, 'Synced');
  const seen = watchProgress(context);
  await setOffline(true);
  for (let i = 0; i < 3; i += 1) await playOnce(page);
  await expectChip(page, 3);
  return { context, setOffline, page, seen, keys: await recentKeys(page, 3) };
}

// 2. The server commits a batch but its response is lost: the app retries, gets `duplicate`, and the
//    server still has exactly three items.
export async function lost_response() {
  const { context, setOffline, page, seen, keys } = await playThreeOffline('lost');

  const lost = [];
  await page.route(`**${PROGRESS_BATCH}`, async (route) => {
    if (lost.length) return route.continue();
    const response = await route.fetch(); // reaches the server, which commits
    lost.push({ status: response.status(), results: (await response.json()).results });
    log('server answered, the browser never sees it:', JSON.stringify(lost[0]));
    return route.abort('connectionreset');
  });
  await setOffline(false);
  await expectChip(page, 'Synced');
  await expectRecentStates(page, 'synced');

  check(lost.length === 1 && lost[0].status === 200 && lost[0].results.every((r) => r.status === 'ok'),
    `the lost response should have stored every item: ${JSON.stringify(lost)}`);
  const answered = seen.responses.filter((r) => r.status === 200).flatMap((r) => r.results);
  log('responses the app saw:', JSON.stringify(seen.responses.map((r) => r.status)));
  check(answered.length >= 3 && answered.every((r) => r.status === 'duplicate'),
    `the retry should be answered duplicate: ${JSON.stringify(answered)}`);
  const retried = seen.requests.slice(1);
  check(retried.length && retried.every((r) => Number(r.retry) >= 1),
    `a re-sent batch carries x-client-retry >= 1: ${JSON.stringify(seen.requests)}`);
  await expectServerHasExactly(keys, 'after a lost response and a retry');
  await context.close();
}

// 3. The progress service stops (Envoy answers 503): items stay pending; it starts again: they sync.
//    An item whose key the server already holds with other content fails with its reason.
export async function server_unavailable() {
  const { context, setOffline, page, seen, keys } = await playThreeOffline('unavailable');
  const reused = keys[2];
  // Another client already stored other content under the third key: a permanent per-item error.
  const other = await api(PROGRESS_BATCH, {
    method: 'POST',
    body: {
      profile_id: PROFILE,
      items: [{ idempotency_key: reused, activity_type: 'letter_trace', content_id: 'letter-conflict', score: 0, timestamp: new Date().toISOString() }],
    },
  });
  check(other.status === 200 && other.json.results[0].status === 'ok', `seeding the reused key: ${JSON.stringify(other)}`);

  await control('stop progress');
  await setOffline(false);
  await expectBanner(page, false);
  await waitFor('two 503 answers while progress is down', () => {
    const unavailable = seen.responses.filter((r) => r.status === 503).length;
    return unavailable >= 2 ? unavailable : { ok: false, statuses: seen.responses.map((r) => r.status) };
  });
  check((await chip(page)) === 'Pending (3)', `while the server answers 503 the chip shows ${await chip(page)}`);
  await expectRecentStates(page, 'pending');
  await go(page, 'progress');
  await waitFor('the Progress notice names what is not synced', async () => {
    const t = (await page.getByTestId('progress-notice').textContent()).trim();
    return t.startsWith('Not everything is synced yet.') ? t : { ok: false, text: t };
  });
  await screenshots(page, 'progress-pending-503');
  await control('start progress');

  await expectChip(page, 'Synced');
  const failed = await waitFor('the reused key in the failed list', async () => {
    const found = await items(page, 'failed-item');
    return found.some((f) => f.key === reused) ? found : { ok: false, found };
  });
  check(failed.length === 1, `only the reused key fails: ${JSON.stringify(failed)}`);
  check(failed[0].text.includes('IDEMPOTENCY_KEY_REUSED'), `the failed item shows the server's reason: "${failed[0].text}"`);
  check(failed[0].text.includes('already saved under the same id'), `the failed item says it in words too: "${failed[0].text}"`);
  await waitFor('no outage warning once everything is synced', async () => {
    const notice = page.getByTestId('progress-notice');
    const t = (await notice.textContent()).trim();
    return (await notice.isHidden()) ? 'hidden' : { ok: false, text: t };
  });
  const listed = await waitFor('progress items with their states', async () => {
    const found = await items(page, 'progress-item');
    const state = Object.fromEntries(found.map((f) => [f.key, f.state]));
    // The refused item is in the failed list; the progress list may show it as failed or leave it out.
    return state[keys[0]] === 'synced' && state[keys[1]] === 'synced' && [undefined, 'failed'].includes(state[reused])
      ? found : { ok: false, found };
  });
  log('progress items:', JSON.stringify(listed.map((f) => [f.key, f.state, f.origin])));
  await screenshots(page, 'progress');
  const records = await expectServerHasExactly(keys, 'two synced after the 503s and the reused key once');
  const stored = records.find((r) => r.idempotency_key === reused);
  check(stored.content_id === 'letter-conflict', `the stored item under the reused key was replaced: ${JSON.stringify(stored)}`);
  await context.close();
}

// 4. Two tabs of one browser, both with pending items, come online together: one sync at a time
//    (Web Locks), every item reaches the server once and is sent once.
export async function two_tabs() {
  const { context, setOffline } = await openBrowser(newUserDataDir('tabs'));
  const first = await openApp(context, 'play');
  const second = await openApp(context, 'play');
  await expectChip(first, 'Synced');
  await expectChip(second, 'Synced');
  const seen = watchProgress(context);
  await setOffline(true);
  await playOnce(first);
  await playOnce(second);
  await playOnce(first);
  await playOnce(second);
  // Each tab lists its own clicks, or (from shared storage) every click of the profile.
  const keys = [...new Set([...(await recentKeysOf(first)), ...(await recentKeysOf(second))])];
  check(keys.length === 4, `four distinct keys across the tabs: ${keys}`);

  await setOffline(false);
  await expectChip(first, 'Synced');
  await expectChip(second, 'Synced');
  await expectServerHasExactly(keys, 'two tabs syncing at once');
  const sent = seen.requests.flatMap((r) => r.keys);
  log('batches sent:', JSON.stringify(seen.requests));
  check(sent.length === new Set(sent).size, `an item was sent twice, the syncs of the tabs overlapped: ${JSON.stringify(seen.requests)}`);
  await context.close();
}

async function recentKeysOf(page) {
  return (await items(page, 'recent-item')).map((r) => r.key);
}

// 5. Practice offline from a downloaded package, across a browser restart; the session's score is
//    the server's; revisiting Practice revalidates the package (304).
export async function practice_offline() {
  const dir = newUserDataDir('practice');
  let { context, setOffline } = await openBrowser(dir);
  let page = await openApp(context, 'practice');
  await shellCached(page);
  const item = page.getByTestId('package-item').first();
  await item.waitFor({ timeout: DEADLINE });
  const packageId = await item.getAttribute('data-package-id');
  const { status, json: pkg } = await api(`/api/v1/tests/packages/${packageId}`);
  check(status === 200, `package ${packageId}: ${status}`);
  const questions = pkg.questions;
  log(`package ${packageId}: ${questions.length} questions`);

  await item.getByTestId('download-package').click();
  await waitFor('the package downloaded', async () => (await item.getAttribute('data-downloaded')) === 'true');
  await setOffline(true);
  await expectBanner(page, true);
  await item.getByTestId('start-practice').click();

  let expected = 0;
  const answeredStems = new Set();
  for (let i = 0; i < questions.length; i += 1) {
    const stem = page.getByTestId('question-stem');
    const text = await waitFor(`question ${i + 1}`, async () => {
      const t = (await stem.textContent()).trim();
      return questions.some((q) => q.stem.trim() === t) && !answeredStems.has(t) ? t : { ok: false, stem: t };
    });
    answeredStems.add(text);
    const question = questions.find((q) => q.stem.trim() === text);
    const correct = question.correct_index;
    // Right on even questions, wrong on odd ones: the score tells which answers counted.
    const choose = i % 2 === 0 ? correct : (correct + 1) % question.options.length;
    if (choose === correct) expected += 1;
    await page.locator(`[data-testid="option-button"][data-index="${choose}"]`).click();
  }
  const summary = page.getByTestId('session-summary');
  await summary.waitFor({ timeout: DEADLINE });
  await waitFor(`practice status Pending (${questions.length})`, async () =>
    (await page.getByTestId('practice-status').textContent()).trim() === `Pending (${questions.length})`);
  await screenshots(page, 'practice-pending');
  await context.close();
  log('browser closed with the session pending; opening it again on the same profile');

  ({ context, setOffline } = await openBrowser(dir));
  const syncs = [];
  context.on('response', async (response) => {
    if (response.url().endsWith(SYNC_BATCH) && response.status() === 200) syncs.push((await response.json()).results);
  });
  page = await context.newPage();
  await setOffline(true);
  page = await openApp(context, 'practice', page);
  await page.getByTestId('session-summary').waitFor({ timeout: DEADLINE });
  const pendingAgain = (await page.getByTestId('practice-status').textContent()).trim();
  check(pendingAgain === `Pending (${questions.length})`, `after the restart, offline: ${pendingAgain}`);

  await setOffline(false);
  await waitFor('practice status Synced', async () => (await page.getByTestId('practice-status').textContent()).trim() === 'Synced');
  await waitFor('the offline notice gone once the network is back', async () => {
    const notice = page.getByTestId('practice-notice');
    return (await notice.isHidden()) ? 'hidden' : { ok: false, text: (await notice.textContent()).trim() };
  });
  const result = await waitFor('the session result', async () => {
    const t = (await page.getByTestId('session-result').textContent()).trim();
    return /(\d+)\s*\/\s*(\d+)/.test(t) ? t : { ok: false, text: t };
  });
  const [, correctShown, answeredShown] = result.match(/(\d+)\s*\/\s*(\d+)/);
  check(Number(correctShown) === expected && Number(answeredShown) === questions.length,
    `session result "${result}", expected ${expected} / ${questions.length}`);
  const results = syncs.flat();
  check(results.length >= questions.length && results.every((r) => r.status === 'acked' || r.status === 'duplicate'),
    `sync results: ${JSON.stringify(results)}`);
  const sessionIds = [...new Set(results.map((r) => r.server_session_id))];
  check(sessionIds.length === 1, `one server session for the offline session: ${sessionIds}`);
  const session = await api(`/api/v1/sync/sessions/${sessionIds[0]}`);
  check(session.status === 200 && session.json.answered_count === questions.length && session.json.correct_count === expected,
    `server session: ${JSON.stringify(session.json)}, expected ${expected} / ${questions.length}`);
  log(`server session ${sessionIds[0]}: ${session.json.correct_count} / ${session.json.answered_count}`);
  await screenshots(page, 'practice');

  const revalidations = [];
  context.on('response', async (response) => {
    const url = response.url();
    if (url.endsWith(`/api/v1/tests/packages/${packageId}`)) revalidations.push({ status: response.status() });
    if (url.endsWith('/api/v1/tests/packages:compare') && response.status() === 200) {
      const body = await response.json();
      revalidations.push({ compare: true, current: JSON.stringify(body.current || []).includes(packageId) });
    }
  });
  await go(page, 'play');
  await go(page, 'practice');
  await waitFor('the stored package revalidated (304 or compare: current)', () =>
    revalidations.some((r) => r.status === 304 || r.current) ? revalidations : { ok: false, revalidations });
  check(!revalidations.some((r) => r.status === 200), `the package was downloaded again: ${JSON.stringify(revalidations)}`);
  await context.close();
}

// 6. Items another device sent appear on Progress after a sync, marked as the other device's.
export async function other_device() {
  const { context } = await openBrowser(newUserDataDir('other'));
  const page = await openApp(context, 'play');
  await expectChip(page, 'Synced');
  await playOnce(page, { wrong: true });
  await expectChip(page, 'Synced');
  const [mine] = await recentKeysOf(page);
  const theirs = [`tablet-${Date.now()}-1`, `tablet-${Date.now()}-2`];
  const sent = await api(PROGRESS_BATCH, {
    method: 'POST',
    body: {
      profile_id: PROFILE,
      items: theirs.map((key, i) => ({ idempotency_key: key, activity_type: 'letter_trace', content_id: `letter-${'xy'[i]}`, score: 0.5, timestamp: new Date().toISOString() })),
    },
  });
  check(sent.status === 200 && sent.json.results.every((r) => r.status === 'ok'), `other device's batch: ${JSON.stringify(sent)}`);

  await go(page, 'progress');
  await page.getByTestId('sync-now').click();
  const listed = await waitFor("the other device's items on Progress", async () => {
    const found = await items(page, 'progress-item');
    const origin = Object.fromEntries(found.map((f) => [f.key, f.origin]));
    return theirs.every((k) => origin[k] === 'other-device') && origin[mine] === 'this-device' ? found : { ok: false, found };
  });
  check(listed.filter((f) => f.key === mine || theirs.includes(f.key)).length === 3, `each item listed once: ${JSON.stringify(listed)}`);
  const lastSync = (await page.getByTestId('last-sync').textContent()).trim();
  check(lastSync && lastSync !== 'never', `last sync after Sync now: "${lastSync}"`);
  await screenshots(page, 'progress-other-device');
  const records = await serverProgress();
  check(records.length === 3, `server has ${records.length} items`);
  await context.close();
}
