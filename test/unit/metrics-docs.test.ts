// docs/operations.md describes every metric with its type, labels and servers, from the same list
// the registry is built from: a metric cannot be added, renamed or relabelled without the docs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { METRIC_FAMILIES } from '../../src/metrics/families.js';

const OPERATIONS = new URL('../../../docs/operations.md', import.meta.url);

test('docs/operations.md has a row for every metric, with its type, labels and servers', async () => {
  const doc = await readFile(OPERATIONS, 'utf8');
  for (const family of METRIC_FAMILIES) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${family.name}\` |`));
    assert.ok(row !== undefined, `no row for ${family.name}`);
    const [, kind, labels, servers] = row.split(' | ');
    assert.equal(kind, family.kind, family.name);
    assert.equal(labels, family.labels.length === 0 ? 'none' : family.labels.map((label) => `\`${label}\``).join(', '), family.name);
    assert.ok(servers?.startsWith(family.servers.join(', ')), `${family.name}: ${servers}`);
  }
  const documented = [...doc.matchAll(/^\| `(certbound_\w+)` \|/gm)].map((match) => match[1]);
  assert.deepEqual(
    documented,
    METRIC_FAMILIES.map((family) => family.name),
    'rows in the order of METRIC_FAMILIES, none extra',
  );
});
