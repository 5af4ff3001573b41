/** Who is using the app: the dev stack's /app-config.json, the last one kept, or the sign-in form. */
import type { Store } from './store';

export interface AppConfig {
  token: string;
  profile_id: string;
  sync_interval_ms: number;
  backoff_base_ms: number;
  backoff_max_ms: number;
  /** Where it came from: the dev stack's config, or a person signing in (who can sign out). */
  source: 'dev' | 'signin';
}

const DEFAULTS = { sync_interval_ms: 15000, backoff_base_ms: 1000, backoff_max_ms: 30000 };
const KEY = 'config';

function valid(raw: unknown): raw is Partial<AppConfig> & { token: string; profile_id: string } {
  const c = raw as Record<string, unknown> | null;
  return !!c && typeof c.token === 'string' && c.token !== '' && typeof c.profile_id === 'string' && c.profile_id !== '';
}

/** A fresh config wins (tests hand each run its own); offline, the one kept from last time. */
export async function loadConfig(store: Store, fetcher: typeof fetch = fetch): Promise<AppConfig | null> {
  try {
    const response = await fetcher('/app-config.json', { cache: 'no-store' });
    if (response.ok) {
      const raw: unknown = await response.json();
      if (valid(raw)) {
        const config: AppConfig = { ...DEFAULTS, ...raw, source: 'dev' };
        await store.putMany('kv', [{ k: KEY, config }]);
        return config;
      }
    }
  } catch {
    // Offline, or not the dev stack: fall through to what was kept.
  }
  return (await store.get<{ k: string; config: AppConfig }>('kv', KEY))?.config ?? null;
}

export async function signIn(store: Store, token: string, profileId: string): Promise<AppConfig> {
  const config: AppConfig = { ...DEFAULTS, token: token.trim(), profile_id: profileId.trim(), source: 'signin' };
  await store.putMany('kv', [{ k: KEY, config }]);
  return config;
}

export async function signOut(store: Store): Promise<void> {
  await store.delete('kv', KEY);
}
