import { beforeEach, describe, expect, it } from 'vitest';
import { OfflineQueue, batches, parseRetryAfter, type QueueItem, type QueueOptions } from '../src/queue';
import { payloadHash } from '../src/hash';
import { openStore, type Store } from '../src/store';
import { FakeLocks, FakeServer, freshIndexedDb } from './fakes';

let server: FakeServer;
let clock: number;

function queue(store: Store, extra: Partial<QueueOptions> = {}): OfflineQueue {
  return new OfflineQueue({
    store,
    fetch: server.fetch,
    getToken: () => 'token',
    now: () => clock,
    random: () => 0.5,
    backoffBaseMs: 1000,
    backoffMaxMs: 30000,
    ...extra,
  });
}

const letter = (n: number) => ({ profile_id: 'kid-1', activity_type: 'letter_pick', content_id: `letter-${n}`, score: 1 });

beforeEach(() => {
  freshIndexedDb();
  server = new FakeServer();
  clock = Date.parse('2026-01-28T10:00:00Z');
});

describe('storage', () => {
  it('keeps pending items across a close and re-open of the database', async () => {
    const first = await openStore('test');
    const item = await queue(first).enqueue({ ...letter(1), timestamp: '2026-01-28T09:59:00.000Z' });
    first.close();
    const reopened = queue(await openStore('test'));
    const pending = await reopened.getPending('kid-1');
    expect(pending.map((i) => i.key)).toEqual([item.key]);
    expect(pending[0].body.timestamp).toBe('2026-01-28T09:59:00.000Z');
  });

  it('falls back to localStorage only where IndexedDB is missing', async () => {
    delete (globalThis as { indexedDB?: unknown }).indexedDB;
    const data = new Map<string, string>();
    const ls = {
      get length() { return data.size; },
      key: (i: number) => [...data.keys()][i] ?? null,
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
      removeItem: (k: string) => void data.delete(k),
      clear: () => data.clear(),
    };
    (globalThis as { localStorage?: unknown }).localStorage = ls;
    try {
      await queue(await openStore('test')).enqueue(letter(1));
      expect([...data.keys()].some((k) => k.startsWith('test:queue:progress|kid-1|'))).toBe(true);
      expect(await queue(await openStore('test')).getPending('kid-1')).toHaveLength(1);
    } finally {
      delete (globalThis as { localStorage?: unknown }).localStorage;
    }
  });

  it('stamps the device time of the activity, not the time of the sync', async () => {
    const q = queue(await openStore('test'));
    await q.enqueue(letter(1));
    clock += 3_600_000;
    await q.sync();
    expect(JSON.parse(server.stored.values().next().value!.body).timestamp).toBe('2026-01-28T10:00:00.000Z');
  });
});

describe('sync outcomes', () => {
  it('ok and duplicate both mark synced and keep the server id', async () => {
    const q = queue(await openStore('test'));
    const a = await q.enqueue(letter(1));
    const b = await q.enqueue(letter(2));
    server.stored.set(b.key, { id: 'earlier-id', body: '' });
    const report = await q.sync();
    expect(report).toMatchObject({ synced: 2, failed: 0, problem: null });
    const items = await q.items('kid-1');
    expect(items.map((i) => [i.key, i.state, i.server_id])).toEqual([
      [a.key, 'synced', 'srv-1'],
      [b.key, 'synced', 'earlier-id'],
    ]);
    expect(await q.getPending('kid-1')).toEqual([]);
    expect(await q.lastSync()).toBe(clock);
  });

  it('a per-item error moves only that item to failed, with the server reason', async () => {
    const q = queue(await openStore('test'));
    const good = await q.enqueue(letter(1));
    const bad = await q.enqueue(letter(2));
    server.invalid.add(bad.key);
    await q.sync();
    const items = new Map((await q.items('kid-1')).map((i) => [i.key, i]));
    expect(items.get(good.key)!.state).toBe('synced');
    expect(items.get(bad.key)).toMatchObject({ state: 'failed', error: 'INVALID_FIELD: score: must be between 0 and 1' });
  });

  it('a rejected attempt is failed with its reason; acked keeps attempt and session ids', async () => {
    const q = queue(await openStore('test'));
    const base = { profile_id: 'kid-1', offline_session_id: 'off-1', package_id: 'p1' };
    const good = await q.enqueueAttempt({ ...base, question_id: 'q1', selected_option_index: 0 });
    const bad = await q.enqueueAttempt({ ...base, question_id: 'q2', selected_option_index: 1 });
    server.invalid.add(bad.key);
    await q.sync();
    const items = new Map((await q.items('kid-1', 'attempt')).map((i) => [i.key, i]));
    expect(items.get(good.key)).toMatchObject({ state: 'synced', server_id: 'srv-1', server_session_id: 's1' });
    expect(items.get(bad.key)).toMatchObject({ state: 'failed', error: 'QUESTION_NOT_FOUND: question_id: no such question' });
    expect(server.received[0].path).toBe('/api/v1/sync/attempts:batch');
  });

  it('an attempt carries the payload_hash of its fields as sent', async () => {
    const q = queue(await openStore('test'));
    const item = await q.enqueueAttempt({ profile_id: 'kid-1', offline_session_id: 'o', question_id: '550e8400-e29b-41d4-a716-446655440000', selected_option_index: 2, answered_at: '2026-01-28T10:00:00Z' });
    expect(item.body.payload_hash).toBe('4c090984a59565b1b3130a09db58b6c47422b722b7079c8b083b1361d84ceb51');
    expect(item.body.payload_hash).toBe(await payloadHash(String(item.body.answered_at), String(item.body.question_id), 2));
  });
});

