// Python's str.format for the prompt templates: `{}` takes the next positional argument, `{name}`
// a named one, `{{` and `}}` are literal braces. Arguments are inserted verbatim (never re-parsed).
import { LLMValidationError } from '@meld/llm';

export function formatTemplate(
  template: string,
  positional: ReadonlyArray<string | number>,
  named: Readonly<Record<string, string | number>> = {},
): string {
  let next = 0;
  return template.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)?\}/g, (match, name: string | undefined) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    if (name !== undefined) {
      if (!(name in named)) throw new LLMValidationError(`template.${name}`, 'no value for this placeholder');
      return String(named[name]);
    }
    if (next >= positional.length)
      throw new LLMValidationError('template', `needs more than ${positional.length} values`);
    return String(positional[next++]);
  });
}

/** Counts the `{}` placeholders and lists the named ones, ignoring `{{` and `}}`. */
export function templatePlaceholders(template: string): { positional: number; named: string[] } {
  let positional = 0;
  const named: string[] = [];
  for (const match of template.matchAll(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)?\}/g)) {
    if (match[0] === '{{' || match[0] === '}}') continue;
    if (match[1] === undefined) positional++;
    else named.push(match[1]);
  }
  return { positional, named };
}
