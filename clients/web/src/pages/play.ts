/** Play: find the letter. One click finishes one activity and saves one progress item. */
import { h, stateBadge, when } from '../dom';
import type { Ctx, Page } from '../context';

const ALPHABET = 'ABCDEFGHIJKLMNOPRSTUVWYZ'; // no Q or X: letters a young child meets first
const CHOICES = 4;
const RECENT = 8;

function round(random = Math.random): { target: string; choices: string[] } {
  const pool = ALPHABET.split('');
  const picked: string[] = [];
  while (picked.length < CHOICES) picked.push(pool.splice(Math.floor(random() * pool.length), 1)[0]);
  return { target: picked[Math.floor(random() * CHOICES)], choices: picked };
}

export function playPage(ctx: Ctx): Page {
  const target = h('span', { class: 'target-letter', testid: 'target-letter' });
  const choices = h('div', { class: 'choices', role: 'group', 'aria-label': 'Letters to choose from' });
  const feedback = h('p', { class: 'feedback', 'aria-live': 'polite' });
  const score = h('strong', { testid: 'score' }, '0');
  const recent = h('ul', { class: 'item-list', testid: 'recent-list' });
  const offlineNote = h('p', { class: 'notice notice-warn', hidden: true },
    'Saving while offline is switched off for this profile. Playing resumes when the network is back.');
  const problemNote = h('p', { class: 'notice notice-bad', role: 'status', hidden: true });
  let started = performance.now();

  function newRound(): void {
    const { target: letter, choices: letters } = round();
    target.textContent = letter;
    started = performance.now();
    const offlineBlocked = !ctx.offlineAllowed && !navigator.onLine;
    choices.replaceChildren(
      ...letters.map((x) =>
        h('button', { class: 'letter-choice', type: 'button', testid: 'letter-choice', 'data-letter': x, 'aria-label': `Letter ${x}`,
          disabled: offlineBlocked, onclick: () => void choose(letter, x) }, x),
      ),
    );
  }

  async function choose(letter: string, picked: string): Promise<void> {
    const clickedAt = new Date().toISOString(); // device time of the activity
    const duration = Math.round((performance.now() - started) / 100) / 10;
    const correct = picked === letter;
    feedback.textContent = correct ? `Well done! That was ${letter}.` : `That was ${picked}. The letter was ${letter}.`;
    feedback.className = `feedback ${correct ? 'feedback-right' : 'feedback-wrong'}`;
    newRound(); // the next activity starts at once; saving goes on in the background
    choices.querySelector('button')?.focus();
    await ctx.save(() =>
      ctx.queue.enqueue({
        profile_id: ctx.config.profile_id,
        activity_type: 'letter_pick',
        content_id: `letter-${letter.toLowerCase()}`,
        score: correct ? 1 : 0,
        duration_seconds: duration,
        timestamp: clickedAt,
        meta_data: { picked: picked.toLowerCase() },
      }),
    );
  }

  async function update(): Promise<void> {
    const items = (await ctx.queue.items(ctx.config.profile_id, 'progress')).filter((i) => i.body.activity_type === 'letter_pick');
    score.textContent = String(items.reduce((sum, i) => sum + Number(i.body.score), 0));
    recent.replaceChildren(
      ...items.slice(-RECENT).reverse().map((item) => {
        const letter = String(item.body.content_id).replace(/^letter-/, '').toUpperCase();
        const right = Number(item.body.score) === 1;
        return h('li', { class: 'item', testid: 'recent-item', 'data-key': item.key, 'data-state': item.state },
          h('span', { class: 'item-letter', 'aria-hidden': 'true' }, letter),
          h('span', { class: 'item-body' },
            h('span', { class: 'item-main' }, `Letter ${letter} · ${right ? 'found' : 'missed'}`),
            h('span', { class: 'item-meta' }, when(Date.parse(String(item.body.timestamp))))),
          stateBadge(item.state));
      }),
    );
    if (!items.length) recent.append(h('li', { class: 'empty' }, 'Nothing played yet. Pick a letter to start.'));
    const blocked = !ctx.offlineAllowed && !navigator.onLine;
    offlineNote.hidden = !blocked;
    // A refused request (expired sign-in, no access) will not fix itself: say so; the items are kept.
    const refused = ctx.queue.problem?.startsWith('HTTP ') ? ctx.queue.problem : null;
    problemNote.hidden = !refused;
    problemNote.textContent = refused ? `Not syncing: the server refused the request (${refused}). Your activities are kept on this device.` : '';
    choices.querySelectorAll('button').forEach((b) => ((b as HTMLButtonElement).disabled = blocked));
  }

  newRound();
  const el = h('div', { class: 'page' },
    h('section', { class: 'card play-card', 'aria-labelledby': 'play-title' },
      h('h1', { id: 'play-title' }, 'Find the letter'),
      h('p', { class: 'target' }, h('span', { class: 'target-label' }, 'Find'), target),
      offlineNote,
      problemNote,
      choices,
      feedback,
      h('p', { class: 'score' }, 'Score ', score)),
    h('section', { class: 'card', 'aria-labelledby': 'recent-title' },
      h('h2', { id: 'recent-title' }, 'Recent activities'),
      recent));
  return { el, update };
}
