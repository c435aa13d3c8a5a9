import { ConfigError } from '../core/config-error.js';
import { flagName, type Parsed } from './args.js';
import { UsageError } from './errors.js';

/**
 * The library options (TokenSourceOptions) the client flags become, and their flags: a refusal of
 * `stsUrl` is told as one of `--sts`, the name the person typed.
 */
export const CLIENT_OPTION_FLAGS: Readonly<Record<string, string>> = {
  stsUrl: 'sts',
  subjectToken: 'subject-token',
  subjectTokenType: 'subject-token-type',
  requestedTokenType: 'requested-token-type',
  audience: 'audience',
  resource: 'resource',
  scope: 'scope',
  clientId: 'client-id',
};

/**
 * A library's refusal of an option (a TypeError, misuse) as the usage error of the flag it came
 * from: `token: --sts must be an https URL`, not `"stsUrl" must be an https URL`. An option with no
 * flag of its own keeps the library's words.
 */
export function flagUsageError(command: string, parsed: Parsed, error: TypeError, flags = CLIENT_OPTION_FLAGS): UsageError {
  const option = error instanceof ConfigError ? error.path.replace(/\[\d+\]$/, '') : undefined;
  const flag = option === undefined ? undefined : flags[option];
  if (flag === undefined || !(error instanceof ConfigError)) return new UsageError(`${command}: ${error.message}`);
  return new UsageError(`${command}: ${flagName(parsed, flag)} ${error.problem.replace(/^:\s*/, '')}`);
}
