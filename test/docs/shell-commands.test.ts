import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMANDS } from '../../src/cli/command-table.js';
import { runCli } from '../cli/run.js';
import { docBlocks } from './doc-blocks.js';

// Shell blocks that cannot run here as written (they install packages, write to /etc, need a
// deployment) are still checked: every `certbound` command in them exists, and every flag it is
// given is one that command's --help names. The runnable ones are run by shell-examples.test.ts.

const SUBCOMMANDS = new Set(['config', 'init', 'issue', 'revoke', 'generate', 'list', 'rotate']);

interface Invocation {
  where: string;
  words: string[];
}

/** The `certbound ...` commands of a block: at a line's start or after `|`, `&&`, `$(`; continuation lines joined. */
function invocations(file: string, line: number, code: string): Invocation[] {
  const found: Invocation[] = [];
  const logical = code.replace(/\\\n\s*/g, ' ').split('\n');
  for (const text of logical) {
    const withoutComment = text.replace(/(^|\s)#.*$/, '');
    for (const match of withoutComment.matchAll(/(?:^|\||&&|\$\()\s*certbound\s+([^|;&>)]*)/g)) {
      const words = (match[1] as string).trim().split(/\s+/).filter(Boolean);
      found.push({ where: `${file}:${line}`, words });
    }
  }
  return found;
}

test('every certbound command in a shell block of README.md and docs/ exists and takes the flags it is given', async () => {
  const blocks = docBlocks().filter((block) => block.lang === 'sh' && block.marker[0] !== 'run');
  const all = blocks.flatMap((block) => invocations(block.file, block.line, block.code));
  assert.ok(all.length >= 10, `found ${all.length} certbound commands`);
  const helps = new Map<string, string>();
  const problems: string[] = [];
  for (const { where, words } of all) {
    const [command = '', second] = words;
    if (command === '...' || command.startsWith('-')) continue;
    if (!(command in COMMANDS)) {
      problems.push(`${where}: certbound ${command}: no such command`);
      continue;
    }
    const key = second !== undefined && SUBCOMMANDS.has(second) ? `${command} ${second}` : command;
    if (!helps.has(key)) {
      const help = await runCli([...key.split(' '), '--help']);
      assert.equal(help.code, 0, `certbound ${key} --help: ${help.stderr}`);
      helps.set(key, help.stdout + (await runCli([command, '--help'])).stdout);
    }
    const help = helps.get(key) as string;
    for (const word of words) {
      const flag = /^--[a-z][a-z0-9-]*/.exec(word)?.[0];
      if (flag !== undefined && flag !== '--help' && flag !== '--debug' && !new RegExp(`${flag}(?![\\w-])`).test(help)) {
        problems.push(`${where}: certbound ${key} has no ${flag}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('every shell block marked to run is one a test runs', () => {
  const RUN = new Set(['readme-session', 'readme-curl', 'readme-grpc-session', 'cli-worked-example']);
  const marked = docBlocks()
    .filter((block) => block.marker[0] === 'run' && block.lang === 'sh')
    .map((block) => block.marker[1] as string);
  assert.deepEqual([...marked].sort(), [...RUN].sort());
});
