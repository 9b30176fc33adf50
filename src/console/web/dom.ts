/** A child of an element: nodes and text (always as text, never parsed as HTML). */
export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/**
 * Builds an element: `on*` attributes become listeners, `true` an empty attribute, text children
 * text nodes. The console never writes HTML from data (message fields are untrusted text).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's content. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** A table with a caption and column headers; rows of cells. */
export function table(caption: string, headers: string[], rows: Child[][], opts: { id?: string } = {}) {
  return h(
    'table',
    { ...(opts.id ? { id: opts.id } : {}) },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
    h(
      'tbody',
      {},
      ...(rows.length
        ? rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))
        : [h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'nothing to show'))]),
    ),
  );
}

/** A labelled figure: a number and what it counts. */
export function kpi(label: string, value: Child, opts: { tone?: 'ok' | 'warn' | 'bad'; id?: string } = {}) {
  return h(
    'div',
    { class: `kpi ${opts.tone ?? ''}`, ...(opts.id ? { id: opts.id } : {}) },
    h('span', { class: 'kpi-value' }, value),
    h('span', { class: 'kpi-label' }, label),
  );
}

/** Says something to screen readers (and shows it briefly). */
export function announce(text: string): void {
  const s = document.getElementById('status');
  if (s) s.textContent = text;
}

export const fmtTime = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) : '–';

export function fmtSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return '–';
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${(s / 60).toFixed(1)} min`;
}
