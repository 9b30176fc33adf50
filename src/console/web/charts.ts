/** The little of Plotly's API the console uses. */
export interface PlotlyLike {
  react(
    el: HTMLElement,
    data: unknown[],
    layout: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<unknown>;
  purge(el: HTMLElement): void;
}

declare global {
  interface Window {
    Plotly?: PlotlyLike;
  }
}

let loading: Promise<PlotlyLike> | undefined;

/**
 * Plotly, loaded on first use from the gateway itself (the page's `plotly-src` meta names the
 * versioned file), so the page paints before its 4.8 MB arrive.
 */
export function plotly(): Promise<PlotlyLike> {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  loading ??= new Promise<PlotlyLike>((resolve, reject) => {
    const src = document.querySelector<HTMLMetaElement>('meta[name="plotly-src"]')?.content;
    if (!src) return reject(new Error('no plotly-src on the page'));
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error('Plotly did not load')));
    s.onerror = () => {
      loading = undefined;
      reject(new Error('Plotly could not be loaded from the gateway'));
    };
    document.head.append(s);
  });
  return loading;
}

const BASE_LAYOUT = {
  margin: { l: 56, r: 16, t: 72, b: 40 },
  height: 280,
  paper_bgcolor: 'rgba(0,0,0,0)',
  plot_bgcolor: 'rgba(0,0,0,0)',
  font: { family: 'system-ui, sans-serif', size: 12, color: '#1d2733' },
  legend: { orientation: 'h', x: 1, y: 1.02, yanchor: 'bottom', xanchor: 'right', font: { size: 11 } },
};

/** Draws (or redraws) a chart; the element says what it shows to screen readers. */
export async function chart(
  el: HTMLElement,
  title: string,
  data: unknown[],
  layout: Record<string, unknown> = {},
): Promise<void> {
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', title);
  const P = await plotly();
  await P.react(
    el,
    data,
    {
      ...BASE_LAYOUT,
      title: { text: title, font: { size: 14 }, x: 0.01, xanchor: 'left', y: 0.97, yanchor: 'top' },
      ...layout,
    },
    { displaylogo: false, displayModeBar: false, responsive: true, staticPlot: false },
  );
  el.dataset.drawn = 'true';
}

export const COLORS = {
  received: '#3b6ea5',
  processed: '#2e8540',
  ignored: '#8a8f98',
  failed: '#c0392b',
  p50: '#3b6ea5',
  p90: '#e0a100',
  p99: '#c0392b',
};
