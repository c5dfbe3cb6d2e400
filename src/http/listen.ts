import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

/**
 * Listens on `port` and resolves with the server once it does, or rejects with why it cannot (a port
 * in use says so and what to do). express 5 hands a listen error to the callback instead of throwing,
 * so a server that never listened would otherwise go on as if it did.
 */
export function listen(app: Express, port: number, what: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, (err?: Error) => {
      if (!err) return resolve(server);
      const code = (err as NodeJS.ErrnoException).code;
      reject(
        code === 'EADDRINUSE'
          ? new Error(`${what} cannot listen on port ${port}: it is in use (another instance?); stop that process or set another port`)
          : err,
      );
    });
  });
}

/** Stops accepting connections, closes idle ones and waits for the requests in flight. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** The port a listening server got (the one asked for, or the one the system chose for 0). */
export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