describe('no drop on any failure path', () => {
  const failures: Array<[string, FakeServer['modes'][number]]> = [
    ['a network error', { kind: 'network' }],
    ['a response lost after the server committed', { kind: 'lost' }],
    ['a 200 whose body was cut', { kind: 'cut' }],
    ['a 503', { kind: 'status', status: 503 }],
    ['a 500', { kind: 'status', status: 500 }],
    ['a 429', { kind: 'status', status: 429 }],
    ['a whole-request 400', { kind: 'status', status: 400, message: 'profile_id: required' }],
    ['a 401 (expired token)', { kind: 'status', status: 401, message: 'token expired' }],
    ['a 403', { kind: 'status', status: 403, message: 'profile not allowed' }],
  ];
  for (const [name, mode] of failures) {
    it(`keeps items pending after ${name}, then syncs each exactly once`, async () => {
      const q = queue(await openStore('test'));
      const keys = [(await q.enqueue(letter(1))).key, (await q.enqueue(letter(2))).key];
      server.modes = [mode];
      const first = await q.sync();
      expect(first.problem).toBeTruthy();
      expect((await q.getPending('kid-1')).map((i) => i.key)).toEqual(keys);
      expect(await q.lastSync()).toBeUndefined();
      const second = await q.sync({ force: true });
      expect(second.problem).toBeNull();
      expect((await q.items('kid-1')).map((i) => i.state)).toEqual(['synced', 'synced']);
      expect(server.stored.size).toBe(2);
      // The retry says it is one: the server counts client retries.
      expect(server.received.at(-1)!.retry).toBe('1');
    });
  }

  it('shows the whole-request problem to the user and keeps the items', async () => {
    const q = queue(await openStore('test'));
    await q.enqueue(letter(1));
    server.modes = [{ kind: 'status', status: 401, message: 'token expired' }];
    expect((await q.sync()).problem).toBe('HTTP 401: token expired');
    expect(q.problem).toBe('HTTP 401: token expired');
    expect(await q.getPending('kid-1')).toHaveLength(1);
  });

  it('with no token nothing is sent and nothing is lost', async () => {
    const q = queue(await openStore('test'), { getToken: () => undefined });
    await q.enqueue(letter(1));
    expect(await q.sync()).toMatchObject({ skipped: 'signed-out', problem: 'Not signed in' });
    expect(server.received).toHaveLength(0);
    expect(await q.getPending('kid-1')).toHaveLength(1);
  });

  it('results that leave an item out leave it pending', async () => {
    const q = queue(await openStore('test'));
    await q.enqueue(letter(1));
    const fetchNoResults: typeof fetch = async () => new Response('{"results":[]}', { status: 200 });
    await queue(await openStore('test'), { fetch: fetchNoResults }).sync();
    expect(await q.getPending('kid-1')).toHaveLength(1);
  });

  it('has no size cap: a thousand items all reach the server, in batches of the server limit', async () => {
    const q = queue(await openStore('test'));
    for (let i = 0; i < 1001; i++) await q.enqueue(letter(i));
    await q.sync();
    expect(server.received.map((r) => r.keys.length)).toEqual([500, 500, 1]);
    expect(server.stored.size).toBe(1001);
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter and is capped', async () => {
    const q = queue(await openStore('test'), { random: () => 1 });
    await q.enqueue(letter(1));
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      server.modes = [{ kind: 'status', status: 503 }];
      await q.sync({ force: true });
      delays.push(q.nextAttemptMs - clock);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    const low = queue(await openStore('test'), { random: () => 0 });
    server.modes = [{ kind: 'network' }];
    await low.sync();
    expect(low.nextAttemptMs - clock).toBe(500); // half the step at the least
  });

  it('an automatic pass during the backoff sends nothing; the next one after it does', async () => {
    const q = queue(await openStore('test'));
    await q.enqueue(letter(1));
    server.modes = [{ kind: 'network' }];
    await q.sync();
    expect((await q.sync()).skipped).toBe('backoff');
    expect(server.received).toHaveLength(0);
    clock = q.nextAttemptMs;
    expect((await q.sync()).synced).toBe(1);
  });

  it('honours Retry-After, even for a forced sync', async () => {
    const q = queue(await openStore('test'));
    await q.enqueue(letter(1));
    server.modes = [{ kind: 'status', status: 429, retryAfter: '120' }];
    await q.sync();
    expect(q.nextAttemptMs - clock).toBe(120_000);
    clock += 119_000;
    expect((await q.sync({ force: true })).skipped).toBe('backoff');
    clock += 1_000;
    expect((await q.sync({ force: true })).synced).toBe(1);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-28T10:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 28 Jan 2026 10:00:30 GMT', now)).toBe(30000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('a success resets the backoff', async () => {
    const q = queue(await openStore('test'));
    await q.enqueue(letter(1));
    server.modes = [{ kind: 'network' }, { kind: 'network' }];
    await q.sync({ force: true });
    await q.sync({ force: true });
    expect(q.failures).toBe(2);
    await q.sync({ force: true });
    expect(q.failures).toBe(0);
    expect(q.nextAttemptMs).toBe(0);
  });
});

