import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { CryptoStoreLockedError } from './errors';

/** Lock files this process holds, so a second open in the same process is refused too. */
const heldHere = new Set<string>();

/**
 * Takes the store's lock file: created with O_EXCL and holding the owner's pid. A lock whose
 * pid no longer runs is stale (the owner crashed) and is taken over; a live owner, in this
 * process or another, gets CryptoStoreLockedError. Returns the release function.
 */
export function acquireLock(file: string): () => void {
  if (heldHere.has(file)) throw new CryptoStoreLockedError(file, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CryptoStoreLockedError(file, ownerOf(file));
        throw error;
      }
      const owner = ownerOf(file);
      if (owner !== undefined && owner !== process.pid && isRunning(owner)) throw new CryptoStoreLockedError(file, owner);
      // Stale (or unreadable, e.g. torn by a crash while being written): take it over.
      try {
        unlinkSync(file);
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError;
      }
    }
  }
  heldHere.add(file);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldHere.delete(file);
    try {
      if (ownerOf(file) === process.pid) unlinkSync(file);
    } catch {
      // Already gone: nothing to release.
    }
  };
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
