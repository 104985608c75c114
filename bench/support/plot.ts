/**
 * bench/results/propagation.svg, written by hand (no charting dependency): latency on a log scale
 * against fleet size on a log scale — ours (delivery and end to end, p50 dashed, p99 solid), the
 * poll-only baseline as measured in the same run, and the 30-minute default poll's expected mean
 * and worst staleness as reference lines.
 */

export interface PlotRow {
  subscribers: number;
  secretsManager: string;
  deliveryP50Ms: number;
  deliveryP99Ms: number;
  endToEndP50Ms: number;
  endToEndP99Ms: number;
}

export interface PlotInput {
  propagation: PlotRow[];
  pollBaseline: {
    intervalMs: number;
    bySubscribers: Array<{ subscribers: number; meanStalenessMs: number; p99StalenessMs: number }>;
    defaultExpectedMeanMs: number;
    defaultWorstMs: number;
  };
  caption: string;
}

const W = 840;
const H = 460;
const M = { left: 70, right: 290, top: 48, bottom: 52 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number): string => (Math.round(n * 10) / 10).toString();

function msLabel(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${ms / 1_000} s`;
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  return `${ms / 3_600_000} h`;
}

export function propagationSvg(input: PlotInput): string {
  const sizes = [...new Set(input.propagation.map((r) => r.subscribers))].sort((a, b) => a - b);
  const xMin = Math.log10(Math.max(0.5, (sizes[0] ?? 1) * 0.7));
  const xMax = Math.log10((sizes.at(-1) ?? 500) * 1.4);
  const yMin = 0; // 1 ms
  const yMax = Math.log10(input.pollBaseline.defaultWorstMs * 2.5);
  const x = (n: number): number => M.left + ((Math.log10(n) - xMin) / (xMax - xMin)) * PLOT_W;
  const y = (ms: number): number => M.top + PLOT_H - ((Math.log10(Math.max(ms, 1)) - yMin) / (yMax - yMin)) * PLOT_H;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">Propagation latency vs fleet size (log–log)</text>`);
  out.push(`<text x="${M.left}" y="38" fill="#555">${escape(input.caption)}</text>`);

  // Grid: latency decades and the fleet sizes measured.
  const ticks = [1, 10, 100, 1_000, 10_000, 60_000, 600_000, 3_600_000].filter((ms) => Math.log10(ms) <= yMax);
  for (const ms of ticks) {
    out.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${fmt(y(ms))}" y2="${fmt(y(ms))}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${M.left - 6}" y="${fmt(y(ms) + 4)}" text-anchor="end" fill="#333">${msLabel(ms)}</text>`);
  }
  for (const n of sizes) {
    out.push(`<line x1="${fmt(x(n))}" x2="${fmt(x(n))}" y1="${M.top}" y2="${M.top + PLOT_H}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${fmt(x(n))}" y="${M.top + PLOT_H + 16}" text-anchor="middle" fill="#333">${n}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${M.left + PLOT_W / 2}" y="${H - 12}" text-anchor="middle">subscribers (app instances), spread over separate processes</text>`);
  out.push(`<text transform="translate(16 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">latency</text>`);

  const legend: Array<{ label: string; color: string; dash?: string; marker?: 'dot' | 'ring' }> = [];
  const series = (points: Array<[number, number]>, color: string, label: string, dash?: string, marker: 'dot' | 'ring' = 'dot'): void => {
    if (points.length === 0) return;
    const path = points.map(([n, ms], i) => `${i === 0 ? 'M' : 'L'}${fmt(x(n))},${fmt(y(ms))}`).join(' ');
    if (points.length > 1) out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    for (const [n, ms] of points) {
      out.push(
        marker === 'dot'
          ? `<circle cx="${fmt(x(n))}" cy="${fmt(y(ms))}" r="3.5" fill="${color}"><title>${escape(`${label}, N=${n}: ${fmt(ms)} ms`)}</title></circle>`
          : `<circle cx="${fmt(x(n))}" cy="${fmt(y(ms))}" r="5" fill="#fff" stroke="${color}" stroke-width="2"><title>${escape(`${label}, N=${n}: ${fmt(ms)} ms`)}</title></circle>`,
      );
    }
    legend.push({ label, color, ...(dash ? { dash } : {}), marker });
  };
  const rows = (backend: string) => input.propagation.filter((r) => r.secretsManager === backend).sort((a, b) => a.subscribers - b.subscribers);
  const ours = rows('double');
  const moto = rows('moto');
  const BLUE = '#1f6fb4';
  const ORANGE = '#e07b00';
  const GREY = '#6b6b6b';
  const RED = '#c0392b';

  // Reference lines: the 30-minute default poll.
  const references = [
    { ms: input.pollBaseline.defaultWorstMs, label: `30-min poll: worst (${msLabel(input.pollBaseline.defaultWorstMs)})`, dy: -5 },
    { ms: input.pollBaseline.defaultExpectedMeanMs, label: `30-min poll: expected mean (${msLabel(input.pollBaseline.defaultExpectedMeanMs)})`, dy: 14 },
  ];
  for (const { ms, label, dy } of references) {
    out.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${fmt(y(ms))}" y2="${fmt(y(ms))}" stroke="${RED}" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${M.left + 6}" y="${fmt(y(ms) + dy)}" fill="${RED}">${escape(label)}</text>`);
  }

  const base = [...input.pollBaseline.bySubscribers].sort((a, b) => a.subscribers - b.subscribers);
  const every = `${input.pollBaseline.intervalMs / 1_000} s`;
  series(base.map((r) => [r.subscribers, r.p99StalenessMs]), GREY, `poll every ${every}: staleness p99`);
  series(base.map((r) => [r.subscribers, r.meanStalenessMs]), GREY, `poll every ${every}: staleness mean`, '6 4');
  series(ours.map((r) => [r.subscribers, r.endToEndP99Ms]), ORANGE, 'ours: end to end p99');
  series(ours.map((r) => [r.subscribers, r.endToEndP50Ms]), ORANGE, 'ours: end to end p50', '6 4');
  series(ours.map((r) => [r.subscribers, r.deliveryP99Ms]), BLUE, 'ours: delivery p99');
  series(ours.map((r) => [r.subscribers, r.deliveryP50Ms]), BLUE, 'ours: delivery p50', '6 4');
  series(moto.map((r) => [r.subscribers, r.endToEndP99Ms]), ORANGE, 'ours on moto_server: end to end p99', undefined, 'ring');

  const lx = M.left + PLOT_W + 16;
  legend.forEach((item, i) => {
    const ly = M.top + 10 + i * 20;
    out.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${item.color}" stroke-width="2"${item.dash ? ` stroke-dasharray="${item.dash}"` : ''}${item.marker === 'ring' ? ' stroke-opacity="0"' : ''}/>`);
    out.push(item.marker === 'ring' ? `<circle cx="${lx + 13}" cy="${ly}" r="4.5" fill="#fff" stroke="${item.color}" stroke-width="2"/>` : `<circle cx="${lx + 13}" cy="${ly}" r="3" fill="${item.color}"/>`);
    out.push(`<text x="${lx + 32}" y="${ly + 4}">${escape(item.label)}</text>`);
  });
  const noteY = M.top + 10 + legend.length * 20 + 10;
  const notes = ['Secrets Manager: latency double', '(fixed delay per read) unless', 'marked moto_server.', 'Dashed: p50. Solid: p99.'];
  notes.forEach((line, i) => out.push(`<text x="${lx}" y="${noteY + i * 15}" fill="#555" font-size="11">${escape(line)}</text>`));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
