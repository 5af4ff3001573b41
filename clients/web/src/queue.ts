/**
 * The offline queue: progress items and practice answers wait here until the server has them.
 *
 * Rules (DESIGN.md, "The web client"): an item leaves `pending` only on `ok`/`duplicate`/`acked`
 * (keeping its server id); a per-item `error`/`rejected` moves it to `failed` with the server's reason;
 * everything else (network error, lost response, 5xx, 429, a whole-request 4xx such as an expired
 * token) keeps it pending and retries with backoff. There is no "sending" state, so a tab that dies
 * mid-request strands nothing: the next sync resends, and the idempotency key makes that safe.
 */
import { payloadHash } from './hash';
import type { Store } from './store';

export type Kind = 'progress' | 'attempt';
export type ItemState = 'pending' | 'synced' | 'failed';

export interface ProgressInput {
  profile_id: string;
  activity_type: string;
  content_id: string;
  score: number;
  duration_seconds?: number;
  meta_data?: Record<string, unknown>;
  /** Device time of the activity (ISO 8601 UTC); now when absent. Never the time of the sync. */
  timestamp?: string;
  idempotency_key?: string;
}

export interface AttemptInput {
  profile_id: string;
  offline_session_id: string;
  question_id: string;
  selected_option_index: number;
  package_id?: string;
  /** Device time of the answer (ISO 8601 UTC); now when absent. */
  answered_at?: string;
  idempotency_key?: string;
  client_attempt_id?: string;
}

export interface QueueItem {
  /** `kind|scope|key`: the key is unique per profile on the server, so per (kind, scope) here. */
  id: string;
  kind: Kind;
  /** The profile the item belongs to. */
  scope: string;
  key: string;
  /** Exactly what is sent: the same bytes on every retry. */
  body: Record<string, unknown>;
  state: ItemState;
  created_ms: number;
  /** Order among items saved in the same millisecond. */
  seq: number;
  /** Requests that carried it so far: the next one sends this as `x-client-retry`. */
  tries: number;
  server_id?: string;
  server_session_id?: string;
  error?: string;
  settled_ms?: number;
}

export interface SyncReport {
  sent: number;
  synced: number;
  failed: number;
  /** Why items are still pending after this pass (no connection, server busy, token refused), or null. */
  problem: string | null;
  skipped?: 'backoff' | 'signed-out';
}

export interface QueueOptions {
  store: Store;
  fetch: typeof fetch;
  getToken: () => string | undefined | Promise<string | undefined>;
  baseUrl?: string;
  now?: () => number;
  random?: () => number;
  /** `navigator.locks`: one sync at a time across tabs. Absent: one at a time in this tab only,
   * and two tabs may send an item twice, which the server answers `duplicate` (still counted once). */
  locks?: LockManager;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  requestTimeoutMs?: number;
  onChange?: () => void;
}

/** The servers' batch limits (progress 1–500 items, sync 1–100 attempts). */
export const BATCH_LIMIT: Record<Kind, number> = { progress: 500, attempt: 100 };
const PATH: Record<Kind, string> = { progress: '/api/v1/progress/batch', attempt: '/api/v1/sync/attempts:batch' };
const LOCK_NAME = 'studysync-sync';
const LAST_SYNC = 'last_sync';
let seq = 0;

export function uuid(): string {
  return crypto.randomUUID();
}

/** Device time as ISO 8601 UTC with milliseconds, e.g. `2026-01-28T10:00:00.123Z`. */
export function isoNow(ms = Date.now()): string {
  return new Date(ms).toISOString();
}

