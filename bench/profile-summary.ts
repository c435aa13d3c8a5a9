// Top self-time functions of a V8 .cpuprofile (as written by `node --cpu-prof`, or by
// `npm run bench -- --cpu-prof DIR` for the STS under load):
//   node dist/bench/profile-summary.js FILE.cpuprofile [N] [--skip-ms MS]
// --skip-ms leaves out the start-up (the runner prints how long to skip for its STS profile).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CpuProfile {
  startTime: number;
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  location: string;
  ms: number;
  share: number;
}

/**
 * Self time per function (by name and location), largest first; idle and GC are kept, labelled
 * as V8 does. Samples in the first `skipMs` of the profile (start-up) are left out.
 */
export function selfTimes(profile: CpuProfile, skipMs = 0): SelfTime[] {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byKey = new Map<string, SelfTime>();
  let total = 0;
  let elapsed = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    elapsed += delta;
    if (elapsed < skipMs * 1000) return;
    total += delta;
    const frame = frames.get(id);
    if (frame === undefined) return;
    const location = frame.url === '' ? '' : `${frame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${frame.lineNumber + 1}`;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = `${name} ${location}`;
    const entry = byKey.get(key) ?? { name, location, ms: 0, share: 0 };
    entry.ms += delta / 1000;
    byKey.set(key, entry);
  });
  const entries = [...byKey.values()].sort((a, b) => b.ms - a.ms);
  for (const entry of entries) entry.share = total === 0 ? 0 : (entry.ms * 1000) / total;
  return entries;
}

/** Where a function lives, coarsely: the package, certbound itself, or the part of Node. */
export function areaOf(entry: SelfTime): string {
  const { name, location } = entry;
  if (location === '') return name.startsWith('(') ? name : 'native (TLS record I/O, syscalls, C++)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location);
  if (pkg !== null) return `package ${pkg[1]}`;
  if (location.startsWith('dist/src/')) return 'certbound (dist/src)';
  if (location.startsWith('dist/')) return 'bench';
  if (/^node:internal\/crypto/.test(location)) return 'node crypto (WebCrypto, hashing)';
  if (/^node:(_http|internal\/http|http)/.test(location)) return 'node http';
  if (/^node:(_tls|tls|net|internal\/(stream|streams|net))/.test(location)) return 'node net/tls/streams';
  if (/^node:internal\/(modules|vm)|loader/.test(location)) return 'module loading (start-up)';
  return 'node other';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const skipAt = args.indexOf('--skip-ms');
  const skipMs = skipAt === -1 ? 0 : Number(args.splice(skipAt, 2)[1]);
  const [file, count] = args;
  if (file === undefined || !Number.isFinite(skipMs)) {
    process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [N] [--skip-ms MS]\n');
    process.exit(2);
  }
  const entries = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, skipMs);
  const busy = entries.filter((entry) => entry.name !== '(idle)');
  const busyMs = busy.reduce((sum, entry) => sum + entry.ms, 0);
  process.stdout.write(`busy ${busyMs.toFixed(0)} ms of ${entries.reduce((sum, entry) => sum + entry.ms, 0).toFixed(0)} ms sampled\n`);
  for (const entry of busy.slice(0, Number(count ?? 20))) {
    process.stdout.write(
      `${((entry.ms / busyMs) * 100).toFixed(1).padStart(5)}% of busy  ${entry.ms.toFixed(0).padStart(6)} ms  ${entry.name}  ${entry.location}\n`,
    );
  }
  const areas = new Map<string, number>();
  for (const entry of busy) areas.set(areaOf(entry), (areas.get(areaOf(entry)) ?? 0) + entry.ms);
  process.stdout.write('by area:\n');
  for (const [area, ms] of [...areas].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`${((ms / busyMs) * 100).toFixed(1).padStart(5)}%  ${area}\n`);
  }
}
