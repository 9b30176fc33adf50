import { type ApiError, api } from './api.js';
import { announce, type Child, fill, fmtTime, h, table } from './dom.js';
import type { LineageRecord, MessagePage, MessageRow } from './types.js';

const STATUSES = ['received', 'processed', 'ignored', 'failed'];

/** The search form's last filter, kept in memory (a patient identifier never goes into the URL). */
let lastFilter: Record<string, unknown> = {};

const field = (name: string, label: string, attrs: Record<string, string> = {}) =>
  h(
    'div',
    { class: 'field' },
    h('label', { for: `f-${name}` }, label),
    h('input', { id: `f-${name}`, name, autocomplete: 'off', ...attrs }),
  );

/** A status as a coloured tag with its word (colour is never the only sign). */
export const statusTag = (s: string) => h('span', { class: `tag tag-${s}` }, s);

/** Messages: the search (POST /messages/search), newest first, with a button for older pages. */
export async function renderMessages(main: HTMLElement): Promise<void> {
  const status = h(
    'select',
    { id: 'f-status', name: 'status' },
    h('option', { value: '' }, 'any'),
    ...STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const form = h(
    'form',
    { class: 'search', id: 'search', role: 'search', 'aria-label': 'Search messages' },
    field('controlId', 'Control id (MSH-10)'),
    field('sender', 'Sender (APP or APP|FACILITY)'),
    field('type', 'Type (e.g. ORU^R01)'),
    h('div', { class: 'field' }, h('label', { for: 'f-status' }, 'Status'), status),
    field('patient', 'Patient identifier', { type: 'password', spellcheck: 'false' }),
    field('model', 'Model'),
    field('from', 'Received from', { type: 'datetime-local', step: '1' }),
    field('to', 'Received before', { type: 'datetime-local', step: '1' }),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit' }, 'Search'),
      h('button', { type: 'reset', class: 'secondary' }, 'Clear'),
    ),
  );
  const results = h('section', { id: 'results', 'aria-label': 'Results', 'aria-live': 'polite' });
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Messages'),
    h(
      'p',
      { class: 'muted' },
      'A patient identifier is sent in the request body, never in a URL; the gateway keeps only its keyed digest.',
    ),
    form,
    results,
  );
  for (const [k, v] of Object.entries(lastFilter)) {
    const el = form.elements.namedItem(k) as HTMLInputElement | null;
    if (el && typeof v === 'string' && k !== 'patient')
      el.value = k === 'from' || k === 'to' ? v.slice(0, 19) : v;
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    const f: Record<string, unknown> = {};
    for (const [k, v] of fd.entries()) {
      const s = String(v).trim();
      if (!s) continue;
      f[k] = k === 'from' || k === 'to' ? new Date(s).toISOString() : k === 'status' ? [s] : s;
    }
    lastFilter = f;
    void search(results, f);
  });
  form.addEventListener('reset', () => {
    lastFilter = {};
    void search(results, {});
  });
  await search(results, lastFilter);
}

async function search(results: HTMLElement, filter: Record<string, unknown>): Promise<void> {
  results.setAttribute('aria-busy', 'true');
  try {
    const page = await api<MessagePage>('/messages/search', {
      method: 'POST',
      body: { ...filter, limit: 50 },
    });
    const rows: MessageRow[] = [...page.items];
    const more = h('button', { type: 'button', class: 'secondary', id: 'more' }, 'Older messages');
    let cursor = page.nextCursor;
    const render = () => {
      fill(
        results,
        table(
          `${rows.length} message${rows.length === 1 ? '' : 's'}, newest first`,
          ['received', 'status', 'type', 'sender', 'control id', 'last stage', 'outputs / reason'],
          rows.map((m) => [
            fmtTime(m.receivedAt),
            statusTag(m.status),
            m.messageType ?? '–',
            m.sender,
            h('a', { href: `#/messages/${encodeURIComponent(m.messageId)}`, class: 'open' }, m.controlId),
            m.lineage.last?.stage ?? '–',
            m.lineage.outputs.length ? `${m.lineage.outputs.length} written` : (m.lineage.reason ?? ''),
          ]),
          { id: 'message-table' },
        ),
        cursor ? more : null,
      );
    };
    more.addEventListener('click', async () => {
      if (!cursor) return;
      const next = await api<MessagePage>('/messages/search', {
        method: 'POST',
        body: { ...filter, limit: 50, cursor },
      });
      rows.push(...next.items);
      cursor = next.nextCursor;
      render();
      announce(`${next.items.length} older messages loaded`);
    });
    render();
    announce(`${rows.length} messages found`);
  } catch (err) {
    fill(results, h('p', { class: 'error', role: 'alert' }, (err as Error).message));
  } finally {
    results.setAttribute('aria-busy', 'false');
  }
}

