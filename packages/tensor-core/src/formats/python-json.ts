// Hugging Face tools write their JSON files with Python's json.dumps(..., indent=2, sort_keys=True).
// Writing the same bytes keeps diffs against files made by transformers/PEFT empty.

/** JSON like Python's json.dumps(value, indent=2, sort_keys=True) (ensure_ascii escapes included). */
export function pythonJsonDumps(value: unknown, indent = ''): string {
  const inner = `${indent}  `;
  if (value === null || typeof value !== 'object') {
    if (value === undefined) return 'null';
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + pythonJsonDumps(v, inner)).join(',\n')}\n${indent}]`;
  }
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (keys.length === 0) return '{}';
  const lines = keys.map(
    (k) => `${inner}${pythonJsonDumps(k)}: ${pythonJsonDumps((value as Record<string, unknown>)[k], inner)}`,
  );
  return `{\n${lines.join(',\n')}\n${indent}}`;
}
