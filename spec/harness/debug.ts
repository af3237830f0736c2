// Diagnostics of the test harness (which Synapse, where its data is, how long it took to start).
// A passing run prints none of it: set MATRIX_TEST_DEBUG=1 to see it on stderr. Failures
// report their own context (Synapse's log tail, the request that failed) regardless.
export function debug(line: string): void {
  if (process.env.MATRIX_TEST_DEBUG) process.stderr.write(`${line}\n`);
}
