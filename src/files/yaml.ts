import { parse as parseYaml, YAMLParseError } from 'yaml';
import { FileProblem } from '../core/config-error.js';
import { readText } from './read.js';

/**
 * A configuration file (YAML, or JSON, which is YAML) as a mapping.
 * @param what what the file is, for messages ("STS configuration").
 * @throws FileProblem naming the file, and the line of a syntax error.
 */
export async function readYamlMapping(file: string, what: string): Promise<Record<string, unknown>> {
  const text = await readText(file, what);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos !== undefined ? ` at line ${error.linePos[0].line}` : '';
    throw new FileProblem(file, `not valid YAML${where}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new FileProblem(file, 'must be a YAML mapping');
  return raw as Record<string, unknown>;
}
