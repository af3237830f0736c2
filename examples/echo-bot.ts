// An echo bot: MATRIX_URL=https://… MATRIX_USER=bot MATRIX_PASSWORD=… node echo-bot.js
import { MatrixSession } from '../lib';

async function main(): Promise<void> {
  const session = new MatrixSession({ baseUrl: process.env.MATRIX_URL! });
  await session.account.loginWithPassword(process.env.MATRIX_USER!, process.env.MATRIX_PASSWORD!);
  const startedAt = Date.now();
  session.on('room.message', (_roomId, event) => {
    if (event.sender === session.userId || event.origin_server_ts < startedAt || event.content.msgtype !== 'm.text') return;
    return session.rooms.reply(event, `echo: ${event.content.body}`); // loop events carry their room_id
  });
  session.on('sync.error', (error, { source }) => console.error(`sync ${source}:`, error));
  process.once('SIGINT', () => void session.sync.stop().then(() => session.close()));
  await session.sync.start({ autoJoin: true });
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
