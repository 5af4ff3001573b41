/** The profile's progress as the server holds it (the read-back), for items made on other devices. */
import type { Api, ProgressRecord } from './api';
import type { Store } from './store';

export interface RemoteRecord extends ProgressRecord {
  id: string;
}

/** Where the next pull starts: a `resume_token` (current servers) or the last `next_page_token` (older ones). */
interface Cursor {
  k: string;
  token: string;
  kind?: 'resume' | 'page';
}

const PAGE = 500;
const MAX_PAGES = 200;

/** Pulls what is new since the last pull, every page of it, and keeps where to start next time. */
export async function pullProgress(api: Api, store: Store, profileId: string): Promise<number> {
  const cursorKey = `readback:${profileId}`;
  const kept = await store.get<Cursor>('kv', cursorKey);
  let request = kept?.token ? (kept.kind === 'resume' ? { resume_token: kept.token } : { page_token: kept.token }) : {};
  let pulled = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const { items, next_page_token, resume_token } = await api.listProgress(profileId, request);
    await store.putMany('remote', items.map((r) => ({ ...r, id: `${profileId}|${r.idempotency_key}` })));
    pulled += items.length;
    const current = resume_token !== undefined;
    if (resume_token) await store.putMany('kv', [{ k: cursorKey, token: resume_token, kind: 'resume' } satisfies Cursor]);
    else if (!current && next_page_token) await store.putMany('kv', [{ k: cursorKey, token: next_page_token, kind: 'page' } satisfies Cursor]);
    // A current server ends a listing with an empty next_page_token; an older one always sends one,
    // so there a short page is the last.
    if (!next_page_token || (!current && items.length < PAGE)) break;
    request = { page_token: next_page_token };
  }
  return pulled;
}

export async function remoteRecords(store: Store, profileId: string): Promise<RemoteRecord[]> {
  return (await store.all<RemoteRecord>('remote')).filter((r) => r.profile_id === profileId);
}