/** What a stage did, as label/value pairs (without its chain fields). */
function detailOf(s: LineageRecord['stages'][number]): Child {
  const { stage: _s, at: _a, seq: _q, hash: _h, outputs: _o, ...d } = s;
  const entries = Object.entries(d).filter(
    ([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0),
  );
  if (entries.length === 0) return null;
  return h(
    'dl',
    { class: 'detail' },
    ...entries.flatMap(([k, v]) => [
      h('dt', {}, k),
      h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)),
    ]),
  );
}

/** One message: its summary, lineage timeline, outputs (linked), raw text (phi:read) and replay (replay). */
export async function renderMessage(main: HTMLElement, messageId: string): Promise<void> {
  const [m, rec] = await Promise.all([
    api<MessageRow>(`/messages/${encodeURIComponent(messageId)}`),
    api<LineageRecord>(`/lineage/${encodeURIComponent(messageId)}`),
  ]);
  const t0 = Date.parse(rec.stages[0]?.at ?? rec.source.receivedAt);
  const actions = h('div', { class: 'toolbar' });
  const note = h('div', { id: 'action-note', role: 'status', 'aria-live': 'polite' });
  const rawBox = h('section', { id: 'raw', 'aria-label': 'Raw message' });
  const deadLetter = m.status === 'failed' && m.lineage.deadLetter && !m.lineage.deadLetter.resolvedAt;
  if (deadLetter) {
    const replay = h('button', { type: 'button', id: 'replay' }, 'Replay this dead letter');
    replay.addEventListener('click', async () => {
      replay.disabled = true;
      try {
        const r = await api<{
          replayId: string | null;
          queued: string[];
          skipped: Array<{ reason: string }>;
        }>('/replay', {
          method: 'POST',
          body: { messageIds: [messageId] },
        });
        if (!r.replayId) {
          fill(
            note,
            h(
              'p',
              { class: 'error' },
              `Not replayed: ${r.skipped.map((s) => s.reason).join('; ') || 'nothing to replay'}`,
            ),
          );
          replay.disabled = false;
          return;
        }
        fill(note, h('p', {}, `Replay ${r.replayId} queued; following it…`));
        for (let i = 0; i < 100; i++) {
          const p = await api<{ pending: number }>(`/replay/${r.replayId}`);
          if (p.pending === 0) break;
          await new Promise((res) => setTimeout(res, 200));
        }
        await renderMessage(main, messageId);
        announce('Replay finished; the timeline shows its stages');
        document.getElementById('replay-done')?.focus();
      } catch (err) {
        const e = err as ApiError;
        fill(
          note,
          h(
            'p',
            { class: 'error', role: 'alert' },
            e.status === 403 ? 'Your token lacks the replay scope.' : e.message,
          ),
        );
        replay.disabled = false;
      }
    });
    actions.append(replay);
  }
  const showRaw = h(
    'button',
    { type: 'button', class: 'secondary', id: 'show-raw', ...(m.rawAvailable ? {} : { disabled: true }) },
    m.rawAvailable ? 'Show raw message (this view is recorded)' : 'Raw message pruned',
  );
  showRaw.addEventListener('click', async () => {
    try {
      const r = await api<MessageRow>(`/messages/${encodeURIComponent(messageId)}?raw=true`);
      fill(
        rawBox,
        h('h2', {}, 'Raw message'),
        h(
          'p',
          { class: 'muted' },
          'This view is recorded: a "viewed" entry in the lineage and a row in the access log (GET /messages/{id}/views), under your token\'s name.',
        ),
        h('pre', { class: 'raw', tabindex: 0 }, (r.raw ?? '').replace(/\r\n?/g, '\n')),
      );
    } catch (err) {
      const e = err as ApiError;
      fill(
        rawBox,
        h(
          'p',
          { class: 'error', role: 'alert' },
          e.status === 403 ? 'Raw text needs the phi:read scope.' : e.message,
        ),
      );
    }
  });
  actions.append(showRaw);
  const seen = new Set<string>();
  const outputs = rec.outputs.filter((o) => !seen.has(o.resource) && seen.add(o.resource));
  main.replaceChildren(
    h('p', {}, h('a', { href: '#/messages' }, '← Messages')),
    h('h1', { tabindex: -1 }, `Message ${rec.source.controlId}`),
    h(
      'dl',
      { class: 'summary' },
      ...(
        [
          ['status', statusTag(rec.status)],
          ['message id', rec.messageId],
          ['type', rec.source.messageType ?? '–'],
          ['sender', rec.source.sender],
          ['channel', rec.source.channel],
          ['received', fmtTime(rec.source.receivedAt)],
          ['sha256', h('code', {}, rec.source.sha256)],
          ['replays', String(m.replays)],
          ['raw views recorded', String(m.lineage.views)],
        ] as Array<[string, Child]>
      ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    ),
    actions,
    note,
    h('h2', {}, 'Lineage timeline'),
    h(
      'ol',
      { class: 'timeline', id: 'timeline' },
      ...rec.stages.map((s) =>
        h(
          'li',
          {
            class: `stage stage-${s.stage}`,
            ...(s.stage === 'replayed' ? { id: 'replay-done', tabindex: -1 } : {}),
          },
          h('span', { class: 'stage-name' }, s.stage),
          h('time', { datetime: s.at }, `${fmtTime(s.at)}  +${Date.parse(s.at) - t0} ms`),
          detailOf(s),
        ),
      ),
    ),
    h('h2', {}, 'Outputs'),
    table(
      'FHIR resources written',
      ['resource', 'model', 'mapping', 'model sha256'],
      outputs.map((o) => [
        h('a', { href: `#/fhir/${o.resource}` }, o.resource),
        `${o.model}@${o.modelVersion}`,
        o.mappingVersion,
        h('code', {}, o.modelSha256.slice(0, 16)),
      ]),
      { id: 'outputs' },
    ),
    rawBox,
  );
}

/** A FHIR resource the gateway wrote, fetched with the session's token (embedded store), or a link to it. */
export async function renderFhir(main: HTMLElement, ref: string, fhirBaseUrl: string): Promise<void> {
  const sameOrigin = new URL(fhirBaseUrl, location.href).origin === location.origin;
  const path = `${new URL(fhirBaseUrl, location.href).pathname.replace(/\/$/, '')}/${ref}`;
  main.replaceChildren(
    h('p', {}, h('button', { type: 'button', class: 'link', onclick: () => history.back() }, '← Back')),
    h('h1', { tabindex: -1 }, ref),
  );
  if (!sameOrigin) {
    main.append(
      h(
        'p',
        {},
        'Written to an external FHIR server: ',
        h('a', { href: `${fhirBaseUrl}/${ref}`, rel: 'noopener' }, `${fhirBaseUrl}/${ref}`),
      ),
    );
    return;
  }
  const res = await api<unknown>(path);
  main.append(h('pre', { class: 'raw', id: 'fhir-json', tabindex: 0 }, JSON.stringify(res, null, 2)));
}
