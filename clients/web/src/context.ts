/** What every page needs: storage, the queue, the API and the signed-in profile. */
import type { Api } from './api';
import type { AppConfig } from './config';
import type { OfflineQueue } from './queue';
import type { Store } from './store';

export interface Ctx {
  store: Store;
  queue: OfflineQueue;
  api: Api;
  config: AppConfig;
  /** `offline_progress` for this profile: false means play only while online. */
  offlineAllowed: boolean;
  /** Saves a progress item, showing "Saving…" while it is written, then tries to sync. */
  save<T>(write: () => Promise<T>): Promise<T>;
  /** Sync soon if the browser thinks it is online (the queue's backoff still applies). */
  kick(): void;
  /** Marks the app state changed: the chip and the current page redraw. */
  changed(): void;
}

export interface Page {
  el: HTMLElement;
  /** Redraws what may have changed (queue states, online state); never steals focus. */
  update(): Promise<void>;
  dispose?(): void;
}
