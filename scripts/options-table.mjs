// Regenerates the options table of docs/configuration.md (between its options-table markers)
// from the compiled option specs: `npm run build && node scripts/options-table.mjs`.
// test/unit/options-table.test.ts fails while the docs and the specs disagree.
import { readFileSync, writeFileSync } from 'node:fs';

const { withOptionsTable } = await import('../dist/src/cli/options-table.js');
const path = new URL('../docs/configuration.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = withOptionsTable(before);
if (after === before) {
  console.log('docs/configuration.md: options table up to date');
} else {
  writeFileSync(path, after);
  console.log('docs/configuration.md: options table regenerated');
}
