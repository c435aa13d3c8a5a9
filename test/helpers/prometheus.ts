// Reads samples out of a Prometheus text exposition, for the metrics tests. Not a test file itself.
import { request } from 'undici';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition (comments skipped). */
export function samplesOf(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) return [];
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = value as string;
    return [{ name: match[1] as string, labels, value: Number(match[3]) }];
  });
}

/** The value of the one sample with this name whose labels include `labels`; undefined when none. */
export function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samplesOf(text).filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** GET an admin endpoint: status and text. */
export async function getAdmin(base: string, path: string): Promise<{ status: number; text: string; contentType: string }> {
  const response = await request(`${base}${path}`);
  return {
    status: response.statusCode,
    text: await response.body.text(),
    contentType: String(response.headers['content-type']),
  };
}

/** The admin listener's URL, from its `admin.listening` event in a server's stderr. */
export function adminUrlOf(stderr: string): string | undefined {
  return /"type":"admin\.listening"[^\n]*"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stderr)?.[1];
}
