/** pgBackRest's WAL archive: `archive/<stanza>/<pg version>-<id>/<timeline+log>/<segment>-<sha1>[.ext]`. */

export interface WalRange {
  timeline: string;
  first: string;
  last: string;
  segments: number;
}

/** Contiguous ranges of WAL segment names (24 hex digits), per timeline, 16 MiB segments. */
export function walRanges(segmentNames: string[]): WalRange[] {
  const byTimeline = new Map<string, bigint[]>();
  for (const name of segmentNames) {
    const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})/.exec(name);
    if (!m) continue;
    const n = BigInt(`0x${m[2]}`) * 256n + BigInt(`0x${m[3]}`);
    const list = byTimeline.get(m[1]!) ?? [];
    list.push(n);
    byTimeline.set(m[1]!, list);
  }
  const toName = (tl: string, n: bigint): string => `${tl}${(n / 256n).toString(16).toUpperCase().padStart(8, '0')}${(n % 256n).toString(16).toUpperCase().padStart(8, '0')}`;
  const out: WalRange[] = [];
  for (const [tl, list] of [...byTimeline.entries()].sort()) {
    list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let start = list[0]!;
    let prev = start;
    let count = 1;
    for (const n of list.slice(1)) {
      if (n === prev) continue;
      if (n !== prev + 1n) {
        out.push({ timeline: tl, first: toName(tl, start), last: toName(tl, prev), segments: count });
        start = n;
        count = 0;
      }
      prev = n;
      count++;
    }
    out.push({ timeline: tl, first: toName(tl, start), last: toName(tl, prev), segments: count });
  }
  return out;
}
