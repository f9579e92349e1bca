/**
 * A client of the worker: one ZooKeeper session at a time. When a session expires the client reports it and opens
 * a new one, as kazoo and Curator do, so the workload can go on; a recipe keeps using the Session it started with,
 * because its ephemeral nodes belong to that session alone.
 */
import type { WorkerEvent } from '../../protocol.ts';
import { formatSessionId } from '../../../ground/history.ts';
import { deferred } from './wait.ts';
import { newZkHandle, ZOO_EXPIRED_SESSION_STATE, type ZkHandle } from '../../../ground/zk.ts';

/** One session: a C-client handle from its first connection to its expiry (or our close). */
export class Session {
  readonly handle: ZkHandle;
  /** "0x" + hex once connected. */
  id = '0x0';
  connected = false;
  ended = false;
  /** Resolves when the session is over: expired, closed by us, or given up by the C client. */
  private readonly end = deferred();
  readonly whenEnded = this.end.promise;
  private stateChange = deferred();

  constructor(connect: string, sessionTimeoutMs: number, events: SessionListener) {
    this.handle = newZkHandle(connect, sessionTimeoutMs);
    this.handle.on('connect', () => {
      this.id = formatSessionId(this.handle.client_id);
      this.setState(true);
      events.connected(this);
    });
    this.handle.on('connecting', () => {
      if (!this.connected) return;
      this.setState(false);
      events.disconnected(this);
    });
    this.handle.on('close', (_handle, code) => {
      this.ended = true;
      this.setState(false);
      this.end.resolve();
      if (code !== 0) events.ended(this, code);
    });
    this.handle.init({});
  }

  /** Waits until the session is connected or over. */
  async untilConnected(): Promise<'connected' | 'gone'> {
    while (!this.ended && !this.connected) await this.stateChange.promise;
    return this.ended ? 'gone' : 'connected';
  }

  close(): void {
    if (!this.ended) this.handle.close();
  }

  private setState(connected: boolean): void {
    this.connected = connected;
    const change = this.stateChange;
    this.stateChange = deferred();
    change.resolve();
  }
}

interface SessionListener {
  connected(session: Session): void;
  disconnected(session: Session): void;
  /** The session ended without us closing it; code is the C client's state (-112: expired). */
  ended(session: Session, code: number): void;
}

/** A client id of the protocol, with its current session. */
export class LockClient {
  current: Session;
  private closing = false;

  constructor(
    readonly id: string,
    private readonly connect: string,
    private readonly sessionTimeoutMs: number,
    private readonly report: (event: WorkerEvent) => void,
    private readonly onSessionEnded: (session: Session) => void,
  ) {
    this.current = this.openSession();
  }

  close(): void {
    this.closing = true;
    this.current.close();
  }

  private openSession(): Session {
    return new Session(this.connect, this.sessionTimeoutMs, {
      connected: (session) => this.report({ type: 'event', client: this.id, event: 'connected', session: session.id }),
      disconnected: (session) => this.report({ type: 'event', client: this.id, event: 'disconnected', session: session.id }),
      ended: (session, code) => {
        const why = code === ZOO_EXPIRED_SESSION_STATE ? 'expired' : `ended with state ${code}`;
        console.error(`client ${this.id}: session ${session.id} ${why}`);
        this.report({ type: 'event', client: this.id, event: 'expired', session: session.id });
        this.onSessionEnded(session);
        if (!this.closing) this.current = this.openSession();
      },
    });
  }
}
