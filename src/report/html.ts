/**
 * HTML built by a tagged template that escapes every interpolated value unless it is itself built HTML, so a
 * string from the history (a znode path, an error text) can only ever land in the page as text.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function renderPart(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(renderPart).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  return new Html(strings.reduce((out, string, index) => out + string + (index < parts.length ? renderPart(parts[index]!) : ''), ''));
}

/** Trusted markup made here (inlined scripts and styles), never text from a run. */
export function trusted(text: string): Html {
  return new Html(text);
}

/**
 * JSON for a <script type="application/json"> block: `<` cannot open a tag or close the script, and the two
 * line separators JSON allows but JavaScript once did not are escaped too.
 */
export function jsonForScript(value: unknown): Html {
  return new Html(JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029'));
}
