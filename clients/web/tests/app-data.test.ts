import { beforeEach, describe, expect, it } from 'vitest';
import { Api } from '../src/api';
import { loadConfig, signIn } from '../src/config';
import { download, lastSession, revalidate, saveSession, startSession } from '../src/packages';
import { pullProgress, remoteRecords } from '../src/remote';
import { openStore, type Store } from '../src/store';
import { freshIndexedDb } from './fakes';

let store: Store;
beforeEach(async () => {
  freshIndexedDb();
  store = await openStore('test');
});

const json = (body: unknown, init: ResponseInit = {}) =>
  new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) }, ...init });
const offline: typeof fetch = async () => {
  throw new TypeError('Failed to fetch');
};

describe('config', () => {
  const dev = { token: 't1', profile_id: 'kid-1', sync_interval_ms: 500, backoff_base_ms: 10, backoff_max_ms: 100 };

  it('a fresh /app-config.json wins over the kept one, and is kept for offline starts', async () => {
    await signIn(store, 'old', 'kid-0');
    expect(await loadConfig(store, async () => json(dev))).toMatchObject({ ...dev, source: 'dev' });
    expect(await loadConfig(store, offline)).toMatchObject({ token: 't1', profile_id: 'kid-1' });
  });

  it('no config and nothing kept means the sign-in form (null); a sign-in is then kept', async () => {
    expect(await loadConfig(store, async () => new Response('{}', { status: 404 }))).toBeNull();
    await signIn(store, ' tok ', ' kid-2 ');
    expect(await loadConfig(store, async () => new Response('{}', { status: 404 }))).toMatchObject({ token: 'tok', profile_id: 'kid-2', source: 'signin' });
  });
});

describe('packages', () => {
  const pkg = { package_id: 'p1', name: 'Block 1', scope: 'BLOCK', scope_data: { block_id: 1 }, version: 1, version_hash: 'abc', question_count: 1, description: '',
    questions: [{ question_id: 'q1', stem: 'Why?', options: ['a', 'b'], correct_index: 0, explanation: '' }] };

  it('keeps the ETag, revalidates with If-None-Match and no HTTP cache, and keeps the copy on 304', async () => {
    const seen: Array<{ headers: Headers; cache?: RequestCache }> = [];
    const fetcher: typeof fetch = async (_url, init) => {
      const headers = new Headers(init?.headers);
      seen.push({ headers, cache: init?.cache });
      return headers.get('if-none-match') === '"abc"' ? new Response(null, { status: 304 }) : json(pkg, { headers: { etag: '"abc"' } });
    };
    const api = new Api(() => 'tok', fetcher);
    const held = await download(api, store, 'p1');
    expect(held.etag).toBe('"abc"');
    const again = await revalidate(api, store, held);
    expect(seen[1].headers.get('if-none-match')).toBe('"abc"');
    expect(seen[1].headers.get('authorization')).toBe('Bearer tok');
    expect(seen[1].cache).toBe('no-store');
    expect(again.last_check?.status).toBe(304);
    expect(again.package.questions).toHaveLength(1);
  });

  it('a withdrawn package (404) stays usable; offline revalidation fails without touching the copy', async () => {
    const api = new Api(() => 'tok', async () => json(pkg, { headers: { etag: '"abc"' } }));
    const held = await download(api, store, 'p1');
    const gone = await revalidate(new Api(() => 'tok', async () => json({ message: 'not found' }, { status: 404 })), store, held);
    expect(gone.last_check?.status).toBe(404);
    await expect(revalidate(new Api(() => 'tok', offline), store, gone)).rejects.toThrow('No connection');
    expect((await store.get<{ last_check: { status: number } }>('packages', 'p1'))?.last_check.status).toBe(404);
  });

  it('the last session survives a re-open', async () => {
    const api = new Api(() => 'tok', async () => json(pkg, { headers: { etag: '"abc"' } }));
    const session = await startSession(store, await download(api, store, 'p1'));
    session.answer_keys.push('k1');
    session.finished_ms = 1;
    await saveSession(store, session);
    store.close();
    const reopened = await openStore('test');
    expect(await lastSession(reopened)).toMatchObject({ offline_session_id: session.offline_session_id, answer_keys: ['k1'], total: 1 });
  });
});

describe('read-back', () => {
  const record = (n: number) => ({ server_id: `s${n}`, profile_id: 'kid-1', idempotency_key: `k${n}`, activity_type: 'letter_pick', content_id: 'letter-a', score: 1, timestamp: '2026-01-28T10:00:00Z', server_received_at: '2026-01-28T10:00:01Z' });

  it('pages while next_page_token is set, keeps resume_token and starts the next pull from it', async () => {
    const asked: string[] = [];
    const fetcher: typeof fetch = async (url) => {
      const q = new URL(String(url), 'http://x').searchParams;
      asked.push(`page=${q.get('page_token') ?? ''} resume=${q.get('resume_token') ?? ''}`);
      if (q.get('resume_token') === 'r2') return json({ items: [record(9)], next_page_token: '', resume_token: 'r3' });
      if (q.get('page_token') === 'p1') return json({ items: [record(2)], next_page_token: '', resume_token: 'r2' });
      return json({ items: [record(0), record(1)], next_page_token: 'p1', resume_token: 'r1' }); // a short page that is not the last
    };
    const api = new Api(() => 'tok', fetcher);
    expect(await pullProgress(api, store, 'kid-1')).toBe(3);
    expect(await pullProgress(api, store, 'kid-1')).toBe(1);
    expect(asked).toEqual(['page= resume=', 'page=p1 resume=', 'page= resume=r2']);
    expect(await remoteRecords(store, 'kid-1')).toHaveLength(4);
  });

  it('with an older server (a token on every page, no resume_token) a short page is the last', async () => {
    const asked: string[] = [];
    const fetcher: typeof fetch = async (url) => {
      const token = new URL(String(url), 'http://x').searchParams.get('page_token') ?? '';
      asked.push(token);
      if (token === '') return json({ items: Array.from({ length: 500 }, (_, i) => record(i)), next_page_token: 'c1' });
      if (token === 'c1') return json({ items: [record(500)], next_page_token: 'c2' });
      return json({ items: [], next_page_token: 'c2' });
    };
    const api = new Api(() => 'tok', fetcher);
    expect(await pullProgress(api, store, 'kid-1')).toBe(501);
    expect(await pullProgress(api, store, 'kid-1')).toBe(0);
    expect(asked).toEqual(['', 'c1', 'c2']);
    expect(await remoteRecords(store, 'kid-1')).toHaveLength(501);
  });
});
