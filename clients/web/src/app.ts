/** The app shell: header with the status chip and navigation, the offline banner, hash routes. */
import { Api } from './api';
import { loadConfig, signIn, signOut, type AppConfig } from './config';
import type { Ctx, Page } from './context';
import { h } from './dom';
import { playPage } from './pages/play';
import { practicePage } from './pages/practice';
import { progressPage } from './pages/progress';
import { signinForm } from './pages/signin';
import { OfflineQueue } from './queue';
import type { Store } from './store';

const ROUTES: Record<string, { label: string; make: (ctx: Ctx) => Page }> = {
  play: { label: 'Play', make: playPage },
  progress: { label: 'Progress', make: progressPage },
  practice: { label: 'Practice', make: practicePage },
};

const KEEP_GOING = 'Keep going: everything is saved on this device and syncs when the network is back.';
const WAIT_FOR_NETWORK = 'Playing resumes when the network is back; nothing saved so far is lost.';

function route(): string {
  const name = location.hash.replace(/^#\/?/, '').split('/')[0];
  return name in ROUTES ? name : 'play';
}

export async function startApp(root: HTMLElement, store: Store): Promise<void> {
  const bannerText = h('span', {}, KEEP_GOING);
  const banner = h('div', { class: 'offline-banner', testid: 'offline-banner', role: 'status', hidden: navigator.onLine },
    h('strong', {}, 'You are offline.'), ' ', bannerText);
  // Names the progress queue of this profile (practice answers have their own status on Practice).
  const chip = h('span', { class: 'chip', testid: 'status-chip', role: 'status', 'aria-live': 'polite' }, 'Synced');
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' },
    ...Object.entries(ROUTES).map(([name, r]) => h('a', { href: `#/${name}`, testid: `nav-${name}`, class: 'nav-link' }, r.label)));
  const main = h('main', { id: 'main', class: 'main' });
  const profileLine = h('span', { class: 'profile' });
  root.replaceChildren(
    h('a', { class: 'skip', href: '#main', onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, 'Skip to content'),
    h('header', { class: 'header' },
      h('div', { class: 'header-row' }, h('a', { class: 'brand', href: '#/play' }, 'StudySync'), profileLine,
        h('span', { class: 'chip-label' }, h('span', {}, 'Activities'), chip)),
      nav),
    banner,
    main);
  main.tabIndex = -1;
  const online = () => (banner.hidden = navigator.onLine);
  window.addEventListener('online', online);
  window.addEventListener('offline', online);

  const config = await loadConfig(store);
  if (!config) {
    nav.hidden = true;
    chip.hidden = true;
    main.replaceChildren(signinForm(async (token, profileId) => {
      await signIn(store, token, profileId);
      location.reload();
    }));
    return;
  }
  runApp({ store, config, chip, nav, main, profileLine, bannerText });
}

interface Shell {
  store: Store;
  config: AppConfig;
  chip: HTMLElement;
  nav: HTMLElement;
  main: HTMLElement;
  profileLine: HTMLElement;
  bannerText: HTMLElement;
}

function runApp({ store, config, chip, nav, main, profileLine, bannerText }: Shell): void {
  const channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('studysync');
  let saving = 0;
  let page: Page | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const api = new Api(() => config.token);
  const queue = new OfflineQueue({
    store,
    fetch: (...a) => fetch(...a),
    getToken: () => config.token,
    locks: navigator.locks,
    backoffBaseMs: config.backoff_base_ms,
    backoffMaxMs: config.backoff_max_ms,
    onChange: () => {
      channel?.postMessage('changed'); // other tabs redraw too
      void refresh();
    },
  });

  async function refresh(): Promise<void> {
    const pending = (await queue.getPending(config.profile_id)).length;
    chip.textContent = saving > 0 ? 'Saving…' : pending ? `Pending (${pending})` : 'Synced';
    chip.className = `chip ${saving > 0 ? 'chip-saving' : pending ? 'chip-pending' : 'chip-synced'}`;
    chip.title = queue.problem ?? '';
    bannerText.textContent = ctx.offlineAllowed ? KEEP_GOING : WAIT_FOR_NETWORK;
    await page?.update();
  }

  function schedule(): void {
    clearTimeout(timer);
    const wait = queue.failures > 0 ? Math.max(50, queue.nextAttemptMs - Date.now()) : config.sync_interval_ms;
    timer = setTimeout(() => void tick(), wait);
  }

  async function tick(): Promise<void> {
    try {
      if (navigator.onLine) await queue.sync();
    } catch {
      // A storage or lock error in one pass must not stop the timer: the items are still stored.
    } finally {
      schedule();
    }
  }

  const ctx: Ctx = {
    store,
    queue,
    api,
    config,
    offlineAllowed: true,
    async save(write) {
      saving += 1;
      await refresh();
      try {
        return await write();
      } finally {
        saving -= 1;
        await refresh();
        ctx.kick();
      }
    },
    kick() {
      if (navigator.onLine) void queue.sync().catch(() => undefined).then(schedule);
    },
    changed() {
      void refresh();
    },
  };

  function show(): void {
    page?.dispose?.();
    const name = route();
    page = ROUTES[name].make(ctx);
    main.replaceChildren(page.el);
    for (const link of nav.querySelectorAll('a')) {
      if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${ROUTES[name].label} · StudySync`;
    void refresh();
  }

  profileLine.textContent = `Profile: ${config.profile_id}`;
  if (config.source === 'signin') {
    profileLine.append(' ', h('button', { class: 'link-button', type: 'button', onclick: async () => { await signOut(store); location.reload(); } }, 'Sign out'));
  }
  channel?.addEventListener('message', () => void refresh());
  window.addEventListener('hashchange', show);
  window.addEventListener('online', () => {
    queue.resetBackoff(); // the network is back: try now, not at the end of the backoff
    void tick();
  });
  window.addEventListener('offline', () => void refresh());
  show();
  void loadFlag(ctx).then(() => refresh());
  void tick();
}

/** `offline_progress` for this profile; the last answer is kept for offline starts, unknown means on. */
async function loadFlag(ctx: Ctx): Promise<void> {
  const key = `flag:${ctx.config.profile_id}`;
  try {
    const flags = await ctx.api.features(ctx.config.profile_id);
    ctx.offlineAllowed = flags.offline_progress !== false;
    await ctx.store.putMany('kv', [{ k: key, value: ctx.offlineAllowed }]);
  } catch {
    ctx.offlineAllowed = (await ctx.store.get<{ k: string; value: boolean }>('kv', key))?.value ?? true;
  }
}
