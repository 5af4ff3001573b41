/** Practice: download packages for offline use, answer their questions with or without a network. */
import { ApiError, type PackageSummary } from '../api';
import { h, when } from '../dom';
import type { Ctx, Page } from '../context';
import { explainRefusal } from '../reasons';
import { download, lastSession, revalidate, saveSession, startSession, storedPackages, type PracticeSession, type StoredPackage } from '../packages';

const SCOPES: Array<[string, string]> = [['', 'All published'], ['PROGRAM', 'Programme'], ['YEAR', 'Year'], ['BLOCK', 'Block'], ['THEME', 'Theme']];

function scopeText(p: PackageSummary): string {
  const data = Object.entries(p.scope_data ?? {}).map(([k, v]) => `${k.replace(/_id$/, '').replace(/_/g, ' ')} ${String(v)}`);
  return data.length ? data.join(', ') : p.scope.toLowerCase();
}

function refusalNotice(count: number, error: string | undefined): HTMLElement {
  const { plain, detail } = explainRefusal(error);
  const what = count === 1 ? '1 answer was' : `${count} answers were`;
  return h('div', { class: 'notice notice-bad', testid: 'practice-refused' },
    h('p', {}, `${what} not accepted. ${plain}`),
    detail ? h('p', { class: 'item-meta item-detail' }, `Server: ${detail}`) : null);
}

