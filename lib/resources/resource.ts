import { NotLoggedInError } from '../core/errors';
import type { RequestCore } from '../core/request';
import type { MatrixSession } from '../session';

/**
 * Base of every endpoint group. It holds the session and its request core, both
 * protected, so a subclass can add endpoints through the same pipeline.
 */
export abstract class Resource {
  constructor(
    /** The session the group belongs to (other groups, events: `this.session.emit(...)`). */
    protected readonly session: MatrixSession,
    /** The session's request pipeline: `this.core.request(...)` for an endpoint of the group. */
    protected readonly core: RequestCore,
  ) {}

  /** The logged-in user's ID, for endpoints whose path names it. */
  protected get ownUserId(): string {
    const userId = this.core.credentials.userId;
    if (!userId) throw new NotLoggedInError('This call');
    return userId;
  }
}
