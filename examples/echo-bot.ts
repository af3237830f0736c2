// An echo bot, written as an app would write it (it imports the package by name):
//   MATRIX_BASE_URL=https://matrix.example.org MATRIX_USER=bot MATRIX_PASSWORD=… node echo-bot.js
// `npm run bot` runs it against a throwaway local Synapse, with a second user to talk to it.
import { FileSyncStore, MatrixSession } from 'matrix-session';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const session = new MatrixSession({ baseUrl: env('MATRIX_BASE_URL') });
  await session.account.loginWithPassword(env('MATRIX_USER'), env('MATRIX_PASSWORD'));
  const startedAt = Date.now();

  session.on('room.join', (roomId) => console.log(`bot: joined ${roomId}`));
  session.on('room.message', (_roomId, event) => {
    if (event.sender === session.userId || event.origin_server_ts < startedAt || event.content.msgtype !== 'm.text') return;
    console.log(`bot: ${event.sender} said "${String(event.content.body)}"`);
    // Events from the sync loop carry their room_id: they go to reply() as they are.
    return session.rooms.reply(event, `echo: ${String(event.content.body)}`).then(() => undefined);
  });
  session.on('sync.error', (error, { source }) => console.error(`bot: sync ${source}:`, error));

  const stop = () => void session.sync.stop().then(() => session.close());
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await session.sync.start({ autoJoin: true, store: new FileSyncStore(process.env.BOT_SYNC_STORE ?? './bot-sync.json') });
  console.log(`bot: ${session.userId} is listening`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
