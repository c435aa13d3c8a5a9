import type { ProbeCase } from './cases.js';
import type { Observation } from './send.js';

/** One case and how it ended. */
export interface ProbeResult {
  probeCase: ProbeCase;
  observed: Observation;
}

/**
 * `ok`: as expected. `unsafe`: a case that must be refused was accepted. `inconclusive`: the
 * owner's own request was refused, so the refusals prove nothing about the binding.
 */
export type Verdict = 'ok' | 'unsafe' | 'inconclusive';

/** Accepted means a 2xx; any other status, a TLS refusal or no answer leaves the token unused. */
function accepted(observed: Observation): boolean {
  return observed.kind === 'answered' && observed.status >= 200 && observed.status < 300;
}

export function verdictOf({ probeCase, observed }: ProbeResult): Verdict {
  if (probeCase.expect === 'accepted') return accepted(observed) ? 'ok' : 'inconclusive';
  return accepted(observed) ? 'unsafe' : 'ok';
}

function observedText(observed: Observation): string {
  switch (observed.kind) {
    case 'answered':
      return observed.error === undefined ? String(observed.status) : `${observed.status} ${observed.error}`;
    case 'tls-refused':
      return `TLS refused: ${observed.reason}`;
    case 'no-answer':
      return `no answer: ${observed.reason}`;
  }
}

const VERDICT_TEXT: Readonly<Record<Verdict, string>> = { ok: 'ok', unsafe: 'FAIL (UNSAFE)', inconclusive: 'FAIL (inconclusive)' };

/** The results as an aligned text table: case, expected, observed, verdict. */
export function formatTable(results: readonly ProbeResult[]): string {
  const rows = [
    ['case', 'expected', 'observed', 'verdict'],
    ...results.map((result, index) => [
      `${index + 1}. ${result.probeCase.name}`,
      result.probeCase.expect === 'accepted' ? 'accepted (2xx)' : 'refused (401/403)',
      observedText(result.observed),
      VERDICT_TEXT[verdictOf(result)],
    ]),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => (row[column] as string).length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * What the results add up to, in one line: undefined when every case went as expected, else
 * `UNSAFE: ...` (a case that must be refused was accepted) and/or `inconclusive: ...`.
 */
export function problemOf(results: readonly ProbeResult[]): string | undefined {
  const numbered = results.map((result, index) => ({ result, number: index + 1, verdict: verdictOf(result) }));
  const unsafe = numbered.filter((entry) => entry.verdict === 'unsafe');
  const inconclusive = numbered.filter((entry) => entry.verdict === 'inconclusive');
  const problems: string[] = [];
  if (unsafe.length > 0)
    problems.push(
      `UNSAFE: accepted what must be refused: ${unsafe.map((entry) => `case ${entry.number} (${entry.result.probeCase.name})`).join(', ')}`,
    );
  if (inconclusive.length > 0)
    problems.push(
      `inconclusive: the token was not accepted with its owner's certificate (case ${inconclusive.map((entry) => entry.number).join(', ')}: ${inconclusive.map((entry) => observedText(entry.result.observed)).join(', ')}), so the refusals prove nothing; check the token, the URL, --method and --servername`,
    );
  return problems.length === 0 ? undefined : problems.join('; ');
}
