import { parseAuthzRule, parseDefaultAuthzRule, type AuthzRule } from '../../core/authz-rules.js';
import { DEFAULT_IDENTITY_HEADERS, type IdentityHeaderNames } from '../../core/gateway-authorizer.js';
import { ENVOY_PATH_PREFIX } from '../../http/authz.js';
import { UsageError } from '../errors.js';
import { AUTHZ_SETTINGS } from '../../config/authz-settings.js';
import type { OptionSpec } from '../../config/option.js';
import { flagOf, type CommandSettings } from '../settings.js';

/** What `certbound authz` decides with, read from its settings: every problem names its flag. */
export interface AuthzDecisionSettings {
  rules: AuthzRule[];
  defaultRule: AuthzRule | undefined;
  identityHeaders: Partial<IdentityHeaderNames>;
}

const IDENTITY_KEYS: Record<string, keyof IdentityHeaderNames> = {
  subject: 'subject',
  'client-id': 'clientId',
  scope: 'scope',
  thumbprint: 'thumbprint',
};

/** A renamed header must not take the default name of one left as it is. */
const isDefaultOfAnother =
  (renamed: Partial<IdentityHeaderNames>) =>
  (name: string): boolean =>
    Object.entries(DEFAULT_IDENTITY_HEADERS).some(
      ([key, fallback]) => fallback === name && renamed[key as keyof IdentityHeaderNames] === undefined,
    );

export function authzDecisionSettings(settings: CommandSettings): AuthzDecisionSettings {
  const asGiven = (option: string): string => flagOf(settings, AUTHZ_SETTINGS.find((spec) => spec.option === option) as OptionSpec);
  const ruleTexts = (settings.values.rules as string[] | undefined) ?? [];
  const defaultText = settings.values.defaultRule as string | undefined;
  if (ruleTexts.length === 0 && defaultText === undefined)
    throw new UsageError("authz: at least one --rule 'METHOD PREFIX [SCOPE ...]' (or --default-rule) is required; no rule means no access");
  let rules: AuthzRule[];
  let defaultRule: AuthzRule | undefined;
  try {
    rules = ruleTexts.map(parseAuthzRule);
  } catch (error) {
    throw new UsageError(`authz: ${(error as Error).message.replace(/^rule/, asGiven('rules'))}`);
  }
  try {
    defaultRule = defaultText === undefined ? undefined : parseDefaultAuthzRule(defaultText === 'any' ? '' : defaultText);
  } catch (error) {
    throw new UsageError(`authz: ${(error as Error).message.replace(/^default rule/, asGiven('defaultRule'))} (or 'any')`);
  }
  const identityHeaders: Partial<IdentityHeaderNames> = {};
  for (const text of (settings.values.identityHeaders as string[] | undefined) ?? []) {
    const [which = '', name = ''] = text.split('=', 2);
    const key = IDENTITY_KEYS[which];
    if (key === undefined || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw new UsageError(
        `authz: ${asGiven('identityHeaders')} "${text}" must be subject=NAME, client-id=NAME, scope=NAME or thumbprint=NAME`,
      );
    identityHeaders[key] = name.toLowerCase();
  }
  if (
    new Set(Object.values(identityHeaders)).size !== Object.keys(identityHeaders).length ||
    Object.values(identityHeaders).some(isDefaultOfAnother(identityHeaders))
  )
    throw new UsageError(`authz: ${asGiven('identityHeaders')} gives two identity headers the same name`);
  const envoyPathPrefix = settings.values.envoyPathPrefix as string | undefined;
  if (envoyPathPrefix !== undefined && !ENVOY_PATH_PREFIX.test(envoyPathPrefix))
    throw new UsageError(`authz: ${asGiven('envoyPathPrefix')} must be a plain absolute path (Envoy's path_prefix, such as /authz)`);
  return { rules, defaultRule, identityHeaders };
}
