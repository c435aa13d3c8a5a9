// Shell completion scripts, generated from the command table (names, summaries, subcommands) and
// the options table (each command's flags and their types): a flag added to a command completes
// without anyone editing a script.
import type { CommandOption } from '../config/option.js';
import type { Command } from './command.js';
import { COMMAND_OPTIONS } from './options-table.js';

/** Flags every command takes (args.ts parse()). */
const COMMON = ['--help', '--debug'];

interface Completable {
  /** `pki init`, `token`. */
  key: string;
  flags: { name: string; doc: string; values: 'none' | 'files' | 'text' | readonly string[] }[];
}

function valuesOf(option: CommandOption): Completable['flags'][number]['values'] {
  switch (option.type.kind) {
    case 'boolean':
      return 'none';
    case 'enum':
      return option.type.values;
    case 'path':
    case 'paths':
    case 'path-or-url':
    case 'path-or-pkcs11':
      return 'files';
    default:
      return 'text';
  }
}

function completables(): Completable[] {
  return COMMAND_OPTIONS.map(([key, options]) => ({
    key,
    flags: options.flatMap((option) =>
      option.flag === undefined ? [] : [{ name: `--${option.flag}`, doc: option.doc, values: valuesOf(option) }],
    ),
  }));
}

const quoted = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;

export function bashCompletion(commands: Readonly<Record<string, Command>>): string {
  const names = Object.keys(commands);
  const subcommands = Object.entries(commands).flatMap(([name, command]) =>
    command.subcommands === undefined
      ? []
      : [`    ${name}) COMPREPLY=($(compgen -W ${quoted(command.subcommands.join(' '))} -- "$cur")); return ;;`],
  );
  const tables = completables();
  const valueCases = tables.flatMap(({ key, flags }) =>
    flags.flatMap(({ name, values }) => {
      const pattern = quoted(`${key} ${name}`);
      if (values === 'files') return [`    ${pattern}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`];
      if (values === 'text') return [`    ${pattern}) return ;;`];
      if (values === 'none') return [];
      return [`    ${pattern}) COMPREPLY=($(compgen -W ${quoted(values.join(' '))} -- "$cur")); return ;;`];
    }),
  );
  const flagCases = tables.map(({ key, flags }) => `    ${quoted(key)}) flags=${quoted(flags.map((flag) => flag.name).join(' '))} ;;`);
  return `# bash completion for certbound, written by \`certbound completion bash\`.
# Load it now:   source <(certbound completion bash)
# or for good:   certbound completion bash > ~/.local/share/bash-completion/completions/certbound
_certbound() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${quoted(names.join(' '))} -- "$cur"))
    return
  fi
  local command="\${COMP_WORDS[1]}" key="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 2 ] && [[ "$cur" != -* ]]; then
    case "$command" in
${subcommands.join('\n')}
    esac
  fi
  case "$command \${COMP_WORDS[2]}" in
${tables
  .filter(({ key }) => key.includes(' '))
  .map(({ key }) => `    ${quoted(key)}) key=${quoted(key)} ;;`)
  .join('\n')}
  esac
  case "$key $prev" in
${valueCases.join('\n')}
  esac
  local flags=''
  case "$key" in
${flagCases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags ${COMMON.join(' ')}" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _certbound certbound
`;
}

/** Text inside a zsh _arguments or _describe spec: its brackets and colons escaped. */
const zshText = (text: string): string => text.replace(/([[\]:\\])/g, '\\$1');

export function zshCompletion(table: Readonly<Record<string, Command>>): string {
  const commands = Object.entries(table).map(([name, command]) => `    ${quoted(`${name}:${zshText(command.summary)}`)}`);
  const subcommands = Object.entries(table).flatMap(([name, command]) =>
    command.subcommands === undefined
      ? []
      : [`      ${name}) local -a subcommands=(${command.subcommands.join(' ')}); _describe 'subcommand' subcommands; return ;;`],
  );
  const specs = completables().map(({ key, flags }) => {
    const lines = flags.map(({ name, doc, values }) => {
      const described = `${name}[${zshText(doc)}]`;
      const action =
        values === 'none' ? '' : values === 'files' ? ':file:_files' : values === 'text' ? ':value: ' : `:value:(${values.join(' ')})`;
      return `        ${quoted(described + action)}`;
    });
    return `    ${quoted(key)})\n      specs=(\n${lines.join('\n')}\n      ) ;;`;
  });
  return `#compdef certbound
# zsh completion for certbound, written by \`certbound completion zsh\`.
# Load it now:   source <(certbound completion zsh)
# or for good:   certbound completion zsh > "\${fpath[1]}/_certbound"   (then restart zsh)
_certbound() {
  local -a commands=(
${commands.join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local key=$words[2]
  if (( CURRENT == 3 )) && [[ $PREFIX != -* ]]; then
    case $key in
${subcommands.join('\n')}
    esac
  fi
  case "$words[2] $words[3]" in
${completables()
  .filter(({ key }) => key.includes(' '))
  .map(({ key }) => `    ${quoted(key)}) key=${quoted(key)} ;;`)
  .join('\n')}
  esac
  local -a specs=()
  case $key in
${specs.join('\n')}
  esac
  _arguments -s ${COMMON.map((flag) => quoted(`${flag}[${flag === '--help' ? 'print the usage' : 'add details to errors'}]`)).join(' ')} $specs '*:file:_files'
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _certbound "$@"
else
  compdef _certbound certbound
fi
`;
}
