import { ApiError, api, session, whenUnauthorized } from './api.js';
import { announce, h } from './dom.js';
import { renderFhir, renderMessage, renderMessages } from './messages.js';
import { renderModel, renderModels } from './models.js';
import { renderOverview } from './overview.js';
import { renderSubscriptions } from './subscriptions.js';
import type { Overview } from './types.js';

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const signOut = document.getElementById('sign-out') as HTMLButtonElement;
let current: AbortController | undefined;
let fhirBaseUrl: string | undefined;

/** The sign-in form: the token is checked against the gateway, then kept in sessionStorage only. */
function renderSignIn(message?: string): void {
  nav.hidden = true;
  signOut.hidden = true;
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
  });
  const error = h('p', { class: 'error', id: 'sign-in-error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    { class: 'sign-in', id: 'sign-in', 'aria-describedby': 'sign-in-help' },
    h('h1', { tabindex: -1 }, 'Sign in'),
    h(
      'p',
      { id: 'sign-in-help', class: 'muted' },
      'A gateway bearer token (scope read; replay to replay dead letters, phi:read to see raw messages). It is kept in this browser tab only.',
    ),
    h('label', { for: 'token' }, 'Bearer token'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    try {
      await api<Overview>('/stats/overview?minutes=5', { token });
      session.set(token);
      if (!location.hash || location.hash === '#/sign-in') location.hash = '#/overview';
      else void route();
    } catch (err) {
      error.textContent =
        err instanceof ApiError && err.status === 401
          ? 'The gateway did not accept this token.'
          : (err as Error).message;
      input.focus();
    }
  });
  main.replaceChildren(form);
  input.focus();
}

async function fhirBase(): Promise<string> {
  fhirBaseUrl ??= (await api<Overview>('/stats/overview?minutes=5')).fhirBaseUrl;
  return fhirBaseUrl;
}

/** Hash routes: #/overview, #/messages, #/messages/ID, #/models, #/models/NAME, #/subscriptions, #/fhir/Type/id. */
async function route(): Promise<void> {
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  if (!session.get()) return renderSignIn();
  nav.hidden = false;
  signOut.hidden = false;
  const [page = 'overview', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const arg = rest.map(decodeURIComponent).join('/');
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    if (page === 'messages' && arg) await renderMessage(main, arg);
    else if (page === 'messages') await renderMessages(main);
    else if (page === 'models' && arg) await renderModel(main, arg);
    else if (page === 'models') await renderModels(main);
    else if (page === 'subscriptions') await renderSubscriptions(main);
    else if (page === 'fhir' && arg) await renderFhir(main, arg, await fhirBase());
    else await renderOverview(main, ctl.signal);
    document.title = `${main.querySelector('h1')?.textContent ?? 'Console'} · Clinical ML gateway`;
    (main.querySelector('h1') as HTMLElement | null)?.focus();
    announce(`${main.querySelector('h1')?.textContent ?? ''} loaded`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    main.replaceChildren(
      h('h1', { tabindex: -1 }, 'Something went wrong'),
      h('p', { class: 'error', role: 'alert' }, (err as Error).message),
    );
  }
}

whenUnauthorized(() => {
  session.clear();
  renderSignIn('The gateway no longer accepts this token; sign in again.');
});
signOut.addEventListener('click', () => {
  session.clear();
  fhirBaseUrl = undefined;
  location.hash = '#/sign-in';
  renderSignIn();
});
window.addEventListener('hashchange', () => void route());
void route();
