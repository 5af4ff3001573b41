/** The profile's progress as the server holds it (the read-back), for items made on other devices. */
import type { Api, ProgressRecord } from './api';
import type { Store } from './store';

export interface RemoteRecord extends ProgressRecord {
  id: string;
}

const PAGE = 500;
const MAX_PAGES = 200;

/** Pulls what is new since the last pull (the server's cursor is kept even past the last page). */
export async function pullProgress(api: Api, store: Store, profileId: string): Promise<number> {
  const cursorKey = `readback:${profileId}`;
  let token = (await store.get<{ k: string; token: string }>('kv', cursorKey))?.token ?? '';
  let pulled = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const { items, next_page_token } = await api.listProgress(profileId, token);
    await store.putMany('remote', items.map((r) => ({ ...r, id: `${profileId}|${r.idempotency_key}` })));
    pulled += items.length;
    if (next_page_token) {
      token = next_page_token;
      await store.putMany('kv', [{ k: cursorKey, token }]);
    }
    if (items.length < PAGE || !next_page_token) break;
  }
  return pulled;
}

export async function remoteRecords(store: Store, profileId: string): Promise<RemoteRecord[]> {
  return (await store.all<RemoteRecord>('remote')).filter((r) => r.profile_id === profileId);
}