describe('single flight', () => {
  it('calls during a pass share one follow-up pass; no item is sent twice', async () => {
    const q = queue(await openStore('test'));
    await q.enqueue(letter(1));
    let release!: () => void;
    server.gate = new Promise((r) => (release = r));
    const first = q.sync();
    while (server.waiting === 0) await new Promise((r) => setTimeout(r, 1));
    await q.enqueue(letter(2)); // saved while the first request is in flight
    const calls = [q.sync(), q.sync(), q.sync()];
    server.gate = null;
    release();
    await Promise.all([first, ...calls]);
    expect(server.received.map((r) => r.keys.length)).toEqual([1, 1]);
    expect([...server.received.flatMap((r) => r.keys)].length).toBe(new Set(server.received.flatMap((r) => r.keys)).size);
    expect(await q.getPending('kid-1')).toEqual([]);
  });

  it('two tabs sharing the storage and Web Locks send each item once', async () => {
    const locks = new FakeLocks();
    const tabA = queue(await openStore('test'), { locks: locks as unknown as LockManager });
    const tabB = queue(await openStore('test'), { locks: locks as unknown as LockManager });
    for (let i = 0; i < 5; i++) await (i % 2 ? tabA : tabB).enqueue(letter(i));
    await Promise.all([tabA.sync(), tabB.sync(), tabA.sync(), tabB.sync()]);
    const sent = server.received.flatMap((r) => r.keys);
    expect(sent).toHaveLength(5);
    expect(new Set(sent).size).toBe(5);
    expect(locks.maxHeld).toBe(1);
  });
});

describe('batches', () => {
  it('groups per kind and profile, oldest first', () => {
    const item = (kind: 'progress' | 'attempt', scope: string, ms: number): QueueItem => ({
      id: `${kind}|${scope}|${ms}`, kind, scope, key: String(ms), body: {}, state: 'pending', created_ms: ms, seq: 0, tries: 0,
    });
    const groups = batches([item('progress', 'b', 3), item('attempt', 'a', 2), item('progress', 'a', 4), item('progress', 'b', 1)]);
    expect(groups.map((g) => g.map((i) => i.id))).toEqual([
      ['progress|b|1', 'progress|b|3'],
      ['attempt|a|2'],
      ['progress|a|4'],
    ]);
  });
});
