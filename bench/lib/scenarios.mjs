// Scenario and metric definitions shared by run.mjs and the report.
// better: 'lower' | 'higher' (what "better" means for the metric).

export function scenarios(cfg) {
  return [
    {
      name: 'send', kind: 'worker',
      metrics: [{ key: 'usPerCall', label: `send, µs/call (${cfg.n} sequential)`, unit: 'µs', better: 'lower' }],
    },
    {
      name: 'send-concurrent', kind: 'worker',
      metrics: [{ key: 'reqPerSec', label: `send, req/s (${cfg.n}, ${cfg.concurrency} in flight)`, unit: 'req/s', better: 'higher' }],
    },
    {
      name: 'whoami', kind: 'worker',
      metrics: [{ key: 'usPerCall', label: `whoami, µs/call (${cfg.n} sequential)`, unit: 'µs', better: 'lower' }],
    },
    {
      name: 'sync', kind: 'worker', rooms: cfg.rooms, events: cfg.events,
      metrics: [
        { key: 'ms', label: `initial sync ${cfg.rooms}x${cfg.events}, ms to last event`, unit: 'ms', better: 'lower' },
        { key: 'peakRssMB', label: `initial sync ${cfg.rooms}x${cfg.events}, peak RSS MB`, unit: 'MB', better: 'lower' },
        { key: 'heapRetainedMB', label: `initial sync ${cfg.rooms}x${cfg.events}, heap retained after GC MB`, unit: 'MB', better: 'lower' },
      ],
    },
    {
      name: 'sync-500', kind: 'worker', rooms: cfg.largeRooms, events: cfg.largeEvents,
      metrics: [
        { key: 'ms', label: `initial sync ${cfg.largeRooms}x${cfg.largeEvents}, ms to last event`, unit: 'ms', better: 'lower' },
        { key: 'peakRssMB', label: `initial sync ${cfg.largeRooms}x${cfg.largeEvents}, peak RSS MB`, unit: 'MB', better: 'lower' },
        { key: 'heapRetainedMB', label: `initial sync ${cfg.largeRooms}x${cfg.largeEvents}, heap retained after GC MB`, unit: 'MB', better: 'lower' },
      ],
    },
    {
      name: 'import', kind: 'import',
      metrics: [{ key: 'ms', label: `cold import, ms (median of ${cfg.importRuns} processes)`, unit: 'ms', better: 'lower' }],
    },
    // Media upload/download throughput and download memory: bench/media.mjs, its own section of the report.
    { name: 'media', kind: 'media', metrics: [] },
    {
      name: 'footprint', kind: 'footprint',
      metrics: [
        { key: 'packages', label: 'footprint, packages (production install)', unit: '', better: 'lower' },
        { key: 'diskMB', label: 'footprint, MB on disk (production install)', unit: 'MB', better: 'lower' },
      ],
    },
  ];
}

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function summarize(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}
