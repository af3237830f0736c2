// Scenario and metric definitions shared by run.mjs and the report.
// better: 'lower' | 'higher' (what "better" means for the metric).

/** The clients of the sync-scale scenarios: ours against the floor. */
export const SCALE_CLIENTS = ['session', 'floor'];
/** The scenario groups `--only` takes besides single names. */
export const GROUPS = { 'sync-scale': ['sync-5000', 'sync-soak', 'sync-gap'] };

const fmtCount = (n) => n.toLocaleString('en-US').replace(/,/g, ' ');

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
    // Sync at scale (`--only sync-scale` runs these three alone): matrix-session against the
    // floor only, reported in a section of their own with the heap trend of the soak.
    {
      name: 'sync-5000', kind: 'worker', group: 'sync-scale', workerScenario: 'sync', clients: SCALE_CLIENTS,
      rooms: cfg.scaleRooms, events: cfg.scaleEvents,
      metrics: [
        { key: 'ms', label: `initial sync ${cfg.scaleRooms}x${cfg.scaleEvents}, ms to last event`, unit: 'ms', better: 'lower' },
        { key: 'cpuMs', label: `initial sync ${cfg.scaleRooms}x${cfg.scaleEvents}, client CPU ms`, unit: 'ms', better: 'lower' },
        { key: 'peakRssMB', label: `initial sync ${cfg.scaleRooms}x${cfg.scaleEvents}, peak RSS MB`, unit: 'MB', better: 'lower' },
        { key: 'heapRetainedMB', label: `initial sync ${cfg.scaleRooms}x${cfg.scaleEvents}, heap retained after GC MB`, unit: 'MB', better: 'lower' },
      ],
    },
    {
      name: 'sync-soak', kind: 'worker', group: 'sync-scale', workerScenario: 'sync-soak', clients: SCALE_CLIENTS,
      metrics: [
        { key: 'ms', label: `soak ${fmtCount(cfg.soakEvents)} events (${cfg.soakBatch}/batch, ${cfg.soakRooms} rooms), ms`, unit: 'ms', better: 'lower' },
        { key: 'cpuMs', label: 'soak, client CPU ms', unit: 'ms', better: 'lower' },
        { key: 'peakRssMB', label: 'soak, peak RSS MB', unit: 'MB', better: 'lower' },
        { key: 'heapFirstMB', label: 'soak, heap after GC at the first sample MB', unit: 'MB', better: 'lower' },
        { key: 'heapLastMB', label: 'soak, heap after GC at the last sample MB', unit: 'MB', better: 'lower' },
        { key: 'heapSlopeKBPer100k', label: 'soak, heap trend KB per 100 000 events', unit: 'KB', better: 'lower', noRatio: true },
      ],
    },
    {
      name: 'sync-gap', kind: 'worker', group: 'sync-scale', workerScenario: 'sync-gap', clients: SCALE_CLIENTS,
      metrics: [
        { key: 'ms', label: `filling a ${fmtCount(cfg.gapEvents)}-event gap, ms from start to its last event`, unit: 'ms', better: 'lower' },
        { key: 'peakRssMB', label: 'gap, peak RSS MB', unit: 'MB', better: 'lower' },
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
