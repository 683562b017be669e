/**
 * Charts as server-rendered SVG: no script, no request anywhere, readable by screen readers
 * (each chart has a title and a description, and the page shows its data as a table too).
 * Colours come from CSS classes (s0 … s7), so the stylesheet decides them.
 */
import { escapeHtml, type Html, html, raw } from './html.js';

export interface Series {
  name: string;
  values: readonly (number | null)[];
  /**
   * A series that stands for a verdict takes that verdict's colour everywhere (blocked red, warned
   * amber, allowed or compliant green); others take the next colour of a palette without those.
   */
  tone?: 'allow' | 'warn' | 'block';
}

/** The CSS class that colours a series. */
const tone = (s: Series, index: number): string => (s.tone ? `t-${s.tone}` : `s${index % 8}`);

const WIDTH = 720;
const HEIGHT = 240;
const PAD = { top: 16, right: 16, bottom: 28, left: 48 };

/**
 * A round axis maximum at or above `max`: four equal steps of 1, 2, 2.5, 3, 4 or 5 times a power
 * of ten, whole numbers when the data are counts, so every tick is a round number.
 */
export function niceMax(max: number, integers = true): number {
  if (!(max > 0)) return integers ? 4 : 1;
  const raw = max / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 3, 4, 5, 10]) {
    const step = factor * power;
    if (step < raw) continue;
    if (integers && !Number.isInteger(step)) continue;
    return step * 4;
  }
  return Math.ceil(raw) * 4;
}

const round = (n: number) => Math.round(n * 10) / 10;

function frame(
  days: readonly string[],
  yMax: number,
  yLabel: (v: number) => string,
): { x: (i: number) => number; y: (v: number) => number; axes: string } {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number) => round(PAD.left + (days.length <= 1 ? plotW / 2 : (i * plotW) / (days.length - 1)));
  const y = (v: number) => round(PAD.top + plotH - (v / yMax) * plotH);
  let axes = '';
  for (let t = 0; t <= 4; t++) {
    const value = (yMax * t) / 4;
    const py = y(value);
    axes += `<line class="grid" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${py}" y2="${py}"/>`;
    axes += `<text class="tick" x="${PAD.left - 6}" y="${py + 4}" text-anchor="end">${escapeHtml(yLabel(value))}</text>`;
  }
  const every = Math.max(1, Math.ceil(days.length / 8));
  days.forEach((day, i) => {
    // Every few days, and the last day unless it would overlap the label before it.
    const last = i === days.length - 1;
    if (last ? i % every !== 0 && i % every < every / 2 : i % every !== 0) return;
    axes += `<text class="tick" x="${x(i)}" y="${HEIGHT - 8}" text-anchor="middle">${escapeHtml(day.slice(5))}</text>`;
  });
  return { x, y, axes };
}

export interface ChartOptions {
  id: string;
  title: string;
  description: string;
  yLabel?: (value: number) => string;
  yMax?: number;
}

/** Lines over days; null values leave gaps. */
export function lineChart(days: readonly string[], series: readonly Series[], options: ChartOptions): Html {
  const max =
    options.yMax ?? niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const { x, y, axes } = frame(days, max, options.yLabel ?? ((v) => String(Math.round(v * 100) / 100)));
  let lines = '';
  series.forEach((s, index) => {
    let path = '';
    let pen = false;
    s.values.forEach((value, i) => {
      if (value === null) {
        pen = false;
        return;
      }
      path += `${pen ? 'L' : 'M'}${x(i)} ${y(value)}`;
      pen = true;
    });
    const points = s.values
      .map((value, i) =>
        value === null
          ? ''
          : `<circle class="pt ${tone(s, index)}" cx="${x(i)}" cy="${y(value)}" r="2.5"><title>${escapeHtml(`${s.name}, ${days[i]}: ${(options.yLabel ?? String)(value)}`)}</title></circle>`,
      )
      .join('');
    if (path) lines += `<path class="line ${tone(s, index)}" d="${path}"/>${points}`;
  });
  return svg(options, axes + lines);
}

/** Stacked bars over days. */
export function stackedBars(days: readonly string[], series: readonly Series[], options: ChartOptions): Html {
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = options.yMax ?? niceMax(Math.max(0, ...totals));
  const { x, y, axes } = frame(days, max, options.yLabel ?? ((v) => String(Math.round(v))));
  const plotW = WIDTH - PAD.left - PAD.right;
  const barW = Math.max(2, Math.min(18, (plotW / Math.max(1, days.length)) * 0.7));
  let bars = '';
  days.forEach((day, i) => {
    let base = 0;
    series.forEach((s, index) => {
      const value = s.values[i] ?? 0;
      if (value <= 0) return;
      const top = y(base + value);
      const height = round(y(base) - top);
      bars += `<rect class="bar ${tone(s, index)}" x="${round(x(i) - barW / 2)}" y="${top}" width="${round(barW)}" height="${height}"><title>${escapeHtml(`${s.name}, ${day}: ${value}`)}</title></rect>`;
      base += value;
    });
  });
  return svg(options, axes + bars);
}

function svg(options: ChartOptions, body: string): Html {
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="${options.id}-title ${options.id}-desc" preserveAspectRatio="xMidYMid meet"
    ><title id="${options.id}-title">${options.title}</title><desc id="${options.id}-desc">${options.description}</desc>${raw(body)}</svg>`;
}

/** A small trend line for tables. */
export function sparkline(values: readonly number[], label: string): Html {
  const w = 120;
  const h = 28;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const points = values.map((v, i) => `${round(i * step)},${round(h - 2 - (v / max) * (h - 4))}`).join(' ');
  return html`<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${label}"><polyline points="${points}"/></svg>`;
}

/** A legend as a list, each name with its series colour. */
export function legend(series: readonly Series[]): Html {
  return html`<ul class="legend">${series.map((s, i) => html`<li><span class="swatch ${tone(s, i)}" aria-hidden="true"></span>${s.name}</li>`)}</ul>`;
}

/** The data of a chart as a table, inside a disclosure. */
export function dataTable(
  days: readonly string[],
  series: readonly Series[],
  format: (v: number | null) => string = (v) => (v === null ? '–' : String(v)),
): Html {
  return html`<details class="chart-data"><summary>Show the data as a table</summary>
    <div class="table-wrap"><table><thead><tr><th scope="col">Day</th>${series.map((s) => html`<th scope="col">${s.name}</th>`)}</tr></thead>
    <tbody>${days.map((day, i) => html`<tr><th scope="row">${day}</th>${series.map((s) => html`<td class="num">${format(s.values[i] ?? null)}</td>`)}</tr>`)}</tbody></table></div></details>`;
}
