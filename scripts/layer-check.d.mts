/** Types of scripts/layer-check.mjs for the tests. */
export function folderGraph(): Map<string, Set<string>>;
export function folderCycles(graph?: Map<string, Set<string>>): string[];
