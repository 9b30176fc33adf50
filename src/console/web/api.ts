const KEY = 'gateway-console-token';

/** The bearer token lives in this tab's sessionStorage only: closing the tab signs out. */
export const session = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (t: string) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the gateway refuses the token (401): back to the sign-in form. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

/** One call to the gateway's API with the session's token; JSON (or text) back, ApiError on 4xx/5xx. */
export async function api<T>(
  path: string,
  o: { method?: 'GET' | 'POST'; body?: unknown; token?: string; text?: boolean } = {},
): Promise<T> {
  const token = o.token ?? session.get();
  const res = await fetch(path, {
    method: o.method ?? 'GET',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
      accept: o.text ? 'text/plain, text/markdown' : 'application/json',
    },
    ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
    cache: 'no-store',
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as {
      error?: { code?: string; message?: string };
    } | null;
    const err = new ApiError(
      res.status,
      body?.error?.code ?? `HTTP_${res.status}`,
      body?.error?.message ?? `the gateway answered ${res.status}`,
    );
    if (res.status === 401 && !o.token) onUnauthorized();
    throw err;
  }
  return (o.text ? await res.text() : await res.json()) as T;
}
