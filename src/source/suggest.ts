import { closest, distance } from 'fastest-levenshtein';

/** The candidate closest to `word`, if it is close enough to be a likely typo. */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, [...candidates]);
  const allowed = word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3));
  const d = distance(word, best);
  return d <= allowed && d < word.length ? best : undefined;
}

export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const best = closestName(word, candidates);
  return best === undefined ? undefined : `did you mean \`${best}\`?`;
}