/** Retry-After in milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

class Retryable extends Error {
  constructor(message: string, readonly retryAfterMs: number | null = null) {
    super(message);
  }
}

export class OfflineQueue {
  private readonly o: Required<Omit<QueueOptions, 'locks' | 'onChange'>> & Pick<QueueOptions, 'locks' | 'onChange'>;
  private current: Promise<SyncReport> | null = null;
  private queued: Promise<SyncReport> | null = null;
  /** Consecutive failed passes; the next automatic pass waits until `nextAttemptMs`. */
  failures = 0;
  nextAttemptMs = 0;
  /** The server's Retry-After: even a forced pass waits for it. */
  private serverWaitUntilMs = 0;
  problem: string | null = null;

  constructor(options: QueueOptions) {
    this.o = {
      baseUrl: '',
      now: () => Date.now(),
      random: Math.random,
      backoffBaseMs: 1000,
      backoffMaxMs: 30000,
      requestTimeoutMs: 30000,
      ...options,
    };
  }

  /** Saves one progress item; resolves once it is stored (the "Saving…" moment). */
  async enqueue(input: ProgressInput): Promise<QueueItem> {
    const key = input.idempotency_key ?? uuid();
    const body: Record<string, unknown> = {
      idempotency_key: key,
      activity_type: input.activity_type,
      content_id: input.content_id,
      score: input.score,
      timestamp: input.timestamp ?? isoNow(this.o.now()),
    };
    if (input.duration_seconds !== undefined) body.duration_seconds = input.duration_seconds;
    if (input.meta_data !== undefined) body.meta_data = input.meta_data;
    return this.add('progress', input.profile_id, key, body);
  }

  /** Saves one practice answer with its payload_hash; works with no network. */
  async enqueueAttempt(input: AttemptInput): Promise<QueueItem> {
    const key = input.idempotency_key ?? uuid();
    const answeredAt = input.answered_at ?? isoNow(this.o.now());
    const body: Record<string, unknown> = {
      client_attempt_id: input.client_attempt_id ?? uuid(),
      idempotency_key: key,
      offline_session_id: input.offline_session_id,
      question_id: input.question_id,
      selected_option_index: input.selected_option_index,
      answered_at: answeredAt,
      payload_hash: await payloadHash(answeredAt, input.question_id, input.selected_option_index),
    };
    if (input.package_id) body.package_id = input.package_id;
    return this.add('attempt', input.profile_id, key, body);
  }

  private async add(kind: Kind, scope: string, key: string, body: Record<string, unknown>): Promise<QueueItem> {
    const item: QueueItem = { id: `${kind}|${scope}|${key}`, kind, scope, key, body, state: 'pending', created_ms: this.o.now(), seq: seq++, tries: 0 };
    await this.o.store.putMany('queue', [item]);
    this.o.onChange?.();
    return item;
  }

  /** Every item, oldest first; optionally of one profile and kind. */
  async items(profileId?: string, kind?: Kind): Promise<QueueItem[]> {
    const all = await this.o.store.all<QueueItem>('queue');
    return all
      .filter((i) => (profileId === undefined || i.scope === profileId) && (kind === undefined || i.kind === kind))
      .sort(oldestFirst);
  }

  async getPending(profileId: string, kind: Kind = 'progress'): Promise<QueueItem[]> {
    return (await this.items(profileId, kind)).filter((i) => i.state === 'pending');
  }

  async lastSync(): Promise<number | undefined> {
    return (await this.o.store.get<{ k: string; ms: number }>('kv', LAST_SYNC))?.ms;
  }

  /** A sync reached the server and nothing was left over (also the read-back on the Progress page). */
  async markSynced(): Promise<void> {
    await this.o.store.putMany('kv', [{ k: LAST_SYNC, ms: this.o.now() }]);
  }

  /** The network is back (or the user asked): retry now, not at the end of the backoff. */
  resetBackoff(): void {
    this.failures = 0;
    this.nextAttemptMs = 0;
  }

  /**
   * Sends everything pending. One pass at a time: a call during a pass runs one more pass after it
   * (so items saved meanwhile go too); further calls share that pass. `force` ignores our own backoff,
   * never the server's Retry-After.
   */
  sync(options: { force?: boolean } = {}): Promise<SyncReport> {
    if (this.queued) return this.queued;
    if (!this.current) return this.start(options);
    this.queued = this.current.then(
      () => this.start(options),
      () => this.start(options),
    );
    return this.queued;
  }

  private start(options: { force?: boolean }): Promise<SyncReport> {
    this.queued = null;
    const run = this.o.locks ? this.o.locks.request(LOCK_NAME, () => this.pass(options)) : this.pass(options);
    this.current = (run as Promise<SyncReport>).finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private async pass(options: { force?: boolean }): Promise<SyncReport> {
    const report: SyncReport = { sent: 0, synced: 0, failed: 0, problem: null };
    const now = this.o.now();
    if (now < this.serverWaitUntilMs || (!options.force && now < this.nextAttemptMs)) {
      return { ...report, problem: this.problem, skipped: 'backoff' };
    }
    const token = await this.o.getToken();
    if (!token) return { ...report, problem: 'Not signed in', skipped: 'signed-out' };
    // Read inside the lock: whatever another tab settled before we got it is no longer pending.
    const pending = (await this.o.store.all<QueueItem>('queue')).filter((i) => i.state === 'pending');
    let retryable: Retryable | null = null;
    for (const chunk of batches(pending)) {
      try {
        await this.send(chunk, token, report);
      } catch (error) {
        if (error instanceof Retryable) {
          retryable = error;
          break;
        }
        // A whole-request refusal (400/401/403/...): the items are not bad, they stay pending.
        report.problem = (error as Error).message;
        if (/^HTTP 401\b/.test(report.problem)) break;
      }
    }
    if (retryable) {
      report.problem = retryable.message;
      this.backoff(retryable.retryAfterMs);
    } else if (report.problem) {
      this.backoff(null);
    } else {
      this.resetBackoff();
      if (report.sent > 0) await this.markSynced();
    }
    this.problem = report.problem;
    this.o.onChange?.();
    return report;
  }

  private backoff(retryAfterMs: number | null): void {
    this.failures += 1;
    const ceiling = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** (this.failures - 1));
    // Equal jitter: never sooner than half the step, so tabs and devices spread out but still back off.
    let delay = ceiling / 2 + this.o.random() * (ceiling / 2);
    const now = this.o.now();
    if (retryAfterMs !== null) {
      delay = Math.max(delay, retryAfterMs);
      this.serverWaitUntilMs = now + retryAfterMs;
    }
    this.nextAttemptMs = now + delay;
  }

  private async send(chunk: QueueItem[], token: string, report: SyncReport): Promise<void> {
    const { kind, scope } = chunk[0];
    const retry = Math.max(...chunk.map((i) => i.tries));
    // Count the try before sending, so a lost response still raises the next retry number.
    const tried = chunk.map((i) => ({ ...i, tries: i.tries + 1 }));
    await this.o.store.putMany('queue', tried);
    const bodies = chunk.map((i) => i.body);
    const payload = kind === 'progress' ? { profile_id: scope, items: bodies } : { attempts: bodies };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.o.requestTimeoutMs);
    let response: Response;
    let results: Array<Record<string, unknown>>;
    report.sent += chunk.length;
    try {
      response = await this.o.fetch(this.o.baseUrl + PATH[kind], {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-client-retry': String(retry) },
        body: JSON.stringify(payload),
        cache: 'no-store',
        signal: controller.signal,
      });
      if (response.status === 408 || response.status === 429 || response.status >= 500) {
        throw new Retryable(`Server busy (HTTP ${response.status}), retrying`, parseRetryAfter(response.headers.get('retry-after'), this.o.now()));
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${await errorMessage(response)}`);
      results = ((await response.json()) as { results?: Array<Record<string, unknown>> }).results ?? [];
    } catch (error) {
      if (error instanceof Retryable || !(error instanceof TypeError || error instanceof SyntaxError || isAbort(error))) throw error;
      // fetch rejects with TypeError when offline or when the response is lost; a cut body fails to parse.
      throw new Retryable('No connection, retrying');
    } finally {
      clearTimeout(timer);
    }
    await this.settle(tried, results, report);
  }

  private async settle(chunk: QueueItem[], results: Array<Record<string, unknown>>, report: SyncReport): Promise<void> {
    const byKey = new Map(results.map((r) => [String(r.idempotency_key), r]));
    const now = this.o.now();
    const changed: QueueItem[] = [];
    for (const item of chunk) {
      const r = byKey.get(item.key);
      if (!r) continue; // not answered: stays pending
      const status = String(r.status);
      if (status === 'ok' || status === 'duplicate' || status === 'acked') {
        const server_id = (r.server_id ?? r.server_attempt_id) as string | undefined;
        const server_session_id = r.server_session_id as string | undefined;
        changed.push({ ...item, state: 'synced', server_id, server_session_id, settled_ms: now });
        report.synced += 1;
      } else if (status === 'error' || status === 'rejected') {
        const reason = (r.error ?? r.error_message ?? r.error_code ?? 'refused by the server') as string;
        const code = r.error_code ? `${String(r.error_code)}: ` : '';
        changed.push({ ...item, state: 'failed', error: reason.startsWith(code) ? reason : code + reason, settled_ms: now });
        report.failed += 1;
      }
    }
    if (changed.length) await this.o.store.putMany('queue', changed);
  }
}

/** Pending items grouped per (kind, profile), oldest first, cut to the server's batch limit. */
export function batches(pending: QueueItem[]): QueueItem[][] {
  const groups = new Map<string, QueueItem[]>();
  const sorted = [...pending].sort(oldestFirst);
  for (const item of sorted) {
    const group = `${item.kind}|${item.scope}`;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(item);
  }
  const out: QueueItem[][] = [];
  for (const items of groups.values()) {
    const limit = BATCH_LIMIT[items[0].kind];
    for (let i = 0; i < items.length; i += limit) out.push(items.slice(i, i + limit));
  }
  return out;
}

function oldestFirst(a: QueueItem, b: QueueItem): number {
  return a.created_ms - b.created_ms || (a.seq ?? 0) - (b.seq ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** The server's error text (`{"code","message"}` from Envoy), never more than a line. */
async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: string };
    return (body.message ?? response.statusText).slice(0, 200);
  } catch {
    return response.statusText || 'request refused';
  }
}
