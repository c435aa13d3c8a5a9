import type { Command } from '../command.js';
import { bashCompletion, zshCompletion } from '../completion.js';
import { parse } from '../args.js';
import { UsageError } from '../errors.js';
import { didYouMean } from '../suggest.js';

export const usage = `certbound completion bash|zsh
  Print a completion script for the shell: commands, subcommands, every command's flags, the
  values of flags that take one of a few (--output, --client-cert-format, --log-level...) and
  file names for the flags that take files. bash: source <(certbound completion bash), or save
  it in ~/.local/share/bash-completion/completions/certbound. zsh: source <(certbound completion
  zsh) after compinit, or save it as _certbound in a directory of $fpath.`;

const SHELLS = { bash: bashCompletion, zsh: zshCompletion } as const;

/** `commands`: the command table the script completes (the one that dispatched here). */
export function run(argv: string[], commands: Readonly<Record<string, Command>>): Promise<number> {
  const parsed = parse('completion', argv, [], 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return Promise.resolve(0);
  }
  const shell = parsed.positionals[0];
  if (shell === undefined) throw new UsageError('completion: say which shell: certbound completion bash (or zsh)');
  if (!(shell in SHELLS))
    throw new UsageError(
      `completion: no completion for ${JSON.stringify(shell)}: bash and zsh are supported${didYouMean(shell, Object.keys(SHELLS))}`,
    );
  process.stdout.write(SHELLS[shell as keyof typeof SHELLS](commands));
  return Promise.resolve(0);
}
