/** A `certbound` command, as the command table lists it. */
export interface Command {
  run: (argv: string[]) => Promise<number>;
  /** The --help text; its first line is the command's line in `certbound --help`. */
  usage: string;
  /** What it does, in a few words: shell completion shows it beside the name. */
  summary: string;
  /** Its subcommands, the word after the command (`pki init`). */
  subcommands?: readonly string[];
}
