import { readFileSync } from 'node:fs';

/**
 * `tsx bench/compare/heap-summary.ts <file.heapsnapshot> [top]`: the live heap of a V8 heap snapshot
 * (what `--heapsnapshot-signal` wrote, so after a full GC) summed by constructor, as JSON — self sizes,
 * not retained sizes: where the bytes are, not who keeps them. Used on both workers' snapshots of the
 * parked measure (`npm run bench -- --compare --heap-snapshots`, docs/benchmarks.md "Worker memory").
 */

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeapSnapshot(
  snapshot: Snapshot,
  top: number,
): { total_mib: number; nodes: number; by_constructor: { name: string; count: number; mib: number }[] } {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let index = 0; index < snapshot.nodes.length; index += width) {
    const type = types[snapshot.nodes[index + typeAt] ?? 0] ?? 'unknown';
    const size = snapshot.nodes[index + sizeAt] ?? 0;
    // Objects and closures by their constructor or function name; strings, code, arrays… by their type.
    const name =
      type === 'object' || type === 'closure'
        ? `${type === 'closure' ? 'closure ' : ''}${snapshot.strings[snapshot.nodes[index + nameAt] ?? 0] ?? '?'}`
        : `(${type})`;
    const group = groups.get(name) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += size;
    groups.set(name, group);
    total += size;
  }
  const mib = (bytes: number) => Number((bytes / 1_048_576).toFixed(2));
  return {
    total_mib: mib(total),
    nodes: snapshot.nodes.length / width,
    by_constructor: [...groups.entries()]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, top)
      .map(([name, group]) => ({ name: name.slice(0, 80), count: group.count, mib: mib(group.bytes) })),
  };
}

if (require.main === module) {
  const [file, top = '25'] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: tsx bench/compare/heap-summary.ts <file.heapsnapshot> [top]\n');
    process.exitCode = 2;
  } else {
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    process.stdout.write(`${JSON.stringify(summarizeHeapSnapshot(snapshot, Number(top)), null, 2)}\n`);
  }
}
