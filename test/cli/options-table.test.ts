// The options table of docs/configuration.md is generated from the option specs: it must be what
// they generate now, and cover every flag every command's --help names.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { envNameOf } from '../../src/config/option.js';
import { RESERVED_VARIABLES } from '../../src/cli/environment.js';
import { COMMAND_OPTIONS, optionsTable, withOptionsTable } from '../../src/cli/options-table.js';
import { runCli } from './run.js';

const DOC = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));

test('the options table in docs/configuration.md is the one the specs generate (npm run docs:options)', async () => {
  const doc = await readFile(DOC, 'utf8');
  assert.equal(withOptionsTable(doc), doc);
  // Not vacuous: the table has a row per variable, with the server settings and the plain flags.
  const table = optionsTable();
  for (const row of ['| `CERTBOUND_RATE_LIMIT` | `--rate-limit` | sts | `rate_limit` |', '| `CERTBOUND_STS` | `--sts` | token, call,']) {
    assert.ok(table.includes(row), row);
    assert.ok(doc.includes(row), row);
  }
});

test('every command of certbound --help has its options in the table (thumbprint has none)', async () => {
  const help = (await runCli(['--help'])).stdout;
  const commands = [...help.matchAll(/^certbound ([a-z-]+)/gm)].map((match) => match[1] as string);
  assert.ok(commands.length >= 13, help);
  const listed = (command: string): boolean => COMMAND_OPTIONS.some(([name]) => name === command || name.startsWith(`${command} `));
  const unlisted = commands.filter((command) => !listed(command));
  assert.deepEqual(unlisted, ['thumbprint']);
  // Each command parses exactly the options listed (parse() takes nothing else), so a flag the table lacks is refused.
  const refused = await runCli(['thumbprint', '--cert', 'x']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^certbound: thumbprint: unknown option --cert/);
});

test('no flag is named so that its variable is one certbound reads as something else (CERTBOUND_PKCS11_PIN)', () => {
  assert.ok(RESERVED_VARIABLES.has('CERTBOUND_PKCS11_PIN'));
  for (const [command, options] of COMMAND_OPTIONS) {
    for (const option of options) {
      if (option.flag === undefined) continue;
      assert.ok(!RESERVED_VARIABLES.has(envNameOf(option.flag)), `${command} --${option.flag}`);
      assert.ok(option.flag !== 'help' && option.flag !== 'debug', `${command} --${option.flag}`);
    }
  }
});
