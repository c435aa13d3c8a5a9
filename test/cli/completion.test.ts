import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { COMMANDS } from '../../src/cli/command-table.js';
import { COMMAND_OPTIONS } from '../../src/cli/options-table.js';
import { makeTempDir, removeTempDir, runCli } from './run.js';

// The scripts of `certbound completion bash|zsh`, loaded into the real shells: bash's completion
// function called as bash calls it, zsh's driven through a pseudo-terminal (zsh/zpty) as a
// person typing TAB.
let dir = '';

before(async () => {
  dir = await makeTempDir('completion');
  for (const shell of ['bash', 'zsh']) {
    const script = await runCli(['completion', shell]);
    assert.equal(script.code, 0, script.stderr);
    await writeFile(join(dir, `certbound.${shell}`), script.stdout);
  }
  await writeFile(join(dir, 'ca.crt'), '');
});

after(() => removeTempDir(dir));

/** What bash offers for the words typed, the last one being completed. */
function bashOffers(words: readonly string[]): string[] {
  const quotedWords = words.map((word) => `'${word}'`).join(' ');
  const run = spawnSync(
    'bash',
    [
      '-c',
      `source "$1"; COMP_WORDS=(${quotedWords}); COMP_CWORD=${words.length - 1}; _certbound; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      join(dir, 'certbound.bash'),
    ],
    { encoding: 'utf8', cwd: dir },
  );
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter(Boolean);
}

test('bash: commands, subcommands, flags, flag values and files', () => {
  assert.deepEqual(bashOffers(['certbound', 'to']), ['token']);
  assert.deepEqual(bashOffers(['certbound', 'grpc-']).sort(), ['grpc-call', 'grpc-server']);
  assert.deepEqual(bashOffers(['certbound', 'pki', 'i']).sort(), ['init', 'issue']);
  assert.deepEqual(bashOffers(['certbound', 'pki', 'init', '--o']), ['--out']);
  assert.deepEqual(bashOffers(['certbound', 'token', '--output', '']).sort(), ['header', 'json', 'token']);
  assert.deepEqual(bashOffers(['certbound', 'call', '-']).includes('--include'), true);
  assert.deepEqual(bashOffers(['certbound', 'resource', '--tls-ca', 'ca']), ['ca.crt']);
  assert.deepEqual(bashOffers(['certbound', 'token', '--audience', 'ca']), [], 'free text is not completed with file names');
  assert.deepEqual(bashOffers(['certbound', 'inspect', '--d']), ['--debug']);
});

test('bash: every command and every flag of the options table completes', () => {
  for (const name of Object.keys(COMMANDS)) assert.ok(bashOffers(['certbound', name]).includes(name), name);
  const missing: string[] = [];
  for (const [key, options] of COMMAND_OPTIONS) {
    for (const option of options) {
      if (option.flag === undefined) continue;
      const words = ['certbound', ...key.split(' '), `--${option.flag}`];
      if (!bashOffers(words).includes(`--${option.flag}`)) missing.push(words.join(' '));
    }
  }
  assert.deepEqual(missing, []);
});

const zsh = spawnSync('zsh', ['--version'], { encoding: 'utf8' });
const noZsh = zsh.status !== 0 && process.env.CI !== 'true' ? 'zsh is not installed (CI installs it)' : false;

test('zsh: TAB completes commands, subcommands, flags, values and files', { skip: noZsh }, async () => {
  const cases: [typed: string, completed: string][] = [
    ['certbound tok', 'certbound token'],
    ['certbound pki in', 'certbound pki init'],
    ['certbound pki init --ou', 'certbound pki init --out'],
    ['certbound token --outp', 'certbound token --output'],
    ['certbound token --output he', 'certbound token --output header'],
    ['certbound resource --tls-ca ca.c', 'certbound resource --tls-ca ca.crt'],
    ['certbound comp', 'certbound completion'],
  ];
  // Each line, once zsh shows its prompt: type it, TAB, then turn the edited line into
  // `print -r -- <line>` between two markers that only the output (not the echo of what was
  // typed) carries. READY> is the prompt, written so that its assignment's echo does not match.
  // bindkey -e: with EDITOR=vi in the environment (npm sets it) zsh starts in vi mode, without ^A.
  const driver = `zmodload zsh/zpty
zpty -b z 'zsh -f -i'
zpty -w z "PS1='R''EADY> '; bindkey -e; unsetopt beep; autoload -U compinit; compinit -u -D; source ${join(dir, 'certbound.zsh')}; cd ${dir}"
zpty -r z out '*READY> '
${cases
  .map(
    ([typed], index) => `zpty -wn z $'${typed}\\t'
zpty -wn z $'\\C-aprint -r -- \${:-BEG}IN${index} \\C-e \${:-EN}D${index}\\n'
zpty -r z out '*BEGIN${index} *END${index}*'
print -r -- "\${\${out##*BEGIN${index} }%% END${index}*}"
zpty -r z out '*READY> '`,
  )
  .join('\n')}
zpty -d z
`;
  await writeFile(join(dir, 'drive.zsh'), driver);
  const run = spawnSync('zsh', ['-f', join(dir, 'drive.zsh')], {
    encoding: 'utf8',
    cwd: dir,
    timeout: 60_000,
    env: { ...process.env, TERM: 'xterm' },
  });
  assert.equal(run.status, 0, `zsh exited ${run.status} (${run.signal ?? 'no signal'}): ${run.stderr}\nwhat it printed: ${run.stdout}`);
  const lines = run.stdout
    .replace(/\r/g, '')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.trim());
  assert.deepEqual(
    lines,
    cases.map(([, completed]) => completed),
  );
});

test('completion: a shell it has no script for exits 2 naming the ones it has', async () => {
  const fish = await runCli(['completion', 'fish']);
  assert.equal(fish.code, 2);
  assert.equal(fish.stderr, 'certbound: completion: no completion for "fish": bash and zsh are supported\n');
  const none = await runCli(['completion']);
  assert.equal(none.code, 2);
  assert.equal(none.stderr, 'certbound: completion: say which shell: certbound completion bash (or zsh)\n');
});
