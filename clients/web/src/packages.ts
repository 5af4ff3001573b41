/** Test packages kept for offline practice (with their ETag), and the practice sessions made from them. */
import { Api, ApiError, type TestPackage } from './api';
import type { Store } from './store';
import { uuid } from './queue';

export interface StoredPackage {
  package_id: string;
  etag: string;
  package: TestPackage;
  downloaded_ms: number;
  /** What the last revalidation found: 304 (the copy is current), 200 (replaced), 404 (withdrawn). */
  last_check?: { status: number; ms: number };
}

export interface PracticeSession {
  k: string;
  offline_session_id: string;
  package_id: string;
  package_name: string;
  total: number;
  /** Idempotency keys of the answers given, in order. */
  answer_keys: string[];
  started_ms: number;
  finished_ms?: number;
  /** The server's score, once every answer is synced. */
  result?: { correct: number; answered: number; session_id: string };
}

const LAST_SESSION = 'last_session';

export async function storedPackages(store: Store): Promise<StoredPackage[]> {
  return store.all<StoredPackage>('packages');
}

export async function download(api: Api, store: Store, packageId: string): Promise<StoredPackage> {
  const response = await api.request(`/api/v1/tests/packages/${encodeURIComponent(packageId)}`);
  const pkg = (await response.json()) as TestPackage;
  const stored: StoredPackage = {
    package_id: pkg.package_id,
    etag: response.headers.get('etag') ?? `"${pkg.version_hash}"`,
    package: pkg,
    downloaded_ms: Date.now(),
  };
  await store.putMany('packages', [stored]);
  return stored;
}

/** Asks whether the kept copy is still the published one: 304 keeps it, without a body. */
export async function revalidate(api: Api, store: Store, held: StoredPackage): Promise<StoredPackage> {
  let next: StoredPackage;
  try {
    const response = await api.request(`/api/v1/tests/packages/${encodeURIComponent(held.package_id)}`, {
      cache: 'no-store',
      headers: { 'if-none-match': held.etag },
    });
    if (response.status === 304) next = { ...held, last_check: { status: 304, ms: Date.now() } };
    else {
      const pkg = (await response.json()) as TestPackage;
      next = { ...held, package: pkg, etag: response.headers.get('etag') ?? `"${pkg.version_hash}"`, last_check: { status: 200, ms: Date.now() } };
    }
  } catch (error) {
    // A withdrawn package stays usable here: answers already given must still sync.
    if (error instanceof ApiError && error.status === 404) next = { ...held, last_check: { status: 404, ms: Date.now() } };
    else throw error;
  }
  await store.putMany('packages', [next]);
  return next;
}

export async function startSession(store: Store, held: StoredPackage): Promise<PracticeSession> {
  const id = uuid();
  const session: PracticeSession = {
    k: `session:${id}`,
    offline_session_id: id,
    package_id: held.package_id,
    package_name: held.package.name,
    total: held.package.questions.length,
    answer_keys: [],
    started_ms: Date.now(),
  };
  await saveSession(store, session);
  return session;
}

export async function saveSession(store: Store, session: PracticeSession): Promise<void> {
  await store.putMany('kv', [session, { k: LAST_SESSION, id: session.offline_session_id }]);
}

export async function lastSession(store: Store): Promise<PracticeSession | undefined> {
  const pointer = await store.get<{ k: string; id: string }>('kv', LAST_SESSION);
  return pointer ? store.get<PracticeSession>('kv', `session:${pointer.id}`) : undefined;
}
