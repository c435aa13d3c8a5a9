// docs/cli.md documents every flag that each command's --help names, in that command's section or
// in the sections every command or server shares: a flag added to a command without its docs fails.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { runCli } from './run.js';

const DOC = fileURLToPath(new URL('../../../docs/cli.md', import.meta.url));
const COMMANDS = [
  'pki',
  'sts',
  'keys',
  'resource',
  'authz',
  'token',
  'call',
  'probe',
  'grpc-server',
  'grpc-call',
  'thumbprint',
  'inspect',
  'introspect',
  'wait',
  'completion',
  'demo',
] as const;
/** The doc sections a command's flags may be described in besides its own. */
const SHARED = ['## Behaviour common to all commands'];

/** The text from a `## ` heading to the next one. */
function section(doc: string, heading: string): string {
  const start = doc.indexOf(`${heading}\n`);
  assert.ok(start >= 0, `docs/cli.md has no heading ${JSON.stringify(heading)}`);
  const end = doc.indexOf('\n## ', start + heading.length);
  return doc.slice(start, end === -1 ? undefined : end);
}

test("every flag in every command's --help appears in docs/cli.md, as `--flag`", async () => {
  const doc = await readFile(DOC, 'utf8');
  const shared = SHARED.map((heading) => section(doc, heading)).join('\n');
  const missing: string[] = [];
  for (const command of COMMANDS) {
    const help = await runCli([command, '--help']);
    assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
    const flags = new Set([...help.stdout.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((match) => match[0]));
    assert.ok(flags.size > 0 || command === 'thumbprint' || command === 'completion', `${command} --help names no flag`);
    // pki's subcommands have sections of their own; call and probe document the flags they share with token there.
    const headings =
      command === 'pki'
        ? ['## `certbound pki init`', '## `certbound pki revoke`', '## `certbound pki issue`']
        : command === 'call' || command === 'probe'
          ? [`## \`certbound ${command}\``, '## `certbound token`']
          : [`## \`certbound ${command}\``];
    const documented = `${headings.map((heading) => section(doc, heading)).join('\n')}\n${shared}`;
    for (const flag of flags) {
      if (!new RegExp(`\`${flag}(?![\\w-])`).test(documented)) missing.push(`${command} ${flag}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('every setting a server takes as a flag is named in its --help (gRPC: but the HTTP-only limits it refuses)', async () => {
  const { RESOURCE_SETTINGS, GRPC_SERVER_SETTINGS } = await import('../../src/config/protected-settings.js');
  const { STS_COMMAND_SETTINGS } = await import('../../src/config/sts-settings.js');
  const { GRPC_LIMITS, LIMIT_OPTIONS } = await import('../../src/config/limits.js');
  const refusedByGrpc = new Set<string>(LIMIT_OPTIONS.filter((spec) => !GRPC_LIMITS.has(spec.option as never)).map((spec) => spec.option));
  const missing: string[] = [];
  for (const [command, specs] of [
    ['resource', RESOURCE_SETTINGS],
    ['sts', STS_COMMAND_SETTINGS],
    ['grpc-server', GRPC_SERVER_SETTINGS.filter((spec) => !refusedByGrpc.has(spec.option))],
  ] as const) {
    const help = (await runCli([command, '--help'])).stdout;
    for (const flag of ['config', ...specs.flatMap((spec) => (spec.flag === undefined ? [] : [spec.flag]))]) {
      if (!new RegExp(`--${flag}(?![\\w-])`).test(help)) missing.push(`${command} --${flag}`);
    }
  }
  assert.deepEqual(missing, []);
});
