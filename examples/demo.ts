// `npm run demo`: two users talk in a new room on a homeserver, and the transcript is printed.
// It starts a throwaway local Synapse (the test harness's) unless MATRIX_BASE_URL is set.
import { rmSync } from 'node:fs';
import { MatrixSession } from 'matrix-session';
import { startSynapse, type SynapseHandle } from '../spec/harness/synapse';

async function main(): Promise<void> {
  let synapse: SynapseHandle | undefined;
  let baseUrl = process.env.MATRIX_BASE_URL;
  if (!baseUrl) {
    console.log('Starting a local Synapse…');
    synapse = await startSynapse();
    baseUrl = synapse.baseUrl;
    console.log(`Synapse ${synapse.version} is up at ${baseUrl}\n`);
  }
  try {
    const suffix = Date.now().toString(36);
    const alice = new MatrixSession({ baseUrl });
    const bob = new MatrixSession({ baseUrl });
    await alice.account.register({ username: `alice-${suffix}`, password: `demo-${suffix}-a` });
    await bob.account.register({ username: `bob-${suffix}`, password: `demo-${suffix}-b` });
    console.log(`Registered ${alice.userId} and ${bob.userId}`);

    const { room_id: roomId } = await alice.rooms.create({ name: 'Demo room', topic: 'matrix-session demo', invite: [bob.userId!] });
    await bob.rooms.join(roomId);
    console.log(`${alice.userId} created ${roomId} and ${bob.userId} joined\n`);

    const lines = ['Hello Bob!', 'This message went through matrix-session.', 'Bye for now.'];
    for (const line of lines) await alice.rooms.sendText(roomId, line);
    await bob.rooms.sendText(roomId, 'Got them all, thanks Alice!');

    // Bob reads the conversation back: first through one sync, then by paging history.
    const sync = await bob.sync.once({ filter: { room: { timeline: { limit: 20 } } } });
    const timeline = sync.rooms?.join?.[roomId]?.timeline?.events ?? [];
    console.log(`Bob's sync saw ${timeline.filter((e) => e.type === 'm.room.message').length} messages in the room.`);

    const page = await bob.rooms.messages(roomId, { dir: 'f', limit: 50 });
    console.log('\nTranscript (rooms.messages, oldest first):');
    for (const event of page.chunk) {
      if (event.type !== 'm.room.message') continue;
      const time = new Date(event.origin_server_ts).toISOString().slice(11, 19);
      console.log(`  [${time}] ${event.sender}: ${String(event.content.body)}`);
    }
    await Promise.all([alice.account.logout(), bob.account.logout()]);
    console.log('\nBoth users logged out.');
  } finally {
    if (synapse) {
      await synapse.stop();
      rmSync(synapse.dataDir, { recursive: true, force: true });
      console.log('Local Synapse stopped.');
    }
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
