/** Test doubles for what Node lacks or what a test must control: a server, a lock manager. */
import 'fake-indexeddb/auto'; // IDBRequest, IDBKeyRange… as globals, as in a browser
import { IDBFactory } from 'fake-indexeddb';
import { openStore, type Store } from '../src/store';

/** A fresh IndexedDB per test; opening the same name twice is "the same browser, reopened". */
export function freshIndexedDb(): void {
  (globalThis as { indexedDB?: IDBFactory }).indexedDB = new IDBFactory();
}

export async function store(): Promise<Store> {
  return openStore('test');
}

type Mode =
  | { kind: 'ok' }
  | { kind: 'network' }
  | { kind: 'lost' } // the server commits, then the response never arrives
  | { kind: 'status'; status: number; retryAfter?: string; message?: string }
  | { kind: 'cut' }; // 200 with a body cut short

/** The two batch endpoints with the server's dedupe rules; `modes` are used one per request, then ok. */
export class FakeServer {
  readonly received: Array<{ path: string; retry: string | null; keys: string[] }> = [];
  readonly stored = new Map<string, { id: string; body: string }>();
  modes: Mode[] = [];
  invalid = new Set<string>(); // keys the server answers with a per-item error
  private n = 0;
  /** Resolves a request only when released (to hold a sync mid-flight). */
  gate: Promise<void> | null = null;
  waiting = 0;

  fetch = async (url: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = String(url);
    const payload = JSON.parse(String(init?.body));
    const headers = new Headers(init?.headers);
    const items: Array<Record<string, unknown>> = payload.items ?? payload.attempts;
    this.waiting += 1;
    if (this.gate) await this.gate;
    this.waiting -= 1;
    const mode = this.modes.shift() ?? { kind: 'ok' };
    if (mode.kind === 'network') throw new TypeError('Failed to fetch');
    this.received.push({ path, retry: headers.get('x-client-retry'), keys: items.map((i) => String(i.idempotency_key)) });
    if (mode.kind === 'status') {
      const h: Record<string, string> = { 'content-type': 'application/json' };
      if (mode.retryAfter) h['retry-after'] = mode.retryAfter;
      return new Response(JSON.stringify({ code: 3, message: mode.message ?? 'refused' }), { status: mode.status, headers: h });
    }
    const attempts = path.includes('attempts');
    const results = items.map((item) => {
      const key = String(item.idempotency_key);
      if (this.invalid.has(key)) {
        return attempts
          ? { idempotency_key: key, status: 'rejected', error_code: 'QUESTION_NOT_FOUND', error_message: 'question_id: no such question' }
          : { idempotency_key: key, status: 'error', error_code: 'INVALID_FIELD', error: 'score: must be between 0 and 1' };
      }
      const seen = this.stored.get(key);
      if (seen) return attempts ? { idempotency_key: key, status: 'duplicate', server_attempt_id: seen.id, server_session_id: 's1' } : { idempotency_key: key, status: 'duplicate', server_id: seen.id };
      const id = `srv-${++this.n}`;
      this.stored.set(key, { id, body: JSON.stringify(item) });
      return attempts ? { idempotency_key: key, status: 'acked', server_attempt_id: id, server_session_id: 's1' } : { idempotency_key: key, status: 'ok', server_id: id };
    });
    if (mode.kind === 'lost') throw new TypeError('network error: response lost');
    const text = JSON.stringify({ results });
    return new Response(mode.kind === 'cut' ? text.slice(0, 10) : text, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

/** A minimal Web Locks manager (exclusive locks, FIFO), shared by the "tabs" of one test. */
export class FakeLocks {
  private tails = new Map<string, Promise<unknown>>();
  held = 0;
  maxHeld = 0;
  request(name: string, callback: () => Promise<unknown>): Promise<unknown> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    const run = previous.then(async () => {
      this.held += 1;
      this.maxHeld = Math.max(this.maxHeld, this.held);
      try {
        return await callback();
      } finally {
        this.held -= 1;
      }
    });
    this.tails.set(name, run.catch(() => undefined));
    return run;
  }
}
