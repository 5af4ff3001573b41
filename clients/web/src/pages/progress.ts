/** Progress (the parents' page): every item with its state, Sync now, failed items with the reason, other devices' items. */
import { ApiError } from '../api';
import { h, stateBadge, when } from '../dom';
import type { Ctx, Page } from '../context';
import { pullProgress, remoteRecords } from '../remote';
import { explainRefusal } from '../reasons';

function describe(activity: string, content: string, score: number): string {
  const letter = content.startsWith('letter-') ? content.slice(7).toUpperCase() : content;
  if (activity === 'letter_pick') return `Letter ${letter} · ${score >= 1 ? 'found' : 'missed'}`;
  return `${activity.replace(/_/g, ' ')} · ${letter} · score ${score}`;
}

function refusalLines(error: string | undefined): HTMLElement[] {
  const { plain, detail } = explainRefusal(error);
  return [h('span', { class: 'item-reason' }, plain), ...(detail ? [h('span', { class: 'item-meta item-detail' }, `Server: ${detail}`)] : [])];
}

export function progressPage(ctx: Ctx): Page {
  const lastSync = h('span', { testid: 'last-sync' }, 'never');
  const note = h('p', { class: 'notice', role: 'status', testid: 'progress-notice', hidden: true });
  const syncButton = h('button', { class: 'button button-primary', type: 'button', testid: 'sync-now', onclick: () => void syncNow() }, 'Sync now');
  const list = h('ul', { class: 'item-list', testid: 'progress-list' });
  const failed = h('ul', { class: 'item-list', testid: 'failed-list' });
  let busy = false;
  let pullProblem: string | null = null;
  let pulledMs = 0;

  async function pull(): Promise<void> {
    pulledMs = Date.now();
    try {
      await pullProgress(ctx.api, ctx.store, ctx.config.profile_id);
      pullProblem = null;
    } catch (error) {
      pullProblem = error instanceof ApiError && error.status === 0 ? 'Offline: items from other devices show after the next sync.' : `Items from other devices could not be loaded: ${(error as Error).message}`;
    }
  }

  async function syncNow(): Promise<void> {
    if (busy) return;
    busy = true;
    syncButton.disabled = true;
    syncButton.textContent = 'Syncing…';
    try {
      ctx.queue.resetBackoff();
      const report = await ctx.queue.sync({ force: true });
      await pull();
      if (!report.problem && !pullProblem) await ctx.queue.markSynced();
    } finally {
      busy = false;
      syncButton.disabled = false;
      syncButton.textContent = 'Sync now';
      ctx.changed();
    }
  }

  async function update(): Promise<void> {
    const profile = ctx.config.profile_id;
    const own = await ctx.queue.items(profile, 'progress');
    const ownKeys = new Set(own.map((i) => i.key));
    const others = (await remoteRecords(ctx.store, profile)).filter((r) => !ownKeys.has(r.idempotency_key));
    const at = await ctx.queue.lastSync();
    lastSync.textContent = at ? when(at) : 'never';
    if (pullProblem && !ctx.queue.problem && navigator.onLine && !busy && Date.now() - pulledMs > 5000) {
      // The queue got through again: so may the read-back (at most every few seconds).
      void pull().then(() => ctx.changed());
    }
    // Two different troubles: this device's items not sent yet, or only the other devices' list unread.
    const pendingHere = own.some((i) => i.state === 'pending');
    const problem = ctx.queue.problem && pendingHere
      ? `Not everything is synced yet. ${ctx.queue.problem}`
      : pullProblem
        ? `${pendingHere ? '' : 'Everything from this device is synced. '}${pullProblem}`
        : null;
    note.hidden = !problem;
    note.textContent = problem ?? '';

    type Row = { ms: number; el: HTMLElement };
    const rows: Row[] = [
      ...own.filter((i) => i.state !== 'failed').map((i) => ({
        ms: Date.parse(String(i.body.timestamp)),
        el: h('li', { class: 'item', testid: 'progress-item', 'data-key': i.key, 'data-state': i.state, 'data-origin': 'this-device' },
          h('span', { class: 'item-body' },
            h('span', { class: 'item-main' }, describe(String(i.body.activity_type), String(i.body.content_id), Number(i.body.score))),
            h('span', { class: 'item-meta' }, `${when(Date.parse(String(i.body.timestamp)))} · this device`)),
          stateBadge(i.state)),
      })),
      ...others.map((r) => ({
        ms: Date.parse(r.timestamp),
        el: h('li', { class: 'item', testid: 'progress-item', 'data-key': r.idempotency_key, 'data-state': 'synced', 'data-origin': 'other-device' },
          h('span', { class: 'item-body' },
            h('span', { class: 'item-main' }, describe(r.activity_type, r.content_id, r.score)),
            h('span', { class: 'item-meta' }, `${when(Date.parse(r.timestamp))} · another device`)),
          stateBadge('synced')),
      })),
    ].sort((a, b) => b.ms - a.ms);
    list.replaceChildren(...rows.map((r) => r.el));
    if (!rows.length) list.append(h('li', { class: 'empty' }, 'No activities yet.'));

    const bad = own.filter((i) => i.state === 'failed');
    failed.replaceChildren(
      ...bad.map((i) =>
        h('li', { class: 'item item-failed', testid: 'failed-item', 'data-key': i.key },
          h('span', { class: 'item-body' },
            h('span', { class: 'item-main' }, describe(String(i.body.activity_type), String(i.body.content_id), Number(i.body.score))),
            ...refusalLines(i.error)),
          stateBadge('failed')),
      ),
    );
    if (!bad.length) failed.append(h('li', { class: 'empty' }, 'None. Every saved activity was accepted.'));
  }

  const el = h('div', { class: 'page' },
    h('section', { class: 'card', 'aria-labelledby': 'progress-title' },
      h('div', { class: 'card-head' },
        h('div', {}, h('h1', { id: 'progress-title' }, 'Progress'),
          h('p', { class: 'muted' }, `Profile ${ctx.config.profile_id} · Last sync: `, lastSync)),
        syncButton),
      note,
      list),
    h('section', { class: 'card', 'aria-labelledby': 'failed-title' },
      h('h2', { id: 'failed-title' }, 'Not accepted by the server'),
      h('p', { class: 'muted' }, 'These were saved but the server refused them, so they will not be sent again.'),
      failed));
  if (navigator.onLine) void pull().then(() => ctx.changed());
  return { el, update };
}
