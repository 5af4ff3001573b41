/** A tiny element builder: enough for a few pages without a framework. */
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (name === 'testid') el.setAttribute('data-testid', String(value));
    else if (name === 'class') el.className = String(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

/** Local time for people: "10:04" today, "28 Jan, 10:04" otherwise. */
export function when(ms: number): string {
  const d = new Date(ms);
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}, ${time}`;
}

/** The words shown for an item's state: text and a shape, never colour alone. */
export const STATE_LABEL = { pending: 'Waiting to sync', synced: 'Synced', failed: 'Not accepted' } as const;

export function stateBadge(state: keyof typeof STATE_LABEL): HTMLElement {
  return h('span', { class: `badge badge-${state}` }, STATE_LABEL[state]);
}