export function practicePage(ctx: Ctx): Page {
  let scope = '';
  let listed: PackageSummary[] = [];
  let listProblem: string | null = null;
  let session: PracticeSession | null = null; // answering now
  let held: StoredPackage | null = null;
  const root = h('div', { class: 'page' });
  const note = h('p', { class: 'notice', role: 'status', testid: 'practice-notice', hidden: true });
  const list = h('ul', { class: 'package-list', testid: 'package-list' });
  const summarySlot = h('div');
  const select = h('select', { id: 'scope-select', onchange: () => { scope = select.value; void loadList(); } },
    ...SCOPES.map(([value, label]) => h('option', { value }, label)));

  const listView = h('div', { class: 'stack' },
    summarySlot,
    h('section', { class: 'card', 'aria-labelledby': 'practice-title' },
      h('h1', { id: 'practice-title' }, 'Practice'),
      h('p', { class: 'muted' }, 'Download a package to practise without the network. Answers are kept on this device until they sync.'),
      h('div', { class: 'field' }, h('label', { for: 'scope-select' }, 'Show packages for'), select),
      note,
      list));

  let listedMs = 0;
  let listing = false; // a list request is under way
  let listOffline = false; // the last list failed while the browser was offline

  async function loadList(): Promise<void> {
    listedMs = Date.now();
    listing = true;
    if (listProblem && navigator.onLine) note.textContent = 'Back online: loading the list of packages…';
    try {
      listed = (await ctx.api.listPackages(scope)).packages;
      listProblem = null;
      listOffline = false;
    } catch (error) {
      listed = [];
      const noNetwork = error instanceof ApiError && error.status === 0;
      // Only a failure while the browser knew it was offline is retried the moment it is back; one
      // while it thought it was online waits the few seconds, or a dead network would spin here.
      listOffline = noNetwork && !navigator.onLine;
      listProblem = noNetwork ? 'Offline: showing the packages downloaded on this device.' : `Could not load the list: ${(error as Error).message}`;
    } finally {
      listing = false;
    }
    await update();
  }

  async function revalidateAll(): Promise<void> {
    for (const stored of await storedPackages(ctx.store)) {
      try {
        await revalidate(ctx.api, ctx.store, stored);
      } catch {
        return; // offline or the server is busy: the kept copies stay as they are
      }
    }
    await update();
  }

  async function onDownload(packageId: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    button.textContent = 'Downloading…';
    try {
      await download(ctx.api, ctx.store, packageId);
      await update();
      (list.querySelector(`[data-package-id="${CSS.escape(packageId)}"] [data-testid="start-practice"]`) as HTMLElement | null)?.focus();
    } catch (error) {
      button.disabled = false;
      button.textContent = 'Download for offline';
      note.hidden = false;
      note.textContent = `Could not download: ${(error as Error).message}`;
    }
  }

  async function onStart(stored: StoredPackage): Promise<void> {
    held = stored;
    session = await startSession(ctx.store, stored);
    await update();
  }

  async function answer(index: number): Promise<void> {
    if (!session || !held) return;
    const question = held.package.questions[session.answer_keys.length];
    const item = await ctx.queue.enqueueAttempt({
      profile_id: ctx.config.profile_id,
      offline_session_id: session.offline_session_id,
      question_id: question.question_id,
      selected_option_index: index,
      package_id: held.package_id,
    });
    session.answer_keys.push(item.key);
    if (session.answer_keys.length >= session.total) session.finished_ms = Date.now();
    await saveSession(ctx.store, session);
    if (session.finished_ms) session = null;
    ctx.kick();
    await update();
    (root.querySelector('[data-testid="option-button"], [data-testid="session-summary"] h2') as HTMLElement | null)?.focus();
  }

  function questionView(s: PracticeSession, pkg: StoredPackage): HTMLElement {
    const n = s.answer_keys.length;
    const q = pkg.package.questions[n];
    return h('section', { class: 'card', 'aria-labelledby': 'question-title' },
      h('p', { class: 'muted' }, `${pkg.package.name} · Question ${n + 1} of ${s.total}`),
      h('progress', { max: s.total, value: n, 'aria-label': `${n} of ${s.total} answered` }),
      h('h1', { id: 'question-title', class: 'question-stem', testid: 'question-stem' }, q.stem),
      h('div', { class: 'options', role: 'group', 'aria-labelledby': 'question-title' },
        ...q.options.map((text, i) =>
          h('button', { class: 'option-button', type: 'button', testid: 'option-button', 'data-index': i, onclick: () => void answer(i) },
            h('span', { class: 'option-mark', 'aria-hidden': 'true' }, String.fromCharCode(65 + i)), text))));
  }

  async function summaryView(s: PracticeSession): Promise<HTMLElement> {
    const attempts = (await ctx.queue.items(ctx.config.profile_id, 'attempt')).filter((i) => s.answer_keys.includes(i.key));
    const pending = attempts.filter((i) => i.state === 'pending').length;
    const failed = attempts.filter((i) => i.state === 'failed');
    if (!pending && !s.result && navigator.onLine) {
      const sessionId = attempts.find((i) => i.server_session_id)?.server_session_id;
      if (sessionId) {
        try {
          const view = await ctx.api.getSession(sessionId);
          s.result = { correct: view.correct_count, answered: view.answered_count, session_id: sessionId };
          await ctx.store.putMany('kv', [s]);
        } catch {
          // shown as "waiting for the score"; the next update tries again
        }
      }
    }
    const finished = s.finished_ms !== undefined;
    return h('section', { class: 'card summary', testid: 'session-summary', 'aria-labelledby': 'summary-title' },
      h('h2', { id: 'summary-title', tabindex: '-1' }, finished ? `Finished: ${s.package_name}` : `Stopped: ${s.package_name}`),
      h('p', {}, `${s.answer_keys.length} of ${s.total} questions answered · ${when(s.finished_ms ?? s.started_ms)}`),
      h('p', {}, 'Answers: ', h('span', { class: `chip ${pending ? 'chip-pending' : 'chip-synced'}`, testid: 'practice-status' }, pending ? `Pending (${pending})` : 'Synced')),
      s.result
        ? h('p', { class: 'result', testid: 'session-result' }, `${s.result.correct} / ${s.result.answered} correct`)
        : h('p', { class: 'muted' }, pending ? 'The score shows once the answers reach the server.' : 'Getting the score…'),
      failed.length ? refusalNotice(failed.length, failed[0].error) : null);
  }

  function packageItem(p: PackageSummary, stored: StoredPackage | undefined): HTMLElement {
    const status = stored
      ? stored.last_check?.status === 404
        ? 'Downloaded · withdrawn by the school, kept for practice'
        : `Downloaded${stored.last_check ? ` · up to date (checked ${when(stored.last_check.ms)})` : ''}`
      : 'Not downloaded';
    const button = stored
      ? h('button', { class: 'button button-primary', type: 'button', testid: 'start-practice', onclick: () => void onStart(stored) }, 'Start practice')
      : h('button', { class: 'button', type: 'button', testid: 'download-package' }, 'Download for offline');
    if (!stored) button.addEventListener('click', () => void onDownload(p.package_id, button as HTMLButtonElement));
    return h('li', { class: 'package', testid: 'package-item', 'data-package-id': p.package_id, 'data-downloaded': stored ? 'true' : undefined },
      h('div', { class: 'package-text' },
        h('h3', {}, p.name),
        h('p', { class: 'muted' }, `${p.question_count} questions · ${scopeText(p)} · version ${p.version}`),
        h('p', { class: `package-status ${stored ? 'is-downloaded' : ''}` }, status)),
      button);
  }

  async function update(): Promise<void> {
    if (session && held) {
      // Redraw only for the next question: a background sync must not take the focus away.
      const at = `${session.offline_session_id}:${session.answer_keys.length}`;
      if (root.dataset.question !== at) {
        root.dataset.question = at;
        root.replaceChildren(questionView(session, held));
      }
      return;
    }
    delete root.dataset.question;
    if (listProblem && navigator.onLine && !listing && (listOffline || Date.now() - listedMs > 3000)) {
      // Back online: the full list again at once, and a check of the kept copies (a list the server
      // refused is asked again at most every few seconds).
      void loadList().then(() => revalidateAll());
      return;
    }
    const stored = new Map((await storedPackages(ctx.store)).map((s) => [s.package_id, s]));
    const shown = [...listed];
    for (const s of stored.values()) if (!shown.some((p) => p.package_id === s.package_id) && (!scope || s.package.scope === scope)) shown.push(s.package);
    list.replaceChildren(...shown.map((p) => packageItem(p, stored.get(p.package_id))));
    if (!shown.length) list.append(h('li', { class: 'empty' }, listProblem ? 'No packages on this device yet.' : 'No published packages for this choice.'));
    note.hidden = !listProblem;
    note.textContent = listing && navigator.onLine ? 'Back online: loading the list of packages…' : listProblem ?? '';
    const last = await lastSession(ctx.store);
    summarySlot.replaceChildren(...(last ? [await summaryView(last)] : []));
    if (root.firstChild !== listView) root.replaceChildren(listView);
  }

  void loadList().then(() => (navigator.onLine ? revalidateAll() : undefined));
  return { el: root, update };
}
