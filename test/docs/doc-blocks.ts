// Reads the fenced code blocks of README.md and docs/*.md, with the marker comment that precedes
// each (`<!-- example: fragment -->`, `<!-- example: run NAME -->`). Not a test file itself.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root; this module is compiled to dist/test/docs/doc-blocks.js. */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export interface DocBlock {
  /** `README.md` or `docs/NAME.md`. */
  file: string;
  /** The line of the opening fence, 1-based. */
  line: number;
  lang: string;
  code: string;
  /** The words of an `<!-- example: ... -->` comment on the line before the fence, if any. */
  marker: string[];
}

export function documentationFiles(): string[] {
  const docs = readdirSync(join(REPO, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(REPO, 'docs', name));
  return [join(REPO, 'README.md'), ...docs];
}

export function docBlocks(): DocBlock[] {
  const blocks: DocBlock[] = [];
  for (const path of documentationFiles()) {
    const lines = readFileSync(path, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\w+)\s*$/.exec(lines[i] ?? '');
      if (open === null) continue;
      const end = lines.findIndex((text, index) => index > i && text === '```');
      if (end === -1) throw new Error(`${relative(REPO, path)}:${i + 1}: unclosed code fence`);
      const marker = /^<!-- example: ([^>]*?) -->$/.exec(lines[i - 1] ?? '')?.[1]?.split(/\s+/) ?? [];
      blocks.push({
        file: relative(REPO, path),
        line: i + 1,
        lang: open[1] ?? '',
        code: lines.slice(i + 1, end).join('\n') + '\n',
        marker,
      });
      i = end;
    }
  }
  return blocks;
}
