import { html } from "htm/preact";

/**
 * Plain SVG charts: a per-day series needs a polyline and a few labels, not a
 * charting library (the console's JavaScript budget is 150 KB gzipped).
 */
export interface Series {
  name: string;
  /** A CSS class, so the colours live in the stylesheet (no inline styles under the CSP). */
  cls: string;
  values: number[];
}

function points(values: number[], w: number, h: number, max: number, pad = 0): string {
  const step = values.length > 1 ? (w - 2 * pad) / (values.length - 1) : 0;
  return values.map((v, i) => `${(pad + i * step).toFixed(1)},${(h - pad - (max > 0 ? (v / max) * (h - 2 * pad) : 0)).toFixed(1)}`).join(" ");
}

/** A tiny line of one series, for a table cell. */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  const max = Math.max(0, ...values);
  return html`<svg class="spark" viewBox="0 0 100 24" preserveAspectRatio="none" role="img" aria-label=${label}>
    <polyline class="s-sent" points=${points(values, 100, 24, max, 2)} />
  </svg>`;
}

/** Several per-day series on one set of axes, with dates along the bottom. */
export function DailyChart({ dates, series }: { dates: string[]; series: Series[] }) {
  const W = 720;
  const H = 220;
  const L = 40;
  const B = 24;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const plotW = W - L - 10;
  const plotH = H - B - 10;
  const x = (i: number) => L + (dates.length > 1 ? (i * plotW) / (dates.length - 1) : 0);
  const y = (v: number) => 10 + plotH - (v / max) * plotH;
  const ticks = max >= 2 ? [0, Math.round(max / 2), max] : [0, max];
  const labelEvery = Math.max(1, Math.ceil(dates.length / 6));
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label="Sends, opens and clicks per day">
      ${ticks.map((t) => html`<g><line class="grid" x1=${L} x2=${W - 10} y1=${y(t)} y2=${y(t)} /><text class="tick" x=${L - 6} y=${y(t) + 4} text-anchor="end">${t}</text></g>`)}
      ${dates.map((d, i) =>
        // Every few days, and always the last one (dropping a label that would crowd it).
        (i % labelEvery === 0 && dates.length - 1 - i >= labelEvery / 2) || i === dates.length - 1 || i === 0
          ? html`<text class="tick" x=${x(i)} y=${H - 6} text-anchor=${i === 0 ? "start" : i === dates.length - 1 ? "end" : "middle"}>${d.slice(5)}</text>`
          : null,
      )}
      ${series.map((s) => html`<polyline class=${s.cls} points=${s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")} />`)}
    </svg>
    <figcaption>${series.map((s) => html`<span class=${`key ${s.cls}`}>${s.name} ${s.values.reduce((a, b) => a + b, 0)}</span>`)}</figcaption>
  </figure>`;
}
