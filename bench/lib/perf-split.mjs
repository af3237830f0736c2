// Splits `perf script` output (perf record -g of a node process run with --perf-basic-prof)
// into buckets: which layer of the stack each on-CPU sample belongs to. Kernel and native
// samples are charged to the JavaScript that caused them (a socket write under node:net
// is node:http; a timer or an AbortSignal our code made is ours), as follows, from the leaf
// up to the root:
//   - a V8 garbage-collection frame anywhere in the chain           -> gc
//   - the first JavaScript frame that is
//       node's HTTP / net / stream internals                        -> node:http
//       node_modules/axios                                           -> axios
//       another package                                              -> deps
//       dist/ (matrix-session)                                       -> ours
//       bench/                                                       -> bench
//     (other node internals: events, timers, promises, AbortSignal, EventTarget, the
//      microtask queue, are passed over: they are charged to whoever called them)
//   - no JavaScript frame: libuv's event loop (epoll, timers)        -> node:http
//                          anything else                              -> v8/native
// Samples of other threads (V8's GC helpers, libuv's pool) go to `other threads`.

const TRANSPORT = /^node:(_http_|http$|https$|net$|stream$|_stream_|dns$|internal\/(streams|http|net|stream_base_commons|dns|url|js_stream_socket))/;
const GC = /(Heap::(Collect|PerformGarbageCollection|Scavenge)|Scavenger|MarkCompact|MinorMC|ConcurrentMarking|IncrementalMarking|GCTracer|Sweeper)/;

function jsBucket(sym) {
  // "JS:*mergeConfig /path/node_modules/axios/dist/node/axios.cjs:5484:21" or "JS:~emit node:events:471:44"
  const m = /^JS:[*~^]?\S*\s+(.*)$/.exec(sym) || /^(?:LazyCompile|Function|Builtin):[*~]?\S*\s+(.*)$/.exec(sym);
  if (!m) return null;
  const where = m[1];
  if (where.startsWith('node:')) return TRANSPORT.test(where) ? 'node:http' : 'skip';
  if (where.includes('/node_modules/axios/')) return 'axios';
  if (where.includes('/node_modules/')) return 'deps';
  if (where.includes('/bench/')) return 'bench';
  if (where.includes('/dist/') || where.includes('/lib/')) return 'ours';
  return 'skip';
}

/**
 * @param text `perf script -F comm,pid,tid,period,ip,sym` output
 * @returns buckets in ns of CPU time (the cpu-clock period of each sample), the same for
 *          the heaviest leaves (for a look at what is inside a bucket)
 */
export function splitPerfScript(text, { pid } = {}) {
  const buckets = {};
  const leafCount = new Map();
  const fnCount = new Map();
  let samples = 0;
  let totalNs = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim());
    if (!lines.length) continue;
    const head = /^\s*(.+?)\s+(\d+)\/(\d+)\s+(\d+)\s*$/.exec(lines[0]);
    if (!head) continue;
    const p = Number(head[2]);
    const tid = Number(head[3]);
    const ns = Number(head[4]);
    if (pid && p !== pid) continue;
    samples++;
    totalNs += ns;
    const frames = lines.slice(1).map((l) => l.trim().replace(/^[0-9a-f]+\s+/, ''));
    let bucket;
    let decidedBy = '';
    if (tid !== p) bucket = 'other threads';
    else if (frames.some((f) => GC.test(f))) bucket = 'gc';
    else {
      for (const f of frames) {
        const b = jsBucket(f);
        if (b && b !== 'skip') { bucket = b; decidedBy = f; break; }
      }
      if (!bucket) bucket = frames.some((f) => /uv_run|uv__io_poll|uv__run_timers|epoll_wait/.test(f)) ? 'node:http' : 'v8/native';
    }
    buckets[bucket] = (buckets[bucket] || 0) + ns;
    const leafJs = frames.find((f) => f.startsWith('JS:')) || '';
    const key = `${bucket.padEnd(13)} ${(frames[0] || '?').slice(0, 50).padEnd(50)} <- ${leafJs.replace(/^JS:\S*\s/, '').replace(/^.*\/(node_modules|dist|bench)\//, '$1/').slice(0, 70)}`;
    leafCount.set(key, (leafCount.get(key) || 0) + ns);
    const fnKey = `${bucket.padEnd(13)} ${decidedBy.replace(/^JS:\S*?([^\s*~^]*)\s/, '$1 ').replace(/^(\S*) .*\/(node_modules|dist|bench)\//, '$1 $2/') || '-'}`;
    fnCount.set(fnKey, (fnCount.get(fnKey) || 0) + ns);
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 80);
  return { buckets, samples, totalNs, top: sorted(leafCount), topFunctions: sorted(fnCount) };
}
