/**
 * The closest of `candidates` to what was typed, for "did you mean --tls-cert?": at most two
 * edits away (insert, delete, substitute or swap two neighbours: optimal string alignment), and
 * nearer than a third of its length so that a short word is not matched to anything.
 */
export function closestMatch(typed: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.min(2, Math.max(1, Math.floor(typed.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

/** `; did you mean X?`, or nothing when no candidate is close. */
export function didYouMean(typed: string, candidates: readonly string[], prefix = ''): string {
  const match = closestMatch(typed, candidates);
  return match === undefined ? '' : `; did you mean ${prefix}${match}?`;
}

/** Damerau-Levenshtein distance, optimal string alignment variant (each substring edited once). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => (rows[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, at(i - 2, j - 2) + 1);
      (rows[i] as number[])[j] = distance;
    }
  }
  return at(a.length, b.length);
}
