// A small self-contained SVG line chart (log2 x axis) for bench:homer's memory curve.
export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

export function lineChartSvg(title: string, yLabel: string, series: readonly Series[]): string {
  const width = 720;
  const height = 420;
  const left = 80;
  const right = 220;
  const top = 40;
  const bottom = 60;
  const all = series.flatMap((s) => s.points);
  const xs = all.map(([x]) => Math.log2(x));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const yMax = Math.max(...all.map(([, y]) => y)) * 1.05;
  const px = (x: number) =>
    left + ((Math.log2(x) - xMin) / Math.max(1e-9, xMax - xMin)) * (width - left - right);
  const py = (y: number) => height - bottom - (y / yMax) * (height - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="black"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 20}" text-anchor="middle">input tokens (log scale)</text>`,
    `<text x="20" y="${(top + height - bottom) / 2}" transform="rotate(-90 20 ${(top + height - bottom) / 2})" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  ];
  for (const x of [...new Set(all.map(([value]) => value))].sort((a, b) => a - b)) {
    parts.push(
      `<line x1="${px(x)}" y1="${height - bottom}" x2="${px(x)}" y2="${height - bottom + 5}" stroke="black"/>`,
      `<text x="${px(x)}" y="${height - bottom + 18}" text-anchor="middle">${x >= 1024 ? `${x / 1024}K` : x}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5;
    parts.push(
      `<line x1="${left - 5}" y1="${py(y)}" x2="${width - right}" y2="${py(y)}" stroke="#ddd"/>`,
      `<text x="${left - 8}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(y < 10 ? 1 : 0)}</text>`,
    );
  }
  series.forEach((s, index) => {
    const path = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${path}"/>`,
    );
    for (const [x, y] of s.points)
      parts.push(`<circle cx="${px(x)}" cy="${py(y)}" r="3" fill="${s.color}"/>`);
    const ly = top + 10 + index * 20;
    parts.push(
      `<line x1="${width - right + 15}" y1="${ly}" x2="${width - right + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${width - right + 45}" y="${ly + 4}">${escapeXml(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function escapeXml(text: string): string {
  return text.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');
}
