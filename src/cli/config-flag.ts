import type { FlagSpec } from '../config/option.js';

/** --config FILE of the server commands: the settings' file, under the flags and variables. */
export const CONFIG_FLAG = {
  flag: 'config',
  type: { kind: 'path' },
  doc: 'the configuration file (YAML or JSON; sts: required); flags and variables override its keys',
} as const satisfies FlagSpec;
