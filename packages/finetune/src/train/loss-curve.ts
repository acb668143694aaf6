// The loss curve as a standalone SVG (no dependencies): loss per optimizer step, with axes and ticks.
export interface LossPoint {
  step: number;
  loss: number;
}

function niceTicks(min: number, max: number, count: number): number[] {
  if (max <= min) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + 1e-12; t += step)
    ticks.push(Number(t.toPrecision(10)));
  return ticks;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function lossCurveSvg(points: readonly LossPoint[], title = 'training loss'): string {
  const width = 640;
  const height = 360;
  const left = 56;
  const right = 16;
  const top = 32;
  const bottom = 40;
  const steps = points.map((p) => p.step);
  const losses = points.map((p) => p.loss).filter((l) => Number.isFinite(l));
  const xMin = Math.min(...steps, 0);
  const xMax = Math.max(...steps, 1);
  let yMin = losses.length ? Math.min(...losses) : 0;
  let yMax = losses.length ? Math.max(...losses) : 1;
  if (yMax - yMin < 1e-9) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  const x = (s: number) => left + ((s - xMin) / (xMax - xMin || 1)) * (width - left - right);
  const y = (l: number) => top + (1 - (l - yMin) / (yMax - yMin)) * (height - top - bottom);
  const path = points
    .filter((p) => Number.isFinite(p.loss))
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.step).toFixed(2)},${y(p.loss).toFixed(2)}`)
    .join(' ');
  const xTicks = niceTicks(xMin, xMax, 6)
    .map(
      (t) =>
        `<line x1="${x(t)}" y1="${height - bottom}" x2="${x(t)}" y2="${height - bottom + 4}" stroke="#333"/>` +
        `<text x="${x(t)}" y="${height - bottom + 16}" text-anchor="middle">${t}</text>`,
    )
    .join('');
  const yTicks = niceTicks(yMin, yMax, 5)
    .map(
      (t) =>
        `<line x1="${left - 4}" y1="${y(t)}" x2="${width - right}" y2="${y(t)}" stroke="#ddd"/>` +
        `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    )
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    yTicks,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#333"/>`,
    xTicks,
    `<text x="${width / 2}" y="${height - 6}" text-anchor="middle">optimizer step</text>`,
    `<text x="14" y="${height / 2}" text-anchor="middle" transform="rotate(-90 14 ${height / 2})">loss</text>`,
    `<path d="${path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>`,
    '</svg>',
    '',
  ].join('\n');
}
