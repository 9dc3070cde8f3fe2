import { describe, expect, it } from 'vitest';
import { folderCycles, folderGraph } from '../../scripts/layer-check.mjs';

describe('engine folder cycles (scripts/layer-check.mjs)', { timeout: 10_000 }, () => {
  it('finds the folders of a cycle in a graph, and none in a layered one', () => {
    const g = (edges: Record<string, string[]>): Map<string, Set<string>> =>
      new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)]));
    expect(
      folderCycles(g({ backup: ['pipeline'], pipeline: ['backup', 'storage'], storage: [], api: ['backup'] })),
    ).toEqual(['backup ⇄ pipeline']);
    expect(folderCycles(g({ api: ['runbooks'], runbooks: ['catalog'], catalog: ['storage'], storage: [] }))).toEqual(
      [],
    );
  });

  it('no engine folders are in a cycle (a new cycle fails here)', () => {
    const graph = folderGraph();
    expect(graph.get('storage')).toBeDefined();
    // The feature folders are ordered: pitr under backup and restore, restore under verify.
    expect(graph.get('restore')?.has('pitr')).toBe(true);
    expect(graph.get('verify')?.has('restore')).toBe(true);
    expect(folderCycles(graph)).toEqual([]);
  });
});
